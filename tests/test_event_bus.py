"""The event bus against a real nats-server: the stream as configured, publishes that wait out a
restarted server under the same `Nats-Msg-Id`, one well-defined error after the budget, and a
backend outage reaching a gRPC caller as UNAVAILABLE (BACKEND_UNAVAILABLE), never INTERNAL."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
import sqlalchemy
from nats.js.api import DeliverPolicy, StreamConfig
from nats.js.errors import APIError, ServerError
from nats.js.manager import JetStreamManager

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client, events, snapshots
from services.common.config import Settings
from services.common.errors import error_info
from services.common.events import (
    PUBLISH_ATTEMPT_SECONDS,
    STREAM,
    STREAM_NAME_IN_USE,
    EventBus,
    EventBusUnavailable,
    envelope,
)
from services.common.natsserver import NatsServer, free_ports
from services.common.server import OPEN, start_server
from services.routing.app import AGENTS_BUCKET, RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, eventually, make_tenant, routable
from tests.support.faults import ELECTION, NOT_YET_VISIBLE, refusing

SUBJECT = "kcc.gm0268.contact.routed"
T = TypeVar("T")


async def copies(bus: EventBus, event_id: str) -> int:
    """How many messages in the stream carry this `Nats-Msg-Id`."""
    sub = await bus.js.subscribe("kcc.>", stream=STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
    total = (await bus.js.stream_info(STREAM)).state.messages
    found = 0
    for _ in range(total):
        msg = await sub.next_msg(timeout=5)
        found += (msg.headers or {}).get("Nats-Msg-Id") == event_id
    await sub.unsubscribe()
    return found


async def test_the_stream_is_created_as_configured(nats_url: str, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, nats_url=nats_url, stream_max_bytes=8 * 2**20, stream_max_age_seconds=7 * 86400
    )
    bus = await EventBus.connect(settings, "test-bus")
    try:
        config = (await bus.js.stream_info(STREAM)).config
        assert (config.num_replicas, config.max_bytes, config.max_age) == (1, 8 * 2**20, 7 * 86400)
    finally:
        await bus.close()


async def test_a_bucket_is_created_as_configured_and_an_existing_one_left_as_it_is(
    nats_url: str, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, nats_url=nats_url, kv_max_bytes=2**20, kv_max_age_seconds=86400)
    bus = await EventBus.connect(settings, "test-bus")
    try:
        await bus.key_value("routing-leases")
        config = (await bus.js.stream_info("KV_routing-leases")).config
        assert (config.num_replicas, config.max_bytes, config.max_age) == (1, 2**20, 86400)
        # the operator's own limits on a bucket survive a start configured otherwise
        await bus.js.update_stream(config.evolve(max_bytes=2**24, max_age=3600))
        unlimited = await EventBus.connect(Settings(data_dir=tmp_path, nats_url=nats_url), "second-start")
        try:
            await unlimited.key_value("routing-leases")
            config = (await unlimited.js.stream_info("KV_routing-leases")).config
            assert (config.max_bytes, config.max_age) == (2**24, 3600)
        finally:
            await unlimited.close()
    finally:
        await bus.close()


async def test_a_start_leaves_the_limits_an_operator_set(bus: EventBus, settings: Settings) -> None:
    info = await bus.js.stream_info(STREAM)
    await bus.js.update_stream(info.config.evolve(max_bytes=2**30, max_age=30 * 86400))
    again = await EventBus.connect(settings, "second-start")  # configured: unlimited bytes, 366 days
    try:
        config = (await again.js.stream_info(STREAM)).config
        assert (config.max_bytes, config.max_age) == (2**30, 30 * 86400)
    finally:
        await again.close()


async def test_replicas_that_cannot_be_raised_leave_the_stream_serving_with_a_warning(
    bus: EventBus, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    # R3 configured against a single node (an R1 stream already there): the service still starts.
    again = await EventBus.connect(replace(settings, stream_replicas=3), "misconfigured")
    try:
        assert (await again.js.stream_info(STREAM)).config.num_replicas == 1
        await again.publish(SUBJECT, envelope("gm0268"))
        assert "kept as it is" in caplog.text and "non-clustered" in caplog.text
    finally:
        await again.close()


async def test_a_publish_waits_for_a_restarted_server_and_is_stored_once(
    bus: EventBus, nats_server: NatsServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="services.common.events")
    nats_server.kill()
    env = envelope("gm0268")
    publishing = asyncio.create_task(bus.publish(SUBJECT, env))
    # the server stays down: the publish has failed and waits to try again instead of failing
    await eventually(lambda: f"publish {env.id}: " in caplog.text)
    assert not publishing.done()
    await asyncio.to_thread(nats_server.start)
    ack = await asyncio.wait_for(publishing, 15)
    assert ack.stream == STREAM and await copies(bus, env.id) == 1


async def test_a_publish_gives_up_after_its_budget_with_event_bus_unavailable(
    bus: EventBus, nats_server: NatsServer
) -> None:
    bus.publish_budget = 1.0
    nats_server.kill()
    started = time.monotonic()
    with pytest.raises(EventBusUnavailable):
        await bus.publish(SUBJECT, envelope("gm0268"))
    assert time.monotonic() - started < 1.0 + 0.5  # the budget, counted from the first try


async def test_a_start_call_left_unanswered_is_asked_again_after_a_publish_attempts_time(bus: EventBus) -> None:
    """A read of a bucket another replica has just made can go unanswered (the second of two routing
    replicas started together on a fresh cluster waited the context's 10 s for its replay mark)."""
    tries = 0

    async def read_replay_mark() -> str:
        nonlocal tries
        tries += 1
        if tries == 1:
            await asyncio.Event().wait()  # the request the cluster dropped
        return "mark"

    async with asyncio.timeout(PUBLISH_ATTEMPT_SECONDS + 2):
        assert await bus.at_start("replay mark", read_replay_mark) == "mark"
    assert tries == 2


async def test_a_bucket_or_stream_made_a_moment_ago_and_answered_not_found_is_asked_again(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a fresh cluster a node that has not applied a new bucket's assignment answers 'not found'
    right after it was made (a callbacks replica of `kcc up --cluster` failed to start so, once in 15
    starts under load). Here the real server's first answer is replaced by that one."""
    not_yet = [NOT_YET_VISIBLE]
    monkeypatch.setattr(bus.js, "key_value", refusing(bus.js.key_value, not_yet))
    kv = await bus.key_value("FRESH")
    await kv.put("replay", b"mark")
    assert (await kv.get("replay")).value == b"mark" and not_yet == []

    # A replica that lost the race to make the stream (not found, then 'in use') reads the other's.
    async def made_by_another(config: StreamConfig) -> None:
        raise APIError(code=400, err_code=STREAM_NAME_IN_USE, description="stream name already in use")

    monkeypatch.setattr(bus._api, "add_stream", made_by_another)
    not_yet = [NOT_YET_VISIBLE, NOT_YET_VISIBLE]
    monkeypatch.setattr(bus._api, "stream_info", refusing(bus._api.stream_info, not_yet))
    await bus.ensure_stream()
    assert not_yet == []


async def test_routing_starts_when_each_consumer_it_makes_meets_an_election_or_a_node_not_yet_current(
    settings: Settings, tenancy: TenancyApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At start routing makes three consumers (the snapshots and agents watches, the stream follower),
    right after another replica may have made the stream or bucket: each one's first request is
    answered by a leader being elected (503) or a node not yet current ('not found'), and it starts."""
    add_consumer = JetStreamManager.add_consumer
    refused: list[str] = []  # the filters of the consumers whose first request was refused
    refusals = (ELECTION, NOT_YET_VISIBLE)

    async def refused_once_per_filter(manager: JetStreamManager, stream: str, config: Any = None, **params: Any) -> Any:
        if config.filter_subject not in refused:
            refused.append(config.filter_subject)
            raise refusals[len(refused) % 2]
        return await add_consumer(manager, stream, config, **params)

    monkeypatch.setattr(JetStreamManager, "add_consumer", refused_once_per_filter)
    app = RoutingApp(settings)
    await app.start(0)
    try:
        watches = {f"$KV.{snapshots.BUCKET}.>", f"$KV.{AGENTS_BUCKET}.>", "kcc.*.callback.>", "kcc.>"}
        assert watches <= set(refused) and app.follower.caught_up.is_set()
    finally:
        await app.stop()


async def test_closing_a_connection_that_lost_its_server_is_bounded(
    bus: EventBus, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py's close of a connection whose server is gone has hung on the dead socket (rarely, under
    load): a stopping service gives it CLOSE_SECONDS and goes on."""
    monkeypatch.setattr(events, "CLOSE_SECONDS", 0.5)
    nats_server.kill()
    await eventually(lambda: not bus.nc.is_connected)
    closing = bus.nc.close

    async def hanging_close() -> None:
        await asyncio.Event().wait()

    monkeypatch.setattr(bus.nc, "close", hanging_close)
    async with asyncio.timeout(3):
        await bus.close()
    await closing()  # what the test leaves behind


async def test_a_start_without_any_reachable_server_fails_within_its_budget(tmp_path: Path) -> None:
    nowhere = ",".join(f"nats://127.0.0.1:{port}" for port in free_ports(3))
    started = time.monotonic()
    with pytest.raises(EventBusUnavailable, match="ConnectionRefused"):
        await EventBus.connect(Settings(data_dir=tmp_path, nats_url=nowhere), "test-bus", start_budget=1.0)
    assert time.monotonic() - started < 3.0


# -- the gRPC guard ---------------------------------------------------------------------------

OUTAGE = "kcc.test.Outage"


def unreachable_database() -> Exception:
    """A real OperationalError: PostgreSQL on a port where nothing listens."""
    engine = sqlalchemy.create_engine("postgresql+psycopg://kcc@127.0.0.1:1/kcc", connect_args={"connect_timeout": 2})
    try:
        engine.connect()
    except sqlalchemy.exc.OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("a database on port 1 answered")


@pytest.mark.parametrize(
    ("failure", "code"),
    [
        (EventBusUnavailable("publish: no answer"), grpc.StatusCode.UNAVAILABLE),
        (unreachable_database(), grpc.StatusCode.UNAVAILABLE),
        # what nats-py raises for the answer of a stream without a quorum (JSStreamOfflineErr)
        (ServerError(code=500, err_code=10118, description="stream is offline"), grpc.StatusCode.UNAVAILABLE),
        (ValueError("a bug"), grpc.StatusCode.INTERNAL),
    ],
    ids=["event-bus", "database", "stream-offline", "bug"],
)
async def test_the_guard_turns_an_outage_into_unavailable_and_a_bug_into_internal(
    settings: Settings, failure: Exception, code: grpc.StatusCode
) -> None:
    async def unary(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise failure

    async def stream(request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
        yield OPEN
        yield b"first"
        raise failure

    def register(registry: grpc.aio.Server) -> None:
        handlers = {
            "Unary": grpc.unary_unary_rpc_method_handler(unary),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
        }
        registry.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(OUTAGE, handlers),))

    server, port = await start_server(settings, "127.0.0.1:0", [register], [OUTAGE])
    md = client.metadata(auth.issue_token(settings.auth_secret, "admin", auth.Role.PLATFORM_ADMIN))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            with pytest.raises(grpc.aio.AioRpcError) as unary_error:
                await channel.unary_unary(f"/{OUTAGE}/Unary")(b"", metadata=md)
            with pytest.raises(grpc.aio.AioRpcError) as stream_error:
                async for _ in channel.unary_stream(f"/{OUTAGE}/Stream")(b"", metadata=md):
                    pass
        for error in (unary_error.value, stream_error.value):
            info = error_info(error)
            assert error.code() == code
            if code == grpc.StatusCode.UNAVAILABLE:
                assert info is not None and info.reason == "BACKEND_UNAVAILABLE"
    finally:
        await server.stop(0)


async def retried(call: Callable[[], Awaitable[T]], within: float = 20.0) -> T:
    """Calls again on UNAVAILABLE, as a partner's system does, with the same request."""
    deadline = time.monotonic() + within
    while True:
        try:
            return await call()
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.UNAVAILABLE or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.2)


async def test_route_contact_during_a_nats_outage_is_unavailable_and_its_retry_routes_once(
    settings: Settings,
    nats_server: NatsServer,
    tenancy: TenancyApp,
    routing: RoutingApp,
    channel_to,  # type: ignore[no-untyped-def]
    admin: tuple[tuple[str, str], ...],
) -> None:
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    await routable(channel_to(routing), admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
    request = rt.RouteContactRequest(
        tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="paspoort verlopen", request_id="call-1"
    )
    routing.bus.publish_budget = 1.0
    nats_server.kill()
    with pytest.raises(grpc.aio.AioRpcError) as failed:
        await stub.RouteContact(request, metadata=admin)
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    info = error_info(failed.value)
    assert info is not None and info.reason == "BACKEND_UNAVAILABLE"

    await asyncio.to_thread(nats_server.start)
    routing.bus.publish_budget = 12.0
    reply = await retried(lambda: stub.RouteContact(request, metadata=admin))
    assert reply.contact.tenant == "tenants/gm0268"
    # The first attempt may have reached the stream after all (the client resends its buffer on
    # reconnect); the retry carries the same event id, so the contact is stored once.
    stored = await routing.bus.js.stream_info(STREAM, subjects_filter=SUBJECT)
    assert (stored.state.subjects or {}).get(SUBJECT) == 1


@pytest.mark.long
async def test_every_call_that_publishes_is_unavailable_during_an_outage_and_its_retry_succeeds(
    settings: Settings,
    nats_server: NatsServer,
    tenancy: TenancyApp,
    routing: RoutingApp,
    channel_to,  # type: ignore[no-untyped-def]
    admin: tuple[tuple[str, str], ...],
) -> None:
    """Accept, reject, complete, withdraw, agent state, overflow threshold and CreateAgent, each with
    nats-server down: UNAVAILABLE (BACKEND_UNAVAILABLE), never INTERNAL; once it is back, the same
    request goes through."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    await routable(channel_to(routing), admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))

    def agent_md(agent: str) -> tuple[tuple[str, str], ...]:
        return client.metadata(auth.issue_token(settings.auth_secret, agent, auth.Role.AGENT, ["gm0268"]))

    async def route(request_id: str) -> str:
        request = rt.RouteContactRequest(
            tenant="tenants/gm0268",
            channel=common_pb2.CHANNEL_PHONE,
            product_uri=UPL + "paspoort",
            request_id=request_id,
        )
        return (await stub.RouteContact(request, metadata=admin)).contact.name

    desktops = {}
    for agent in ("fatima", "joost"):
        await stub.CreateAgent(
            rt.CreateAgentRequest(agent_id=agent, agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
        desktops[agent] = stub.ConnectAgent(rt.ConnectAgentRequest(name=f"agents/{agent}"), metadata=agent_md(agent))
        await desktops[agent].read()
        # fatima takes the first contact and talks to the citizen; joost is offered the second
        routed = await route(f"call-{agent}")
        offer = (await asyncio.wait_for(desktops[agent].read(), 10)).offer.contact.name
        assert offer == routed
        if agent == "fatima":
            talking = offer
            await stub.AcceptOffer(
                rt.AcceptOfferRequest(agent="agents/fatima", contact=talking), metadata=agent_md(agent)
            )
        else:
            offered = offer
    waiting = await route("call-waiting")
    fatima, joost = agent_md("fatima"), agent_md("joost")
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "AcceptOffer": lambda: stub.AcceptOffer(
            rt.AcceptOfferRequest(agent="agents/joost", contact=offered), metadata=joost
        ),
        "RejectOffer": lambda: stub.RejectOffer(
            rt.RejectOfferRequest(agent="agents/joost", contact=offered), metadata=joost
        ),
        "CompleteContact": lambda: stub.CompleteContact(
            rt.CompleteContactRequest(agent="agents/fatima", contact=talking, outcome="ok"), metadata=fatima
        ),
        "WithdrawContact": lambda: stub.WithdrawContact(rt.WithdrawContactRequest(name=waiting), metadata=admin),
        "SetAgentState": lambda: stub.SetAgentState(
            rt.SetAgentStateRequest(name="agents/fatima", state=rt.Agent.STATE_WRAP_UP), metadata=fatima
        ),
        "SetOverflowThreshold": lambda: stub.SetOverflowThreshold(
            rt.SetOverflowThresholdRequest(tenant="tenants/gm0268", seconds=60), metadata=admin
        ),
        "CreateAgent": lambda: stub.CreateAgent(
            rt.CreateAgentRequest(agent_id="anouk", agent=rt.Agent(tenants=["tenants/gm0268"]), request_id="new-1"),
            metadata=admin,
        ),
    }
    routing.bus.publish_budget = 0.5  # each call fails after it: seven calls
    nats_server.kill()
    for method, call in calls.items():
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await call()
        info = error_info(failed.value)
        assert (failed.value.code(), info.reason if info else "") == (
            grpc.StatusCode.UNAVAILABLE,
            "BACKEND_UNAVAILABLE",
        ), method

    await asyncio.to_thread(nats_server.start)
    routing.bus.publish_budget = 12.0
    del calls["RejectOffer"]  # joost accepts instead
    for call in calls.values():
        await retried(call)
    contacts = routing.state.router.contacts
    assert (contacts[offered].state, contacts[talking].state, contacts[waiting].state) == (
        "CONNECTED",
        "COMPLETED",
        "ABANDONED",
    )
    for desktop in desktops.values():
        desktop.cancel()
