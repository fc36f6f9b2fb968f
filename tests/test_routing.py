"""Routing through the real gRPC servers, a real nats-server and tenancy snapshots in JetStream KV."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf import field_mask_pb2

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import auth, client, events
from services.common.errors import error_info
from services.routing.app import RoutingApp
from services.routing.matching import OFFER_TIMEOUT_SECONDS
from services.tenancy.app import TenancyApp
from tests.builders import UPL, eventually, make_tenant, routable

PRODUCTS = [
    ("paspoort", "paspoort", "burgerzaken"),
    ("rijbewijs", "rijbewijs", "burgerzaken"),
    ("verhuismelding", "verhuismelding", "burgerzaken"),
    ("afvalstoffenheffing", "afvalstoffenheffing", "belastingen"),
]


@pytest.fixture
async def stubs(tenancy: TenancyApp, routing: RoutingApp, channel_to, admin):  # type: ignore[no-untyped-def]
    """Nijmegen (14 024) and Arnhem onboarded; returns (tenancy stub, routing stub)."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", PRODUCTS, short_number="14024")
    await make_tenant(channel_to(tenancy), admin, "gm0202", "Arnhem", PRODUCTS)
    await routable(channel_to(routing), admin, "gm0268")
    await routable(channel_to(routing), admin, "gm0202")
    return (
        tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy)),
        routing_pb2_grpc.RoutingServiceStub(channel_to(routing)),
    )


def integration(settings, tenant: str):  # type: ignore[no-untyped-def]
    return client.metadata(
        auth.issue_token(settings.auth_secret, f"{tenant}-int", auth.Role.TENANT_INTEGRATION, [tenant])
    )


def agent_md(settings, agent_id: str, tenants: list[str]):  # type: ignore[no-untyped-def]
    return client.metadata(auth.issue_token(settings.auth_secret, agent_id, auth.Role.AGENT, tenants))


async def test_route_by_entry_point_question_ivr_and_explicit_product(stubs, settings) -> None:  # type: ignore[no-untyped-def]
    tenancy, routing = stubs
    md = integration(settings, "gm0268")
    by_question = await routing.RouteContact(
        rt.RouteContactRequest(
            entry_point=rt.EntryPointRef(kind=1, value="14 024"),
            channel=common_pb2.CHANNEL_PHONE,
            question="Mijn paspoord is verlopen",
        ),
        metadata=md,
    )
    c = by_question.contact
    assert by_question.recognised and c.tenant == "tenants/gm0268"
    assert c.product_uri == UPL + "paspoort" and c.queue == "burgerzaken"
    assert c.department == "tenants/gm0268/departments/burgerzaken"
    assert (c.service_level_target.seconds, c.service_level_target.percent) == (20, 80)
    assert by_question.candidates[0].uri == UPL + "paspoort"

    explicit = await routing.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_EMAIL, product_uri=UPL + "afvalstoffenheffing"
        ),
        metadata=md,
    )
    assert explicit.contact.queue == "belastingen" and explicit.contact.priority == 1

    await tenancy.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(name="tenants/gm0268/products/rijbewijs", ivr_codes=["2"]),
            update_mask=field_mask_pb2.FieldMask(paths=["ivr_codes"]),
        ),
        metadata=client.metadata(auth.issue_token(settings.auth_secret, "admin", auth.Role.PLATFORM_ADMIN)),
    )

    async def by_ivr() -> str:
        reply = await routing.RouteContact(
            rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, ivr_code="2"), metadata=md
        )
        return reply.contact.product_uri

    for _ in range(100):
        if await by_ivr() == UPL + "rijbewijs":
            break
        await asyncio.sleep(0.05)
    assert await by_ivr() == UPL + "rijbewijs"


async def test_unrecognised_question_falls_back_to_general_queue(stubs, settings) -> None:  # type: ignore[no-untyped-def]
    _, routing = stubs
    reply = await routing.RouteContact(
        rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_CHAT, question="qwxz blorp"),
        metadata=integration(settings, "gm0268"),
    )
    assert not reply.recognised and reply.contact.queue == "algemeen" and reply.contact.product_uri == ""


async def test_catalogue_change_reaches_routing_without_restart(stubs, settings, admin) -> None:  # type: ignore[no-untyped-def]
    tenancy, routing = stubs
    md = integration(settings, "gm0268")
    request = rt.RouteContactRequest(
        tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "rijbewijs"
    )
    assert (await routing.RouteContact(request, metadata=md)).contact.queue == "burgerzaken"
    await tenancy.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(
                name="tenants/gm0268/products/rijbewijs", department="tenants/gm0268/departments/belastingen"
            ),
            update_mask=field_mask_pb2.FieldMask(paths=["department"]),
        ),
        metadata=admin,
    )
    for _ in range(100):
        if (await routing.RouteContact(request, metadata=md)).contact.queue == "belastingen":
            break
        await asyncio.sleep(0.05)
    assert (await routing.RouteContact(request, metadata=md)).contact.queue == "belastingen"


