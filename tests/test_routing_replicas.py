"""Routing as two replicas on one stream: both know every contact, one matcher offers, a standby takes over."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator

import grpc
import pytest

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client, events
from services.common.config import Settings
from services.common.errors import error_info
from services.routing.app import RoutingApp
from services.routing.service import contact_uuid
from services.tenancy.app import TenancyApp
from tests.builders import UPL, eventually, make_tenant, routable, stored_events

PRODUCTS = [("paspoort", "paspoort", "burgerzaken"), ("rijbewijs", "rijbewijs", "burgerzaken")]
LEASE_TTL = 3.0  # short, so that a takeover fits in a test


@pytest.fixture
async def replicas(settings: Settings, tenancy: TenancyApp, channel_to, admin) -> AsyncIterator[list[RoutingApp]]:  # type: ignore[no-untyped-def]
    """Two routing replicas on one nats-server, Nijmegen onboarded; the first one started leads."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", PRODUCTS)
    apps = []
    for _ in range(2):
        app = RoutingApp(settings)
        app.lease_ttl = LEASE_TTL
        await app.start(0)
        apps.append(app)
        await routable(channel_to(app), admin, "gm0268")
    await eventually(lambda: apps[0].matcher.leading and apps[0].state.fence == apps[0].matcher.term_fence)
    yield apps
    for app in apps:
        with contextlib.suppress(Exception):
            await app.stop(0.5)


def stub(channel: grpc.aio.Channel) -> routing_pb2_grpc.RoutingServiceStub:
    return routing_pb2_grpc.RoutingServiceStub(channel)


def partner(settings: Settings) -> tuple[tuple[str, str], ...]:
    return client.metadata(auth.issue_token(settings.auth_secret, "int", auth.Role.TENANT_INTEGRATION, ["gm0268"]))


def agent_md(settings: Settings, agent: str) -> tuple[tuple[str, str], ...]:
    return client.metadata(auth.issue_token(settings.auth_secret, agent, auth.Role.AGENT, ["gm0268"]))


def route(request_id: str, question: str = "", product: str = "paspoort") -> rt.RouteContactRequest:
    request = rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, request_id=request_id)
    if question:
        request.question = question
    else:
        request.product_uri = UPL + product
    return request


async def crash(app: RoutingApp) -> None:
    """Like kill -9: no lease release, no goodbye events, the connection just drops. The connection goes
    first: the desktop streams the server then cancels would otherwise still publish `disconnected`."""
    await app.bus.nc.close()
    for task in app.tasks:
        task.cancel()
    assert app.server is not None
    await app.server.stop(0)


async def stream_changes(app: RoutingApp, change: str) -> Counter[str]:
    """How often each contact has a `change` event in the stream."""
    stored = await stored_events(app.bus.js, f"kcc.gm0268.contact.{change}")
    return Counter(env.contact_changed.contact for env in stored)


async def test_every_replica_knows_every_contact_and_one_matcher_offers(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    leader, standby = replicas
    assert not standby.matcher.leading
    stubs = [stub(channel_to(app)) for app in replicas]
    routed = []
    for i in range(10):  # alternating replicas, as a load balancer would
        reply = await stubs[i % 2].RouteContact(route(f"call-{i}"), metadata=partner(settings))
        routed.append(reply.contact.name)
    await eventually(lambda: all(set(routed) <= app.state.router.contacts.keys() for app in replicas))

    await stubs[0].CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    await eventually(lambda: "agents/fatima" in standby.state.router.agents)
    md = agent_md(settings, "fatima")
    desktop = stubs[1].ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)  # on the standby
    await desktop.read()
    served = []
    for i in range(10):
        message = await asyncio.wait_for(desktop.read(), 10)
        name = message.offer.contact.name
        served.append(name)
        # answered through the other replica than the one holding the desktop, alternately
        await stubs[i % 2].AcceptOffer(rt.AcceptOfferRequest(agent="agents/fatima", contact=name), metadata=md)
        await stubs[(i + 1) % 2].CompleteContact(
            rt.CompleteContactRequest(agent="agents/fatima", contact=name, outcome="ok"), metadata=md
        )
    desktop.cancel()
    assert served == routed, "longest waiting first, each once"
    assert set((await stream_changes(leader, "offered")).values()) == {1}
    for app in replicas:
        (queue,) = [q for q in app.state.router.queue_figures("gm0268", time.time()) if q["queue"] == "burgerzaken"]
        assert (queue["offered"], queue["answered"], queue["waiting"]) == (10, 10, 0)


