"""The trafficer's steering in routing: UpdateAgent and SetOverflowThreshold, over real gRPC and NATS,
and overflow counted both ways (out at the contact's gemeente, in at the answering pool's).

Agents in these gemeenten take overflow once a contact has waited the answer target (20 s by
default); a threshold set for today shortens that for contacts already waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest
from google.protobuf import field_mask_pb2

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client
from services.common.app import ServiceApp
from services.common.config import Settings
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import Metadata, make_tenant, routable

NIJMEGEN, ARNHEM = "gm0268", "gm0202"
PRODUCTS = [("paspoort", "paspoort", "burgerzaken")]


@pytest.fixture
async def stub(
    tenancy: TenancyApp,
    routing: RoutingApp,
    admin: Metadata,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
) -> routing_pb2_grpc.RoutingServiceStub:
    for tenant, name in ((NIJMEGEN, "Nijmegen"), (ARNHEM, "Arnhem")):
        await make_tenant(channel_to(tenancy), admin, tenant, name, PRODUCTS)
        await routable(channel_to(routing), admin, tenant)
    return routing_pb2_grpc.RoutingServiceStub(channel_to(routing))


async def test_a_threshold_for_today_lets_another_pool_take_a_waiting_contact(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, admin: Metadata
) -> None:
    await stub.CreateAgent(
        rt.CreateAgentRequest(
            agent_id="fatima", agent=rt.Agent(tenants=[f"tenants/{NIJMEGEN}"], overflow_tenants=[f"tenants/{ARNHEM}"])
        ),
        metadata=admin,
    )
    waiting = await stub.RouteContact(
        rt.RouteContactRequest(
            tenant=f"tenants/{ARNHEM}", channel=common_pb2.CHANNEL_PHONE, question="paspoort", citizen_key="k1"
        ),
        metadata=admin,
    )
    agent_md = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, [NIJMEGEN, ARNHEM]))
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=agent_md)
    try:
        await desktop.read()  # her own state; the Arnhem contact has waited far less than 20 s
        trafficer = client.metadata(auth.issue_token(settings.auth_secret, "trafficer", auth.Role.PLATFORM_ADMIN))
        answer = await stub.SetOverflowThreshold(
            rt.SetOverflowThresholdRequest(tenant=f"tenants/{ARNHEM}", seconds=1), metadata=trafficer
        )
        assert answer.seconds == 1 and answer.expire_time.seconds > 0
        message = await asyncio.wait_for(desktop.read(), 10)  # the leader's next tick after 1 s of waiting
        assert message.offer.contact.name == waiting.contact.name and message.offer.contact.overflowed
        stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{ARNHEM}"), metadata=admin)
        assert {q.overflow_threshold_seconds for q in stats.queues} == {1}
        assert [(q.queue, q.overflowed, q.overflowed_in) for q in stats.queues] == [("burgerzaken", 1, 0)]
        home = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{NIJMEGEN}"), metadata=admin)
        assert [(q.queue, q.waiting, q.overflowed, q.overflowed_in) for q in home.queues] == [("burgerzaken", 0, 0, 1)]

        back = await stub.SetOverflowThreshold(
            rt.SetOverflowThresholdRequest(tenant=f"tenants/{ARNHEM}", seconds=0), metadata=trafficer
        )
        assert back.seconds == 0
        stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{ARNHEM}"), metadata=admin)
        assert {q.overflow_threshold_seconds for q in stats.queues} == {0}
    finally:
        desktop.cancel()


async def test_bad_thresholds_and_callers_are_refused(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, admin: Metadata
) -> None:
    for seconds in (-1, 3601):
        with pytest.raises(grpc.RpcError) as err:
            await stub.SetOverflowThreshold(
                rt.SetOverflowThresholdRequest(tenant=f"tenants/{ARNHEM}", seconds=seconds), metadata=admin
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        await stub.SetOverflowThreshold(
            rt.SetOverflowThresholdRequest(tenant="tenants/gm9999", seconds=5), metadata=admin
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    partner = client.metadata(auth.issue_token(settings.auth_secret, "arnhem", auth.Role.TENANT_INTEGRATION, [ARNHEM]))
    with pytest.raises(grpc.RpcError) as err:
        await stub.SetOverflowThreshold(
            rt.SetOverflowThresholdRequest(tenant=f"tenants/{ARNHEM}", seconds=5), metadata=partner
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_update_agent_moves_its_gemeenten_and_refuses_what_it_cannot_change(
    stub: routing_pb2_grpc.RoutingServiceStub, admin: Metadata
) -> None:
    await stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="sam", agent=rt.Agent(tenants=[f"tenants/{NIJMEGEN}"], languages=["nl"])),
        metadata=admin,
    )
    moved = await stub.UpdateAgent(
        rt.UpdateAgentRequest(
            agent=rt.Agent(name="agents/sam", tenants=[f"tenants/{ARNHEM}"], overflow_tenants=[f"tenants/{NIJMEGEN}"]),
            update_mask=field_mask_pb2.FieldMask(paths=["tenants", "overflow_tenants"]),
        ),
        metadata=admin,
    )
    assert list(moved.tenants) == [f"tenants/{ARNHEM}"] and list(moved.overflow_tenants) == [f"tenants/{NIJMEGEN}"]
    assert list(moved.languages) == ["nl"], "fields outside the mask stay"
    read = await stub.GetAgent(rt.GetAgentRequest(name="agents/sam"), metadata=admin)
    assert (list(read.tenants), list(read.overflow_tenants)) == ([f"tenants/{ARNHEM}"], [f"tenants/{NIJMEGEN}"])
    for request in (
        rt.UpdateAgentRequest(
            agent=rt.Agent(name="agents/sam", tenants=[]), update_mask=field_mask_pb2.FieldMask(paths=["tenants"])
        ),
        rt.UpdateAgentRequest(
            agent=rt.Agent(name="agents/sam", languages=["en"]),
            update_mask=field_mask_pb2.FieldMask(paths=["languages"]),
        ),
        rt.UpdateAgentRequest(
            agent=rt.Agent(name="agents/sam", tenants=["gm0202"]),
            update_mask=field_mask_pb2.FieldMask(paths=["tenants"]),
        ),
    ):
        with pytest.raises(grpc.RpcError) as err:
            await stub.UpdateAgent(request, metadata=admin)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as err:
        await stub.UpdateAgent(
            rt.UpdateAgentRequest(
                agent=rt.Agent(name="agents/nobody", tenants=[f"tenants/{ARNHEM}"]),
                update_mask=field_mask_pb2.FieldMask(paths=["tenants"]),
            ),
            metadata=admin,
        )
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