async def test_retried_route_with_request_id_queues_once(stubs, settings, routing: RoutingApp) -> None:  # type: ignore[no-untyped-def]
    _, stub = stubs
    request = rt.RouteContactRequest(
        tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort", request_id="call-1"
    )
    first = await stub.RouteContact(request, metadata=integration(settings, "gm0268"))
    second = await stub.RouteContact(request, metadata=integration(settings, "gm0268"))
    assert first.contact.name == second.contact.name
    assert routing.state.router.figures[("gm0268", "burgerzaken")].offered == 1


async def test_tenant_integration_cannot_route_for_another_tenant(stubs, settings) -> None:  # type: ignore[no-untyped-def]
    _, routing = stubs
    for tenant in ("gm0268", "gm9999"):  # existing and non-existing: the same answer
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await routing.RouteContact(
                rt.RouteContactRequest(
                    tenant=f"tenants/{tenant}", channel=common_pb2.CHANNEL_PHONE, question="paspoort"
                ),
                metadata=integration(settings, "gm0202"),
            )
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await routing.RouteContact(
            rt.RouteContactRequest(tenant="tenants/gm0202", question="paspoort"),
            metadata=integration(settings, "gm0202"),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    info = error_info(err.value)
    assert info is not None and info.reason == "INVALID_ARGUMENT"


async def test_agent_desktop_receives_offer_accepts_and_completes(stubs, settings, admin) -> None:  # type: ignore[no-untyped-def]
    _, routing = stubs
    await routing.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    md = agent_md(settings, "fatima", ["gm0268"])
    desktop = routing.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    hello = await desktop.read()
    assert hello.agent.state == rt.Agent.STATE_AVAILABLE
    routed = await routing.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="rijbewijs verlengen"
        ),
        metadata=integration(settings, "gm0268"),
    )
    offer = await asyncio.wait_for(desktop.read(), 5)
    assert offer.offer.contact.name == routed.contact.name
    accepted = await routing.AcceptOffer(
        rt.AcceptOfferRequest(agent="agents/fatima", contact=routed.contact.name), metadata=md
    )
    assert accepted.state == rt.Contact.STATE_CONNECTED
    done = await routing.CompleteContact(
        rt.CompleteContactRequest(agent="agents/fatima", contact=routed.contact.name, outcome="answered"), metadata=md
    )
    assert done.state == rt.Contact.STATE_COMPLETED
    stats = await routing.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
    (queue,) = [q for q in stats.queues if q.queue == "burgerzaken"]
    assert (queue.answered, queue.answered_within_target, queue.waiting) == (1, 1, 0)
    # another agent may not act for fatima
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await routing.SetAgentState(
            rt.SetAgentStateRequest(name="agents/fatima", state=rt.Agent.STATE_BREAK),
            metadata=agent_md(settings, "kees", ["gm0268"]),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    desktop.cancel()


async def test_an_offer_made_while_the_desktop_connects_arrives_once(  # type: ignore[no-untyped-def]
    stubs, settings, admin, routing: RoutingApp, monkeypatch
) -> None:
    """The matcher may offer before the connect handler resumes (seen on a slow CI machine): the
    offer then sits in the desktop's queue and the handler must not send it a second time."""
    _, stub = stubs
    await stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    first, second = [
        await stub.RouteContact(
            rt.RouteContactRequest(
                tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + product
            ),
            metadata=integration(settings, "gm0268"),
        )
        for product in ("paspoort", "rijbewijs")
    ]
    agent_change = routing.servicer._agent_change

    async def connect_slowly(agent: str, change: str, state: int = 0, session: str = "") -> None:
        await agent_change(agent, change, state, session)
        if change == "connected":  # resume only once the matcher's offer has been applied here
            await eventually(lambda: routing.state.router.agents[agent].offer)

    monkeypatch.setattr(routing.servicer, "_agent_change", connect_slowly)
    md = agent_md(settings, "fatima", ["gm0268"])
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    await desktop.read()
    for routed in (first, second):
        message = await asyncio.wait_for(desktop.read(), 5)
        assert message.offer.contact.name == routed.contact.name
        await stub.AcceptOffer(rt.AcceptOfferRequest(agent="agents/fatima", contact=routed.contact.name), metadata=md)
        await stub.CompleteContact(
            rt.CompleteContactRequest(agent="agents/fatima", contact=routed.contact.name, outcome="ok"), metadata=md
        )
    desktop.cancel()


async def test_reject_and_timeout_move_the_offer_on(stubs, settings, admin, routing: RoutingApp) -> None:  # type: ignore[no-untyped-def]
    _, stub = stubs
    desktops = {}
    for name in ("anna", "bert"):
        await stub.CreateAgent(
            rt.CreateAgentRequest(agent_id=name, agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
        desktops[name] = stub.ConnectAgent(
            rt.ConnectAgentRequest(name=f"agents/{name}"), metadata=agent_md(settings, name, ["gm0268"])
        )
        await desktops[name].read()  # connected: anna's event is stored before bert's, so she is idle longest
    routed = await stub.RouteContact(
        rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort"),
        metadata=integration(settings, "gm0268"),
    )
    first = await asyncio.wait_for(desktops["anna"].read(), 5)
    assert first.offer.contact.name == routed.contact.name
    await stub.RejectOffer(
        rt.RejectOfferRequest(agent="agents/anna", contact=routed.contact.name),
        metadata=agent_md(settings, "anna", ["gm0268"]),
    )
    second = await asyncio.wait_for(desktops["bert"].read(), 5)
    assert second.offer.contact.name == routed.contact.name
    # bert lets it time out: the test drives the matcher's clock past the offer's 15 s
    assert await routing.matcher.expire_offers(time.time() + OFFER_TIMEOUT_SECONDS) == 1
    revoked = await asyncio.wait_for(desktops["bert"].read(), 5)
    assert revoked.offer_revoked == routed.contact.name
    bert = await stub.GetAgent(rt.GetAgentRequest(name="agents/bert"), metadata=admin)
    assert bert.state == rt.Agent.STATE_BREAK
    contact = await stub.GetContact(rt.GetContactRequest(name=routed.contact.name), metadata=admin)
    assert contact.state == rt.Contact.STATE_QUEUED
    for d in desktops.values():
        d.cancel()


async def test_overflow_to_another_gemeentes_agent_after_threshold(stubs, settings, admin) -> None:  # type: ignore[no-untyped-def]
    tenancy, routing = stubs
    await tenancy.CreateSlaPolicy(
        tp.CreateSlaPolicyRequest(
            parent="tenants/gm0202",
            sla_policy_id="telefoon",
            sla_policy=tp.SlaPolicy(
                channel=common_pb2.CHANNEL_PHONE, answer_target=common_pb2.ServiceLevelTarget(seconds=1, percent=80)
            ),
        ),
        metadata=admin,
    )
    request = rt.RouteContactRequest(
        tenant="tenants/gm0202", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort"
    )
    md = integration(settings, "gm0202")
    for _ in range(100):
        if (await routing.RouteContact(request, metadata=md)).contact.service_level_target.seconds == 1:
            break
        await asyncio.sleep(0.05)
    await routing.CreateAgent(
        rt.CreateAgentRequest(
            agent_id="nijmegen-agent", agent=rt.Agent(tenants=["tenants/gm0268"], overflow_tenants=["tenants/gm0202"])
        ),
        metadata=admin,
    )
    desktop = routing.ConnectAgent(
        rt.ConnectAgentRequest(name="agents/nijmegen-agent"),
        metadata=agent_md(settings, "nijmegen-agent", ["gm0268", "gm0202"]),
    )
    await desktop.read()
    offer = await asyncio.wait_for(desktop.read(), 5)
    assert offer.offer.contact.overflowed and offer.offer.contact.tenant == "tenants/gm0202"
    stats = await routing.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0202"), metadata=admin)
    assert sum(q.overflowed for q in stats.queues) == 1
    desktop.cancel()


async def test_withdrawn_contact_counts_as_abandoned(stubs, settings, admin) -> None:  # type: ignore[no-untyped-def]
    _, routing = stubs
    md = integration(settings, "gm0268")
    routed = await routing.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "verhuismelding"
        ),
        metadata=md,
    )
    withdrawn = await routing.WithdrawContact(rt.WithdrawContactRequest(name=routed.contact.name), metadata=md)
    assert withdrawn.state == rt.Contact.STATE_ABANDONED
    stats = await routing.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
    (queue,) = [q for q in stats.queues if q.queue == "burgerzaken"]
    assert queue.short_abandoned + queue.abandoned == 1 and queue.waiting == 0
    # A retry (its first answer lost in an outage) gets the withdrawn contact; nothing is counted twice.
    again = await routing.WithdrawContact(rt.WithdrawContactRequest(name=routed.contact.name), metadata=md)
    assert again == withdrawn
    stats = await routing.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
    (queue,) = [q for q in stats.queues if q.queue == "burgerzaken"]
    assert queue.short_abandoned + queue.abandoned == 1


async def test_repeat_contact_flagged_from_open_callback_events(stubs, settings, admin, routing: RoutingApp) -> None:  # type: ignore[no-untyped-def]
    _, stub = stubs
    deadline = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
    changed = events_pb2.CallbackChanged(
        callback="tenants/gm0268/callbacks/cb-1",
        change="requested",
        status="REQUESTED",
        department="tenants/gm0268/departments/burgerzaken",
        product_uri=UPL + "paspoort",
        citizen_key="key-of-citizen-a",
    )
    changed.deadline.FromDatetime(deadline)
    await routing.bus.publish(
        events.subject("gm0268", "callback", "requested"), events.envelope("gm0268", callback_changed=changed)
    )
    await eventually(lambda: len(routing.state.repeats) == 1)
    md = integration(settings, "gm0268")
    repeat = await stub.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268",
            channel=common_pb2.CHANNEL_PHONE,
            question="paspoort",
            citizen_key="key-of-citizen-a",
        ),
        metadata=md,
    )
    assert repeat.contact.repeat_contact
    (ref,) = repeat.contact.open_callbacks
    assert ref.callback == "tenants/gm0268/callbacks/cb-1" and ref.deadline.ToDatetime(UTC) == deadline
    other = await stub.RouteContact(
        rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="paspoort", citizen_key="someone-else"
        ),
        metadata=md,
    )
    assert not other.contact.repeat_contact
    # the same key at another tenant is another citizen's matter
    assert routing.state.repeats.open_for("gm0202", "key-of-citizen-a") == []
    completed = events_pb2.CallbackChanged()
    completed.CopyFrom(changed)
    completed.change, completed.status = "completed", "COMPLETED"
    await routing.bus.publish(
        events.subject("gm0268", "callback", "completed"), events.envelope("gm0268", callback_changed=completed)
    )
    await eventually(lambda: len(routing.state.repeats) == 0)
    stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
    assert sum(q.repeat_contacts for q in stats.queues) == 1
    assert timedelta(0) <= datetime.now(UTC) - repeat.contact.enqueue_time.ToDatetime(UTC) < timedelta(minutes=1)


