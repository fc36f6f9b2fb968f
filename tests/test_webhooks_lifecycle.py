"""A subscription paused in the middle of retrying, and one deleted and made again under its name."""

from __future__ import annotations

import pytest
from nats.js.errors import NotFoundError

from kcc.webhooks.v1 import webhooks_pb2 as pb
from services.common.config import Settings
from services.common.events import STREAM
from tests.builders import eventually
from tests.webhooks_kit import NIJMEGEN, Metadata, figures_reaching, publish_callback, rig, subscribe


async def test_pausing_while_retrying_keeps_the_event_and_its_order_for_after_the_resume(
    settings: Settings, admin: Metadata
) -> None:
    async with rig(settings) as r:
        subscription = await subscribe(r.stub, admin, r.receiver.url, ["callback.*"])
        r.receiver.down = True
        ids = [await publish_callback(r.bus, NIJMEGEN, "requested", i) for i in range(3)]
        retrying = await figures_reaching(r.stub, admin, subscription.name, lambda f: f.retrying == 1)
        assert retrying.last_error == "HTTP 503" and retrying.pending == 3
        assert retrying.oldest_undelivered_age.ToNanoseconds() > 0

        await r.stub.PauseSubscription(pb.PauseSubscriptionRequest(name=subscription.name), metadata=admin)
        r.receiver.down = False
        paused = await figures_reaching(r.stub, admin, subscription.name, lambda f: f.pending == 3)
        assert paused.delivered == 0
        await r.stub.ResumeSubscription(pb.ResumeSubscriptionRequest(name=subscription.name), metadata=admin)
        await eventually(lambda: r.receiver.ids() == ids)
        done = await figures_reaching(r.stub, admin, subscription.name, lambda f: f.delivered == 3)
        assert (done.retrying, done.pending, done.last_error) == (0, 0, "")


async def test_a_deleted_subscription_takes_its_consumer_along_and_its_name_can_be_used_again(
    settings: Settings, admin: Metadata
) -> None:
    async with rig(settings) as r:
        first = await subscribe(r.stub, admin, r.receiver.url, ["callback.*"])
        before = await publish_callback(r.bus, NIJMEGEN, "requested", 0)
        await eventually(lambda: r.receiver.ids() == [before])
        await r.stub.DeleteSubscription(pb.DeleteSubscriptionRequest(name=first.name), metadata=admin)
        with pytest.raises(NotFoundError):
            await r.bus.js.consumer_info(STREAM, f"webhook-{NIJMEGEN}-crm")
        between = await publish_callback(r.bus, NIJMEGEN, "requested", 1)  # nobody wants it

        again = await r.stub.CreateSubscription(
            pb.CreateSubscriptionRequest(
                parent=f"tenants/{NIJMEGEN}",
                subscription_id="crm",
                subscription=pb.Subscription(url=r.receiver.url, secret=r.receiver.secret, event_types=["*"]),
                request_id="create-crm-again",
            ),
            metadata=admin,
        )
        assert again.name == first.name and list(again.event_types) == ["*"]
        after = await publish_callback(r.bus, NIJMEGEN, "claimed", 2)
        await eventually(lambda: r.receiver.ids() == [before, after])
        assert between not in r.receiver.ids()
        figures = await figures_reaching(r.stub, admin, again.name, lambda f: f.delivered == 1)
        assert figures.parked == 0  # the old subscription's state went with it


async def test_a_replay_asked_while_paused_runs_when_resumed(settings: Settings, admin: Metadata) -> None:
    async with rig(settings) as r:
        subscription = await subscribe(r.stub, admin, r.receiver.url, ["callback.*"])
        ids = [await publish_callback(r.bus, NIJMEGEN, "requested", i) for i in range(3)]
        await eventually(lambda: r.receiver.ids() == ids)
        first = r.receiver.received[0].event["sequence"]
        await r.stub.PauseSubscription(pb.PauseSubscriptionRequest(name=subscription.name), metadata=admin)
        await r.stub.ReplaySubscription(
            pb.ReplaySubscriptionRequest(name=subscription.name, start_sequence=int(first)), metadata=admin
        )
        paused = await figures_reaching(r.stub, admin, subscription.name, lambda f: f.delivered == 3)
        assert paused.pending == 0  # the replay waits for the resume: the consumer is still the old one
        await r.stub.ResumeSubscription(pb.ResumeSubscriptionRequest(name=subscription.name), metadata=admin)
        later = await publish_callback(r.bus, NIJMEGEN, "claimed", 3)
        await eventually(lambda: len(r.receiver.received) == 7)
        assert [x.event["id"] for x in r.receiver.received] == [*ids, *ids, later]
