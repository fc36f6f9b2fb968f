"""Small builders for tests: a tenant with departments and products, through the real tenancy API."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
from nats.js.api import DeliverPolicy
from nats.js.client import JetStreamContext

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common.events import STREAM

UPL = "http://standaarden.overheid.nl/owms/terms/"
Metadata = tuple[tuple[str, str], ...]


async def make_tenant(
    channel: grpc.aio.Channel,
    admin: Metadata,
    tenant: str,
    name: str,
    products: list[tuple[str, str, str]],
    short_number: str = "",
) -> None:
    """products: (slug, display name, department id); departments are created as needed, `algemeen` is fallback."""
    stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
    await stub.CreateTenant(
        tp.CreateTenantRequest(tenant_id=tenant, tenant=tp.Tenant(display_name=name)), metadata=admin
    )
    for department in sorted({d for _s, _n, d in products} | {"algemeen"}):
        await stub.CreateDepartment(
            tp.CreateDepartmentRequest(
                parent=f"tenants/{tenant}",
                department_id=department,
                department=tp.Department(display_name=department.title(), fallback=department == "algemeen"),
            ),
            metadata=admin,
        )
    for slug, display, department in products:
        await stub.CreateProduct(
            tp.CreateProductRequest(
                parent=f"tenants/{tenant}",
                product_id=slug,
                product=tp.Product(
                    upl_uri=UPL + slug,
                    display_name=display,
                    department=f"tenants/{tenant}/departments/{department}",
                    handling=common_pb2.HANDLING_FIRST_LINE,
                    enabled=True,
                ),
            ),
            metadata=admin,
        )
    if short_number:
        await stub.CreateEntryPoint(
            tp.CreateEntryPointRequest(
                parent=f"tenants/{tenant}",
                entry_point_id="algemeen-nummer",
                entry_point=tp.EntryPoint(kind=tp.EntryPoint.KIND_PHONE_NUMBER, value=short_number),
            ),
            metadata=admin,
        )


async def eventually(check: Callable[[], object], within: float = 10.0) -> None:
    """Waits until `check()` is truthy; for state that travels through events."""
    deadline = asyncio.get_running_loop().time() + within
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def routable(channel: grpc.aio.Channel, admin: Metadata, tenant: str, probe: str = "paspoort") -> None:
    """Waits until routing's snapshot of the tenant holds its catalogue (`probe` names one of its products)."""
    stub = routing_pb2_grpc.RoutingServiceStub(channel)
    for _ in range(200):
        try:
            reply = await stub.ClassifyQuestion(
                rt.ClassifyQuestionRequest(tenant=f"tenants/{tenant}", question=probe), metadata=admin
            )
            if reply.products:
                return
        except grpc.RpcError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError(f"{tenant} never became routable")


async def stored_events(js: JetStreamContext, subject: str) -> list[events_pb2.Envelope]:
    """Every event the stream holds on `subject`, read up to the last one stored: no waiting for a quiet moment."""
    info = await js.stream_info(STREAM, subjects_filter=subject)
    if not info.state.subjects:
        return []
    sub = await js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    out: list[events_pb2.Envelope] = []
    try:
        while True:
            msg = await sub.next_msg(timeout=10)
            out.append(events_pb2.Envelope.FromString(msg.data))
            if msg.metadata.num_pending == 0:
                return out
    finally:
        await sub.unsubscribe()


async def consumers_caught_up(js: JetStreamContext) -> bool:
    """Whether every consumer of the stream has been given all it asked for and acknowledged it
    (a durable consumer acks once its database holds the work): the positive sign of a quiet platform."""
    return all(not c.num_pending and not c.num_ack_pending for c in await js.consumers_info(STREAM))
