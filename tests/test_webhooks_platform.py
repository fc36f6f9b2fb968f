"""The real services' events reach a partner: a routed contact and a filed callback, nothing personal."""

from __future__ import annotations

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from services.common import auth
from tests.builders import UPL, eventually
from tests.rpc_table import OTHER, World
from tests.webhooks_kit import rig, subscribe

PHONE = "0612345678"
NOTE = "Mevrouw De Vries wil na vijven gebeld worden"


async def test_a_routed_contact_and_a_filed_callback_arrive_without_personal_data(world: World) -> None:
    own = world.own
    partner = world.metadata(auth.Role.TENANT_INTEGRATION)
    async with rig(world.settings) as r:
        await subscribe(r.stub, partner, r.receiver.url, ["*"], tenant=own.tenant)
        contact = await world.routing.RouteContact(
            rt.RouteContactRequest(tenant=own.parent, channel=common_pb2.CHANNEL_PHONE, question="paspoort"),
            metadata=partner,
        )
        callback = await world.callbacks.CreateCallback(
            cb.CreateCallbackRequest(
                parent=own.parent,
                callback=cb.Callback(
                    department=own.name("departments", own.department),
                    product_uri=UPL + "paspoort",
                    phone_number=PHONE,
                    note=NOTE,
                    channel=common_pb2.CHANNEL_PHONE,
                ),
            ),
            metadata=partner,
        )
        # Arnhem's callback is another tenant's event: never delivered here.
        await world.callbacks.CreateCallback(
            cb.CreateCallbackRequest(
                parent=world.others()["real"].parent,
                callback=cb.Callback(
                    department=world.others()["real"].name("departments", "burgerzaken"),
                    product_uri=UPL + "paspoort",
                    phone_number=PHONE,
                    channel=common_pb2.CHANNEL_PHONE,
                ),
            ),
            metadata=world.admin,
        )

        def types() -> dict[str, dict[str, object]]:
            return {x.event["type"]: x.event for x in r.receiver.received}

        await eventually(lambda: {"nl.kcc-router.contact.routed", "nl.kcc-router.callback.requested"} <= types().keys())
        routed, requested = types()["nl.kcc-router.contact.routed"], types()["nl.kcc-router.callback.requested"]
        assert routed["subject"] == contact.contact.name
        assert requested["subject"] == callback.name
        assert requested["data"]["department"] == own.name("departments", own.department)  # type: ignore[index]

        everything = b"".join(x.body for x in r.receiver.received)
        for personal in (PHONE[1:], NOTE, callback.citizen_key):
            assert personal and personal.encode() not in everything, personal
        assert OTHER.encode() not in everything
        assert r.receiver.bad_signatures == 0
