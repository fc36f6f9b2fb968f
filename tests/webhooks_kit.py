"""What the webhook tests share: fast timings, the service and receiver fixtures, event publishers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import grpc

from kcc.events.v1 import events_pb2
from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import events
from services.common.config import Settings
from services.common.events import EventBus
from services.webhooks.app import WebhooksApp
from services.webhooks.delivery import Policy
from tests.webhook_receiver import Receiver, running

NIJMEGEN, ARNHEM = "gm0268", "gm0202"
SECRET = "whs-test-secret-0123456789"
FAST = Policy(
    retry_seconds=60.0,
    first_backoff_seconds=0.05,
    max_backoff_seconds=0.3,
    post_timeout_seconds=2.0,
    ack_wait_seconds=5.0,  # a margin over the post time-out that a loaded CI machine keeps
    lease_seconds=4.0,
)
Metadata = tuple[tuple[str, str], ...]


@dataclass
class Rig:
    """A running webhooks service, a gRPC stub to it, a publisher on the KCC stream and a receiver."""

    app: WebhooksApp
    stub: webhooks_pb2_grpc.WebhookServiceStub
    bus: EventBus
    receiver: Receiver


@asynccontextmanager
async def webhooks_running(settings: Settings, policy: Policy = FAST) -> AsyncIterator[WebhooksApp]:
    app = WebhooksApp(settings, policy)
    await app.start(0)
    try:
        yield app
    finally:
        await app.stop()


@asynccontextmanager
async def rig(settings: Settings, policy: Policy = FAST) -> AsyncIterator[Rig]:
    bus = await EventBus.connect(settings, "test-publisher")
    try:
        async with (
            running(Receiver(SECRET)) as receiver,
            webhooks_running(settings, policy) as app,
            grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel,
        ):
            yield Rig(app, webhooks_pb2_grpc.WebhookServiceStub(channel), bus, receiver)
    finally:
        await bus.close()


async def publish_callback(bus: EventBus, tenant: str, change: str, number: int) -> str:
    """A callback event as callbacks publishes it, with a citizen key that must not reach the receiver."""
    env = events.envelope(
        tenant,
        callback_changed=events_pb2.CallbackChanged(
            callback=f"tenants/{tenant}/callbacks/cb-{number}",
            change=change,
            status="REQUESTED",
            department=f"tenants/{tenant}/departments/burgerzaken",
            citizen_key="v1.secret-citizen-hash",
            principal="medewerker-jansen",
        ),
    )
    await bus.publish(events.subject(tenant, "callback", change), env)
    return env.id


async def publish_contact(bus: EventBus, tenant: str) -> str:
    env = events.envelope(tenant, contact_routed=events_pb2.ContactRouted(contact=f"tenants/{tenant}/contacts/c-1"))
    await bus.publish(events.subject(tenant, "contact", "routed"), env)
    return env.id


async def subscribe(
    stub: webhooks_pb2_grpc.WebhookServiceStub,
    md: Metadata,
    url: str,
    event_types: list[str],
    tenant: str = NIJMEGEN,
    subscription_id: str = "crm",
) -> pb.Subscription:
    return await stub.CreateSubscription(
        pb.CreateSubscriptionRequest(
            parent=f"tenants/{tenant}",
            subscription_id=subscription_id,
            subscription=pb.Subscription(
                url=url,
                event_types=event_types,
                secret=SECRET,
                headers=[pb.Header(key="authorization", value="Token partner-token")],
            ),
            request_id=f"create-{subscription_id}",
        ),
        metadata=md,
    )


async def figures_reaching(
    stub: webhooks_pb2_grpc.WebhookServiceStub,
    md: Metadata,
    name: str,
    wanted: Callable[[pb.SubscriptionFigures], bool],
    within: float = 10.0,
) -> pb.SubscriptionFigures:
    """The subscription's figures once `wanted` holds (counts are written at most every second)."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        got = await stub.GetSubscription(pb.GetSubscriptionRequest(name=name), metadata=md)
        if wanted(got.figures):
            return got.figures
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"figures not reached in time: {got.figures}")
        await asyncio.sleep(0.1)