def test_timestamps_read_and_written_without_datetimes_agree_with_protobuf() -> None:
    """The hot path reads and writes Timestamps by arithmetic; it must give what protobuf's datetime way gives."""
    from google.protobuf.timestamp_pb2 import Timestamp
    from hypothesis import given
    from hypothesis import strategies as st

    from services.routing.state import seconds_of, stamp

    @given(st.integers(-62_135_596_800, 253_402_300_799), st.integers(0, 999_999_999))
    def check(seconds: int, nanos: int) -> None:
        ts = Timestamp(seconds=seconds, nanos=nanos)
        assert seconds_of(ts) == ts.ToDatetime(UTC).timestamp()
        if 0 <= seconds < 4_102_444_800:  # up to 2100 a float still holds the microseconds
            assert stamp(seconds_of(ts)).ToDatetime(UTC) == ts.ToDatetime(UTC)

    check()


def test_contact_ids_are_the_uuid5_of_tenant_and_request_id() -> None:
    """Contact ids from request_ids must stay what they were (uuid5), or a retry across an upgrade routes twice."""
    import uuid

    from hypothesis import given
    from hypothesis import strategies as st

    from services.routing.service import CONTACT_NS, contact_uuid

    @given(st.text(max_size=140))
    def check(key: str) -> None:
        assert contact_uuid(key) == str(uuid.uuid5(CONTACT_NS, key))

    check()


async def test_an_enum_value_this_code_does_not_know_is_invalid_argument(stubs, settings, admin) -> None:  # type: ignore[no-untyped-def]
    """A newer client may send a state or channel number this version lacks: a clear error, not INTERNAL."""
    _, routing = stubs
    await routing.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    calls = [
        routing.SetAgentState(rt.SetAgentStateRequest(name="agents/fatima", state=42), metadata=admin),  # type: ignore[arg-type]
        routing.RouteContact(
            rt.RouteContactRequest(tenant="tenants/gm0268", channel=42, product_uri=UPL + "paspoort"),  # type: ignore[arg-type]
            metadata=integration(settings, "gm0268"),
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
