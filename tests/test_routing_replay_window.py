"""A replica that starts replays a day of the stream, and further back for what is still open."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import UTC, datetime, timedelta

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client
from services.common.config import Settings
from services.routing.app import RoutingApp
from services.routing.leader import REPLAY_FROM_KEY
from services.tenancy.app import TenancyApp
from tests.builders import UPL, make_tenant, routable

WINDOW = timedelta(seconds=1)  # 25 hours in production


def replica(settings: Settings) -> RoutingApp:
    app = RoutingApp(settings)
    app.replay_window, app.lease_ttl = WINDOW, 3.0
    return app


async def test_a_contact_and_a_desktop_older_than_the_window_are_known_to_a_replica_that_starts(
    settings: Settings, tenancy: TenancyApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    """An e-mail can wait longer than a day, and a desktop stay connected: a replica started later
    must still know them, or it would offer that contact again as its leader."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    first = replica(settings)
    await first.start(0)
    second = None
    try:
        stub = routing_pb2_grpc.RoutingServiceStub(channel_to(first))
        await routable(channel_to(first), admin, "gm0268")
        contact = (
            await stub.RouteContact(
                rt.RouteContactRequest(
                    tenant="tenants/gm0268", channel=common_pb2.CHANNEL_EMAIL, product_uri=UPL + "paspoort"
                ),
                metadata=admin,
            )
        ).contact.name
        await stub.CreateAgent(
            rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
        md = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, ["gm0268"]))
        desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=md)
        await desktop.read()
        offer = await asyncio.wait_for(desktop.read(), 10)
        assert offer.offer.contact.name == contact
        routed_at = first.state.router.contacts[contact].enqueued_at

        async def marked_before_routing() -> bool:
            """The window has passed since, and the leader's mark still reaches back to the contact."""
            mark = json.loads((await first.matcher.lease.kv.get(REPLAY_FROM_KEY)).value or b"{}")
            return time.time() - routed_at > 2 * WINDOW.total_seconds() and mark.get("at", 1e12) <= routed_at

        for _ in range(300):
            if await marked_before_routing():
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the leader never marked where to replay from")

        second = replica(settings)
        await second.start(0)
        known = second.state.router.contacts.get(contact)
        assert known is not None, "the waiting contact is older than the window"
        assert known.state == "OFFERED" and second.state.router.agents["agents/fatima"].offer == contact
        assert second.state.router.agents["agents/fatima"].connected
        # the desktop's offer is accepted through the replica that started later
        other = routing_pb2_grpc.RoutingServiceStub(channel_to(second))
        accepted = await other.AcceptOffer(rt.AcceptOfferRequest(agent="agents/fatima", contact=contact), metadata=md)
        assert accepted.state == rt.Contact.State.STATE_CONNECTED
        desktop.cancel()
    finally:
        for app in (first, second):
            if app is not None:
                with contextlib.suppress(Exception):
                    await app.stop(0.5)


async def test_a_replica_never_replays_further_back_than_its_limit(settings: Settings, tenancy: TenancyApp) -> None:  # type: ignore[no-untyped-def]
    """A contact left open for a month must not make every start read a month of the stream."""
    app = replica(settings)
    await app.start(0)
    try:
        leases = await app.bus.key_value("test-replay-marks")  # not the leader's own, which it rewrites
        await leases.put(REPLAY_FROM_KEY, json.dumps({"at": time.time() - 30 * 86400}).encode())
        start = await app._replay_from(leases)
        assert abs((datetime.now(UTC) - start) - app.replay_limit) < timedelta(seconds=5)
        await leases.put(REPLAY_FROM_KEY, json.dumps({"at": time.time() - 3600}).encode())
        assert abs((datetime.now(UTC) - await app._replay_from(leases)) - timedelta(seconds=3660)) < timedelta(
            seconds=5
        )
    finally:
        await app.stop(0.5)
