"""The walking skeleton end to end: tenancy -> RouteContact -> contact.routed -> CreateCallback ->
callback.requested -> the department's worklist, with one trace across gRPC, NATS and the consumer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from nats.js.api import DeliverPolicy

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.common import auth, client
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import free_port
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, eventually, make_tenant, routable
from tests.conftest import SPANS
from tests.support.processes import start_routing


@pytest.fixture
async def callbacks(settings: Settings, tenancy: TenancyApp) -> AsyncIterator[CallbacksApp]:
    """A running callbacks service."""
    app = CallbacksApp(settings)
    await app.start(0)
    yield app
    await app.stop()


async def next_event(routing: RoutingApp, subject: str) -> events_pb2.Envelope:
    sub = await routing.bus.js.subscribe(subject, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    msg = await sub.next_msg(timeout=10)
    await sub.unsubscribe()
    return events_pb2.Envelope.FromString(msg.data)


def spans_named(name: str) -> list:  # type: ignore[type-arg]
    return [s for s in SPANS.get_finished_spans() if s.name == name]


async def test_slice_through_all_three_services_with_one_trace(
    settings: Settings, tenancy: TenancyApp, routing: RoutingApp, callbacks: CallbacksApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    await routable(channel_to(routing), admin, "gm0268")
    partner = client.metadata(
        auth.issue_token(settings.auth_secret, "nijmegen", auth.Role.TENANT_INTEGRATION, ["gm0268"])
    )
    routing_stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
    callbacks_stub = callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks))

    decision = await routing_stub.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="paspoort verlengen"
        ),
        metadata=partner,
    )
    assert decision.contact.product_uri == UPL + "paspoort"
    routed = await next_event(routing, "kcc.gm0268.contact.routed")
    assert routed.contact_routed.contact == decision.contact.name and routed.tenant == "gm0268"

    SPANS.clear()
    created = await callbacks_stub.CreateCallback(
        cb.CreateCallbackRequest(
            parent="tenants/gm0268",
            callback=cb.Callback(
                department="tenants/gm0268/departments/burgerzaken",
                product_uri=UPL + "paspoort",
                contact=decision.contact.name,
                phone_number="06 12345678",
                note="wil graag na 14:00 gebeld worden",
            ),
            request_id="slice-1",
        ),
        metadata=partner,
    )
    requested = await next_event(routing, "kcc.gm0268.callback.requested")
    assert requested.callback_changed.callback == created.name
    assert b"612345678" not in requested.SerializeToString()  # no phone number in events
    worklist = await callbacks_stub.ListCallbacks(
        cb.ListCallbacksRequest(parent="tenants/gm0268", department="tenants/gm0268/departments/burgerzaken"),
        metadata=partner,
    )
    assert [c.name for c in worklist.callbacks] == [created.name]

    # one trace: the gRPC call, the outbox relay's publish, routing's consumer of the event
    await eventually(lambda: spans_named("kcc.gm0268.callback.requested process"))
    (server,) = spans_named("kcc.callbacks.v1.CallbackService/CreateCallback")
    (producer,) = spans_named("kcc.gm0268.callback.requested publish")
    consumer = spans_named("kcc.gm0268.callback.requested process")[0]
    trace_ids = {server.context.trace_id, producer.context.trace_id, consumer.context.trace_id}
    assert len(trace_ids) == 1 and server.context.trace_id != 0
    assert consumer.parent.span_id == producer.context.span_id
    # and routing now knows the citizen has an open callback
    await eventually(lambda: len(routing.state.repeats) == 1)
    await asyncio.sleep(0)


async def test_a_service_that_exports_no_spans_still_carries_the_callers_trace(
    settings: Settings, tenancy: TenancyApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """With KCC_TELEMETRY=none routing records no spans (cheaper) but passes the trace context on."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    port = free_port()
    proc = await start_routing(settings, port, {"KCC_TELEMETRY": "none"})
    trace_id, parent_span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    try:
        async with client.grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            await routable(channel, admin, "gm0268")
            reply = await routing_pb2_grpc.RoutingServiceStub(channel).RouteContact(
                rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="paspoort"),
                metadata=(*admin, ("traceparent", f"00-{trace_id}-{parent_span}-01")),
            )
        bus = await EventBus.connect(settings, "test-reader")
        sub = await bus.js.subscribe(
            "kcc.gm0268.contact.routed", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
        )
        msg = await sub.next_msg(timeout=10)
        await bus.close()
    finally:
        proc.kill()
        proc.wait()
    assert events_pb2.Envelope.FromString(msg.data).contact_routed.contact == reply.contact.name
    assert msg.headers is not None and msg.headers["traceparent"].split("-")[1] == trace_id


async def test_a_department_made_a_moment_ago_takes_a_callback_the_next_moment(
    settings: Settings, tenancy: TenancyApp, callbacks: CallbacksApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """Tenancy answers once the change is in the snapshot bucket; callbacks, which says at once that a
    department the bucket does not hold does not exist, then finds the new one."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [])
    await eventually(lambda: callbacks.snapshots.get("gm0268") is not None)
    await tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy)).CreateDepartment(
        tp.CreateDepartmentRequest(
            parent="tenants/gm0268", department_id="sport", department=tp.Department(display_name="Sport")
        ),
        metadata=admin,
    )
    made = await callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks)).CreateCallback(
        cb.CreateCallbackRequest(
            parent="tenants/gm0268",
            callback=cb.Callback(department="tenants/gm0268/departments/sport", phone_number="+31612345678"),
        ),
        metadata=admin,
    )
    assert made.department == "tenants/gm0268/departments/sport"
