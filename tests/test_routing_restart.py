"""Kill -9 the routing process with contacts waiting: after a restart none is lost or offered twice."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client, events
from services.common.events import EventBus
from services.common.natsserver import free_port
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, make_tenant, routable
from tests.support.processes import start_routing


async def serve_offers(
    stub, md, agent: str, count: int, then: Callable[[], Awaitable[object]] | None = None
) -> list[str]:  # type: ignore[no-untyped-def]
    """Accepts and completes `count` offers on one desktop; returns the contacts in order. With `then`
    (which routes one more contact) it adds the next offer the same desktop gets: an offer sent twice
    would come before it, without waiting to see that nothing comes."""
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name=agent), metadata=md)
    await desktop.read()
    seen = []
    for _ in range(count):
        msg = await asyncio.wait_for(desktop.read(), 10)
        name = msg.offer.contact.name
        seen.append(name)
        await stub.AcceptOffer(rt.AcceptOfferRequest(agent=agent, contact=name), metadata=md)
        await stub.CompleteContact(rt.CompleteContactRequest(agent=agent, contact=name, outcome="ok"), metadata=md)
    if then is not None:
        await then()
        seen.append((await asyncio.wait_for(desktop.read(), 10)).offer.contact.name or "not an offer")
    desktop.cancel()
    return seen


async def test_killed_routing_loses_no_contact_and_offers_none_twice(
    settings, tenancy: TenancyApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    port = free_port()
    # the restarted process waits for the dead one's matcher lease to lapse: a short one, the same wait
    lease = {"KCC_LEASE_SECONDS": "3"}
    proc = await start_routing(settings, port, lease)
    partner = client.metadata(auth.issue_token(settings.auth_secret, "int", auth.Role.TENANT_INTEGRATION, ["gm0268"]))
    agent_md = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, ["gm0268"]))
    try:
        async with client.grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = routing_pb2_grpc.RoutingServiceStub(channel)
            await routable(channel, admin, "gm0268")
            await stub.CreateAgent(
                rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
            )
            routed = []
            for i in range(20):
                reply = await stub.RouteContact(
                    rt.RouteContactRequest(
                        tenant="tenants/gm0268",
                        channel=common_pb2.CHANNEL_PHONE,
                        product_uri=UPL + "paspoort",
                        request_id=f"call-{i}",
                    ),
                    metadata=partner,
                )
                routed.append(reply.contact.name)
            before = await serve_offers(stub, agent_md, "agents/fatima", 5)
        assert before[:5] == routed[:5]  # longest waiting first
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

        proc = await start_routing(settings, port, lease)
        async with client.grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = routing_pb2_grpc.RoutingServiceStub(channel)
            # a partner retrying a call it sent before the crash does not queue it again
            retry = await stub.RouteContact(
                rt.RouteContactRequest(
                    tenant="tenants/gm0268",
                    channel=common_pb2.CHANNEL_PHONE,
                    product_uri=UPL + "paspoort",
                    request_id="call-7",
                ),
                metadata=partner,
            )
            assert retry.contact.name == routed[7]
            late: list[str] = []

            async def route_late_call() -> None:
                request = rt.RouteContactRequest(
                    tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort"
                )
                late.append((await stub.RouteContact(request, metadata=partner)).contact.name)

            after = await serve_offers(stub, agent_md, "agents/fatima", 15, then=route_late_call)
            stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
        assert after == routed[5:] + late, "every waiting contact offered once, in order, and nothing more"
        (queue,) = stats.queues
        assert (queue.offered, queue.answered) == (21, 20)
    finally:
        proc.kill()
        proc.wait(10)


async def test_a_replica_that_replays_counts_what_one_that_kept_running_counts(
    settings, tenancy: TenancyApp, routing: RoutingApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    channel = channel_to(routing)
    await routable(channel, admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel)
    await stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    agent_md = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, ["gm0268"]))
    routed = []
    for _ in range(6):
        reply = await stub.RouteContact(
            rt.RouteContactRequest(
                tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort"
            ),
            metadata=admin,
        )
        routed.append(reply.contact.name)
    await stub.WithdrawContact(rt.WithdrawContactRequest(name=routed[-1]), metadata=admin)
    await serve_offers(stub, agent_md, "agents/fatima", 5)
    fresh = RoutingApp(settings)
    await fresh.start(0)
    try:
        now = time.time()
        kept, replayed = (app.state.router.queue_figures("gm0268", now) for app in (routing, fresh))
        (queue,) = kept
        assert (queue["offered"], queue["answered"], queue["short_abandoned"]) == (6, 5, 1)
        assert replayed == kept
    finally:
        await fresh.stop()


async def test_a_replica_answers_health_serving_only_once_it_has_caught_up(
    settings, tenancy: TenancyApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """A replica starting on a backlog: its health check is not SERVING (nothing listens yet) until it has
    applied everything the stream held, so a load balancer never sends it a call it cannot answer."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    bus = await EventBus.connect(settings, "backlog")
    try:

        async def routed(i: int) -> None:
            contact = events_pb2.ContactRouted(
                contact=f"tenants/gm0268/contacts/backlog-{i}", tenant="gm0268", queue="burgerzaken"
            )
            contact.enqueue_time.GetCurrentTime()
            await bus.publish(
                events.subject("gm0268", "contact", "routed"), events.envelope("gm0268", contact_routed=contact)
            )

        for first in range(0, 5000, 500):
            await asyncio.gather(*(routed(i) for i in range(first, first + 500)))
        held = await bus.last_seq()
    finally:
        await bus.close()
    port = free_port()
    app = RoutingApp(settings)
    starting = asyncio.create_task(app.start(port))
    fast_retries = [("grpc.initial_reconnect_backoff_ms", 20), ("grpc.max_reconnect_backoff_ms", 50)]
    polls = 0
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=fast_retries) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            while True:
                polls += 1
                try:
                    reply = await health.Check(health_pb2.HealthCheckRequest(), timeout=1)
                except grpc.aio.AioRpcError:
                    await asyncio.sleep(0.01)
                    continue
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    break
        assert app.follower.caught_up.is_set() and app.follower.seq >= held
        assert polls > 1, "asked before the replica could have caught up"
    finally:
        await starting
        await app.stop()
