"""The durable consumer in callbacks: contacts per department and day, each event counted once."""

from __future__ import annotations

import asyncio
from datetime import date

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
from tests.builders import UPL, make_tenant, routable


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
        for _ in range(200):
            if (await counts(callbacks))["burgerzaken"][0] == 4:
                break
            await asyncio.sleep(0.05)
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
