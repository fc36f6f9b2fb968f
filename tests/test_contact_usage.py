"""The durable consumer in callbacks: contacts per department and day, each event counted once."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path

from sqlmodel import select

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.callbacks.contacts import ContactTally
from services.common import events
from services.common.config import Settings
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, consumers_caught_up, make_tenant, routable
from tests.test_callbacks_kit import running, settings_for


async def counts(app: CallbacksApp) -> dict[str, tuple[int, int, int]]:
    rows = await app.db.run(lambda s: list(s.exec(select(ContactTally))))
    return {r.department: (r.routed, r.completed, r.abandoned) for r in rows}


async def test_contacts_are_counted_once_across_redelivery_and_restart(
    settings: Settings, tenancy: TenancyApp, routing: RoutingApp, channel_to, admin
) -> None:  # type: ignore[no-untyped-def]
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    await routable(channel_to(routing), admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
    routed = []
    for _ in range(3):
        reply = await stub.RouteContact(
            rt.RouteContactRequest(
                tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, product_uri=UPL + "paspoort"
            ),
            metadata=admin,
        )
        routed.append(reply.contact.name)
    await stub.WithdrawContact(rt.WithdrawContactRequest(name=routed[0]), metadata=admin)

    callbacks = CallbacksApp(settings)
    await callbacks.start(0)
    try:
        for _ in range(200):
            if (await counts(callbacks)).get("burgerzaken") == (3, 0, 1):
                break
            await asyncio.sleep(0.05)
        assert (await counts(callbacks))["burgerzaken"] == (3, 0, 1)
        # the same event again under another broker message id: JetStream keeps it, we do not count it
        env = events.envelope(
            "gm0268", contact_routed=events_pb2.ContactRouted(contact=routed[1], department="burgerzaken")
        )
        env.id = "replayed-event"
        await routing.bus.publish(events.subject("gm0268", "contact", "routed"), env)
        await routing.bus.js.publish(
            events.subject("gm0268", "contact", "routed"),
            env.SerializeToString(),
            headers={"Nats-Msg-Id": "another-id"},
        )
        # both copies stored, then handed to the consumer and acknowledged: the second was seen, and not counted
        for _ in range(200):
            if await consumers_caught_up(callbacks.bus.js):
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the consumer did not take both copies")
        assert (await counts(callbacks))["burgerzaken"] == (4, 0, 1)
    finally:
        await callbacks.stop()
    restarted = CallbacksApp(settings)
    await restarted.start(0)
    try:
        assert (await counts(restarted))["burgerzaken"] == (4, 0, 1)
        rows = await restarted.db.run(lambda s: list(s.exec(select(ContactTally))))
        assert all(isinstance(r.day, date) for r in rows)
    finally:
        await restarted.stop()


async def test_two_callbacks_replicas_share_the_consumer_and_count_every_event_once(
    tmp_path: Path, nats_url: str, database_url: str
) -> None:
    """Both replicas fetch from the one durable consumer and add to the same tallies at once:
    the counts are increments in the database (an upsert), so none is lost."""
    settings = settings_for(tmp_path, nats_url, database_url)
    departments = ("burgerzaken", "belastingen", "wmo")
    async with running(settings) as first, running(settings) as second:
        for n in range(1500):
            department = departments[n % len(departments)]
            if n % 5 == 4:
                change = events_pb2.ContactChanged(contact=f"c{n}", change="completed", queue=department)
                env = events.envelope("gm0268", contact_changed=change)
            else:
                env = events.envelope(
                    "gm0268", contact_routed=events_pb2.ContactRouted(contact=f"c{n}", department=department)
                )
            kind = "changed" if n % 5 == 4 else "routed"
            await first.bus.publish(events.subject("gm0268", "contact", kind), env)
        expected = {d: (400, 100, 0) for d in departments}
        for _ in range(300):
            if await counts(second) == expected:
                break
            await asyncio.sleep(0.05)
        assert await counts(first) == expected
