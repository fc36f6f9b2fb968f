"""One limit per field, the validator's, on every service: the same answer whichever code checks it."""

from __future__ import annotations

from collections.abc import Callable

import grpc
import pytest

from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common.app import ServiceApp
from services.common.errors import field_violations
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import make_tenant, routable

Metadata = tuple[tuple[str, str], ...]


async def violation(call: grpc.aio.UnaryUnaryCall) -> dict[str, str]:  # type: ignore[type-arg]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, caught.value.details()
    return field_violations(caught.value)


async def test_a_question_has_one_limit(
    tenancy: TenancyApp, routing: RoutingApp, admin: Metadata, channel_to: Callable[[ServiceApp], grpc.aio.Channel]
) -> None:
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "Paspoort", "burgerzaken")])
    channel = channel_to(routing)
    await routable(channel, admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel)

    answers = [
        await violation(
            stub.ClassifyQuestion(rt.ClassifyQuestionRequest(tenant="tenants/gm0268", question="a" * n), metadata=admin)
        )
        for n in (2001, 4001)
    ]

    assert answers == [{"question": "at most 2000 characters"}] * 2


async def test_tenancy_strings_are_limited_before_they_reach_a_column(
    tenancy: TenancyApp, admin: Metadata, channel_to: Callable[[ServiceApp], grpc.aio.Channel]
) -> None:
    stub = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy))
    long_name = await violation(
        stub.CreateTenant(
            tp.CreateTenantRequest(tenant_id="gm0268", tenant=tp.Tenant(display_name="N" * 201)), metadata=admin
        )
    )
    assert long_name == {"tenant.display_name": "at most 200 characters"}
    await stub.CreateTenant(
        tp.CreateTenantRequest(tenant_id="gm0268", tenant=tp.Tenant(display_name="Nijmegen")), metadata=admin
    )
    long_target = await violation(
        stub.CreateSlaPolicy(
            tp.CreateSlaPolicyRequest(
                parent="tenants/gm0268", sla_policy_id="default", sla_policy=tp.SlaPolicy(escalation_target="x" * 256)
            ),
            metadata=admin,
        )
    )
    assert list(long_target) == ["sla_policy.escalation_target"]