async def test_standby_takes_over_and_a_stale_leaders_offer_is_refused(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    leader, standby = replicas
    standby_stub = stub(channel_to(standby))
    await standby_stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    md = agent_md(settings, "fatima")
    desktop = standby_stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    await desktop.read()
    old_fence = leader.matcher.lease.revision

    await crash(leader)
    killed = time.monotonic()
    reply = await standby_stub.RouteContact(route("after-crash"), metadata=partner(settings))
    offer = await asyncio.wait_for(desktop.read(), 3 * LEASE_TTL)
    takeover = time.monotonic() - killed
    assert offer.offer.contact.name == reply.contact.name
    assert standby.matcher.leading and standby.matcher.terms == 1
    print(f"takeover after {takeover:.1f} s with a {LEASE_TTL} s lease")

    # The dead leader's last decision reaches the stream late: stamped with its old fence, it is refused.
    await standby_stub.RejectOffer(
        rt.RejectOfferRequest(agent="agents/fatima", contact=reply.contact.name), metadata=md
    )
    second = await standby_stub.RouteContact(route("second"), metadata=partner(settings))
    await standby.bus.publish(
        events.subject("gm0268", "contact", "offered"),
        events.envelope(
            "gm0268",
            contact_changed=events_pb2.ContactChanged(
                contact=second.contact.name, change="offered", agent="agents/fatima", fence=old_fence
            ),
        ),
    )
    await eventually(lambda: standby.state.refused_decisions == 1)
    fresh = await asyncio.wait_for(desktop.read(), 5)  # the live leader's own offer, not the stale one
    assert fresh.offer.contact.name == second.contact.name
    assert (await stream_changes(standby, "offered"))[second.contact.name] == 2  # one refused, one applied
    desktop.cancel()


async def test_an_event_stored_after_its_caller_gave_up_is_applied_live(
    replicas: list[RoutingApp], settings: Settings, channel_to
) -> None:  # type: ignore[no-untyped-def]
    """nats-py resends its buffer after a reconnect: a contact.routed whose RouteContact failed may still be
    stored. Every replica applies it like any other; the partner's retry then finds it."""
    leader, standby = replicas
    name = f"tenants/gm0268/contacts/{contact_uuid('gm0268/late-call')}"
    env = standby.servicer._routed(route("late-call"), standby.state.catalogues["gm0268"], name)
    await leader.bus.publish(events.subject("gm0268", "contact", "routed"), env)
    await eventually(lambda: all(name in app.state.router.contacts for app in replicas))
    retry = await stub(channel_to(standby)).RouteContact(route("late-call"), metadata=partner(settings))
    assert retry.contact.name == name and retry.contact.state == rt.Contact.STATE_QUEUED


async def test_a_retry_returns_the_stored_contact_and_its_stored_recognition(
    replicas: list[RoutingApp], settings: Settings, channel_to
) -> None:  # type: ignore[no-untyped-def]
    first = await stub(channel_to(replicas[0])).RouteContact(
        route("call-1", question="mijn paspoort is verlopen"), metadata=partner(settings)
    )
    # The same request_id with other words (a partner's retry that re-transcribed the call)
    retry = await stub(channel_to(replicas[1])).RouteContact(
        route("call-1", question="ik wil mijn rijbewijs verlengen"), metadata=partner(settings)
    )
    assert first.contact.product_uri == UPL + "paspoort" and first.recognised
    assert retry == first


async def test_create_agent_never_replaces_an_agent(replicas: list[RoutingApp], channel_to, admin) -> None:  # type: ignore[no-untyped-def]
    stubs = [stub(channel_to(app)) for app in replicas]
    definition = rt.Agent(tenants=["tenants/gm0268"], display_name="Fatima")
    await stubs[0].CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=definition, request_id="r1"), metadata=admin
    )
    again = await stubs[1].CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=definition, request_id="r1"), metadata=admin
    )
    assert again.display_name == "Fatima"  # a retry of the same request answers the agent
    other = rt.Agent(tenants=["tenants/gm0202"], display_name="Someone else")
    for request_id in ("", "r2"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stubs[1].CreateAgent(
                rt.CreateAgentRequest(agent_id="fatima", agent=other, request_id=request_id), metadata=admin
            )
        assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert error_info(err.value).reason == "ALREADY_EXISTS"  # type: ignore[union-attr]
    for app in replicas:
        await eventually(lambda app=app: app.state.router.agents["agents/fatima"].tenants == {"gm0268"})


def test_stream_position_reads_what_nats_py_reads() -> None:
    from nats.aio.msg import Msg

    from services.routing.follower import stream_position

    for reply in (
        "$JS.ACK.KCC.abc.1.4077.12.1764750000000000000.0",
        "$JS.ACK.hub.ACCHASH.KCC.abc.3.4077.12.1764750000000000000.25.token",
    ):
        meta = Msg.Metadata._from_reply(reply)
        assert stream_position(reply) == (meta.sequence.stream, meta.sequence.consumer, meta.num_pending)


async def test_an_outage_is_unavailable_and_the_retry_finds_the_contact_once(
    replicas: list[RoutingApp], settings: Settings, channel_to, nats_server
) -> None:  # type: ignore[no-untyped-def]
    """nats-server down: RouteContact is UNAVAILABLE (retryable), never INTERNAL; after it is back, the
    partner's retry with the same request_id gets one contact, which every replica knows."""
    for app in replicas:
        app.bus.publish_budget = 2.0  # the outage outlasts it: the caller hears UNAVAILABLE sooner
    routing = stub(channel_to(replicas[1]))
    nats_server.kill()
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await routing.RouteContact(route("during-outage"), metadata=partner(settings))
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE
    assert error_info(err.value).reason == "BACKEND_UNAVAILABLE"  # type: ignore[union-attr]
    nats_server.restart()
    reply = None
    for _ in range(40):  # the partner retries, as its telephony would
        try:
            reply = await routing.RouteContact(route("during-outage"), metadata=partner(settings))
            break
        except grpc.aio.AioRpcError as retry_error:
            assert retry_error.code() == grpc.StatusCode.UNAVAILABLE
            await asyncio.sleep(0.5)
    assert reply is not None
    await eventually(lambda: all(reply.contact.name in app.state.router.contacts for app in replicas), 15)
    stored = await stored_events(replicas[0].bus.js, "kcc.gm0268.contact.routed")
    routed = Counter(env.contact_routed.contact for env in stored)
    assert routed == {reply.contact.name: 1}


async def test_a_rolling_update_loses_nothing(
    replicas: list[RoutingApp], settings: Settings, tenancy: TenancyApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """Contacts keep coming while the leader is stopped (SIGTERM) and a new replica starts: the lease is
    handed over at once, and every acknowledged contact is on every replica that runs."""
    old, standby = replicas
    acknowledged: list[str] = []
    stop = asyncio.Event()

    async def partner_calls() -> None:
        stubs = [stub(channel_to(app)) for app in replicas]
        i = 0
        while not stop.is_set():
            for s in list(stubs):
                try:
                    reply = await s.RouteContact(route(f"rolling-{i}"), metadata=partner(settings))
                    acknowledged.append(reply.contact.name)
                except grpc.aio.AioRpcError as err:  # the stopping replica: the partner tries the other
                    assert err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED)
                    stubs.remove(s)
                    continue
                i += 1
            await asyncio.sleep(0.01)

    calls = asyncio.create_task(partner_calls())
    await eventually(lambda: len(acknowledged) >= 10)  # contacts are flowing
    stopped = time.monotonic()
    await old.stop()
    await eventually(lambda: standby.matcher.leading and standby.state.fence == standby.matcher.term_fence)
    handover = time.monotonic() - stopped
    new = RoutingApp(settings)
    new.lease_ttl = LEASE_TTL
    await new.start(0)
    replicas.append(new)
    during = len(acknowledged)
    await eventually(lambda: len(acknowledged) >= during + 10)  # contacts keep coming with the new replica up
    stop.set()
    await calls
    assert len(acknowledged) > 20
    for app in (standby, new):
        await eventually(lambda app=app: set(acknowledged) <= app.state.router.contacts.keys())
    assert handover < LEASE_TTL, f"the lease was released, not left to lapse ({handover:.1f} s)"
    assert not new.matcher.leading


async def test_accept_and_complete_may_be_retried(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """A desktop that lost the answer to AcceptOffer or CompleteContact (its replica died) asks again,
    on any replica: the same agent gets the same answer; another agent still cannot take the contact."""
    first, second = (stub(channel_to(app)) for app in replicas)
    for agent_id in ("fatima", "joost"):
        await first.CreateAgent(
            rt.CreateAgentRequest(agent_id=agent_id, agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
    md = agent_md(settings, "fatima")
    desktop = second.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    await desktop.read()
    reply = await first.RouteContact(route("retried"), metadata=partner(settings))
    await asyncio.wait_for(desktop.read(), 10)
    accept = rt.AcceptOfferRequest(agent="agents/fatima", contact=reply.contact.name)
    accepted = await first.AcceptOffer(accept, metadata=md)
    assert await second.AcceptOffer(accept, metadata=md) == accepted
    with pytest.raises(grpc.aio.AioRpcError) as err:
        joost = rt.AcceptOfferRequest(agent="agents/joost", contact=reply.contact.name)
        await first.AcceptOffer(joost, metadata=agent_md(settings, "joost"))
    assert error_info(err.value).reason == "NO_SUCH_OFFER"  # type: ignore[union-attr]
    complete = rt.CompleteContactRequest(agent="agents/fatima", contact=reply.contact.name, outcome="ok")
    done = await second.CompleteContact(complete, metadata=md)
    assert await first.CompleteContact(complete, metadata=md) == done
    assert done.state == rt.Contact.STATE_COMPLETED
    desktop.cancel()


async def test_the_desktops_of_a_replica_that_died_are_let_go(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """A desktop whose replica was killed and that never comes back: the leader ends its session once the
    replica stops beating, so the next contact waits for a real desktop instead of timing out on a ghost."""
    leader, doomed = replicas
    await stub(channel_to(leader)).CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    await eventually(lambda: "agents/fatima" in doomed.state.router.agents)
    desktop = stub(channel_to(doomed)).ConnectAgent(
        rt.ConnectAgentRequest(name="agents/fatima"), metadata=agent_md(settings, "fatima")
    )
    await desktop.read()
    fatima = leader.state.router.agents["agents/fatima"]
    assert fatima.connected and fatima.replica == doomed.replica
    await crash(doomed)
    await eventually(lambda: not fatima.connected, within=4 * LEASE_TTL)
    assert fatima.state == "OFFLINE"
    reply = await stub(channel_to(leader)).RouteContact(route("after"), metadata=partner(settings))
    assert leader.state.router.contacts[reply.contact.name].state == "QUEUED"
    assert leader.state.router.match(time.time()) == []  # the matcher finds nobody to offer it to
    desktop.cancel()


class CutOff:
    """The leader's lease bucket behind a broken link (a partition, a long pause): it cannot renew."""

    async def get(self, key: str) -> None:
        raise ConnectionError("NATS unreachable")

    async def put(self, key: str, value: bytes) -> None:
        raise ConnectionError("NATS unreachable")

    async def update(self, key: str, value: bytes, last: int) -> None:
        raise ConnectionError("NATS unreachable")


async def test_a_leader_that_cannot_renew_stops_at_its_own_deadline_and_the_standby_offers(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """The leader can still publish, but not renew its lease: it stops deciding once its own deadline
    passes (no later than one time to live), before the standby may take the lapsed lease; the contact
    routed meanwhile is offered once, by the new leader."""
    leader, standby = replicas
    leader_stub, standby_stub = stub(channel_to(leader)), stub(channel_to(standby))
    await standby_stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    await eventually(lambda: "agents/fatima" in leader.state.router.agents)
    desktop = leader_stub.ConnectAgent(
        rt.ConnectAgentRequest(name="agents/fatima"), metadata=agent_md(settings, "fatima")
    )
    await desktop.read()
    loop = asyncio.get_running_loop()
    leader.matcher.lease.kv = CutOff()  # type: ignore[assignment]
    cut_off = loop.time()
    await eventually(lambda: not leader.matcher.leading, within=2 * LEASE_TTL)
    assert loop.time() - cut_off <= LEASE_TTL + 0.5  # its deadline, give or take a busy event loop
    passes = leader.matcher.passes
    reply = await leader_stub.RouteContact(route("while-cut-off"), metadata=partner(settings))
    offer = await asyncio.wait_for(desktop.read(), 3 * LEASE_TTL)
    assert offer.offer.contact.name == reply.contact.name
    assert standby.matcher.leading and leader.matcher.passes == passes
    assert (await stream_changes(standby, "offered"))[reply.contact.name] == 1
    desktop.cancel()


async def test_a_desktop_that_reconnects_to_another_replica_gets_the_offer_it_holds(
    replicas: list[RoutingApp], settings: Settings, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """The replica holding an agent's desktop dies with an offer out: the desktop connects to the other
    replica, is offered the same contact there once, and accepts it."""
    leader, doomed = replicas
    leader_stub = stub(channel_to(leader))
    await leader_stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    await eventually(lambda: "agents/fatima" in doomed.state.router.agents)
    md = agent_md(settings, "fatima")
    first = stub(channel_to(doomed)).ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    await first.read()
    reply = await leader_stub.RouteContact(route("held"), metadata=partner(settings))
    assert (await asyncio.wait_for(first.read(), 10)).offer.contact.name == reply.contact.name
    await crash(doomed)

    again = leader_stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
    assert (await again.read()).agent.name == "agents/fatima"
    offer = await asyncio.wait_for(again.read(), 5)
    assert offer.offer.contact.name == reply.contact.name
    accepted = await leader_stub.AcceptOffer(
        rt.AcceptOfferRequest(agent="agents/fatima", contact=reply.contact.name), metadata=md
    )
    assert accepted.state == rt.Contact.STATE_CONNECTED
    assert (await stream_changes(leader, "offered"))[reply.contact.name] == 1
    again.cancel()
