"""Webhook delivery end to end: real nats-server, the real webhooks service, a real HTTP receiver.

Events are published on the KCC stream as the services publish them; the receiver checks each
signature and counts: every event of the tenant the subscription wants, none of another
tenant's, in order, duplicates only of an event whose answer was lost.
"""

from __future__ import annotations

from opentelemetry.sdk.trace import ReadableSpan

from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common.config import Settings
from services.common.events import EventBus
from tests.builders import eventually
from tests.conftest import SPANS
from tests.webhook_receiver import Receiver
from tests.webhooks_kit import (
    ARNHEM,
    NIJMEGEN,
    Metadata,
    figures_reaching,
    publish_callback,
    publish_contact,
    rig,
    subscribe,
)


async def test_a_partner_gets_every_event_of_its_tenant_signed_in_order_through_an_outage(
    settings: Settings, admin: Metadata
) -> None:
    async with rig(settings) as r:
        await outage_run(r.stub, r.bus, r.receiver, admin)


async def outage_run(
    stub: webhooks_pb2_grpc.WebhookServiceStub, bus: EventBus, receiver: Receiver, admin: Metadata
) -> None:
    subscription = await subscribe(stub, admin, receiver.url, ["callback.*"])
    assert subscription.name == f"tenants/{NIJMEGEN}/subscriptions/crm"
    assert not subscription.secret and [h.value for h in subscription.headers] == [""]

    receiver.lose_answers = 3  # the first three are taken, but their answers are lost
    wanted: list[str] = []
    for i in range(15):
        wanted.append(await publish_callback(bus, NIJMEGEN, "requested", i))
        await publish_callback(bus, ARNHEM, "requested", i)  # another tenant's
        await publish_contact(bus, NIJMEGEN)  # not a callback event
    await eventually(lambda: len(receiver.ids()) >= 5)
    receiver.down = True  # the partner goes down for a while
    for i in range(15, 30):
        wanted.append(await publish_callback(bus, NIJMEGEN, "claimed", i))
    await eventually(lambda: receiver.refused >= 3)
    receiver.down = False
    await eventually(lambda: len(receiver.ids()) == len(wanted), within=30)

    assert receiver.ids() == wanted  # all of them, in order, none of Arnhem's, no contact event
    assert receiver.bad_signatures == 0
    assert all(receiver.failed_before(i) for i in receiver.duplicates())
    assert {r.event["id"] for r in receiver.received if r.answered != 200} <= set(wanted[:3])

    first = next(r for r in receiver.received if r.answered == 200)
    event = first.event
    assert event["specversion"] == "1.0" and event["id"] == wanted[0]
    assert event["type"] == "nl.kcc-router.callback.requested"
    assert event["source"] == "urn:nld:kcc-router" and event["datacontenttype"] == "application/json"
    assert event["subject"] == f"tenants/{NIJMEGEN}/callbacks/cb-0"
    assert event["data"]["department"] == f"tenants/{NIJMEGEN}/departments/burgerzaken"
    assert "citizen_key" not in event["data"] and "principal" not in event["data"]
    assert "secret-citizen-hash" not in str(receiver.received) and "jansen" not in str(receiver.received)
    assert first.headers["authorization"] == "Token partner-token"
    assert first.headers["content-type"].startswith("application/cloudevents+json")
    sequences = [int(r.event["sequence"]) for r in receiver.received if r.answered == 200]
    assert sequences == sorted(sequences)

    def spans_of_the_last() -> dict[str, ReadableSpan]:
        return {
            s.kind.name: s
            for s in SPANS.get_finished_spans()
            if s.attributes and s.attributes.get("messaging.message.id") == wanted[-1]
        }

    # the delivery's span ends after the receiver has its answer: wait for it rather than race it
    await eventually(lambda: {"CONSUMER", "PRODUCER"} <= spans_of_the_last().keys())
    consumer, producer = spans_of_the_last()["CONSUMER"], spans_of_the_last()["PRODUCER"]
    assert consumer.attributes and consumer.attributes["messaging.consumer.group.name"] == f"webhook-{NIJMEGEN}-crm"
    assert consumer.context and producer.context and consumer.context.trace_id == producer.context.trace_id

    figures = await figures_reaching(stub, admin, subscription.name, lambda f: f.delivered == 30)
    assert (figures.retrying, figures.last_error, figures.parked, figures.pending) == (0, "", 0, 0)


async def test_a_paused_subscription_keeps_its_events_until_resumed(settings: Settings, admin: Metadata) -> None:
    async with rig(settings) as r:
        await pause_run(r.stub, r.bus, r.receiver, admin)


async def pause_run(
    stub: webhooks_pb2_grpc.WebhookServiceStub, bus: EventBus, receiver: Receiver, admin: Metadata
) -> None:
    subscription = await subscribe(stub, admin, receiver.url, ["callback.requested", "contact.routed"])
    first = await publish_callback(bus, NIJMEGEN, "requested", 1)
    await eventually(lambda: receiver.ids() == [first])
    paused = await stub.PauseSubscription(pb.PauseSubscriptionRequest(name=subscription.name), metadata=admin)
    assert paused.state == pb.Subscription.STATE_PAUSED
    held = [await publish_callback(bus, NIJMEGEN, "requested", i) for i in range(2, 4)]
    await publish_callback(bus, NIJMEGEN, "claimed", 9)  # not wanted
    held.append(await publish_contact(bus, NIJMEGEN))  # wanted too: a second filter

    async def waiting() -> pb.SubscriptionFigures:
        return (await stub.GetSubscription(pb.GetSubscriptionRequest(name=subscription.name), metadata=admin)).figures

    figures = await waiting()
    assert figures.pending == 3 and figures.oldest_undelivered_age.ToNanoseconds() > 0
    assert receiver.ids() == [first]  # nothing came while paused (the figures above took a round trip)
    await stub.ResumeSubscription(pb.ResumeSubscriptionRequest(name=subscription.name), metadata=admin)
    await eventually(lambda: receiver.ids() == [first, *held])
