"""Reads a subject of the stream from a point in time up to now, then optionally keeps following.

In-memory state (queues, open-callback indexes) is rebuilt this way on start.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from kcc.events.v1 import events_pb2
from services.common.events import STREAM, EventBus, consumer_span


async def replay(
    bus: EventBus,
    filter_subject: str,
    apply: Callable[[events_pb2.Envelope], None],
    since: datetime | None = None,
    follow: bool = False,
    catch_up_seconds: float = 120.0,
) -> Subscription | None:
    """Applies every stored event, returns once caught up; live ones follow if asked."""
    caught_up = asyncio.Event()

    async def on_message(msg: Msg) -> None:
        live = caught_up.is_set()
        env = events_pb2.Envelope.FromString(msg.data)
        if live:
            with consumer_span(msg, env, f"replay:{filter_subject}"):
                apply(env)
        else:
            apply(env)
        if not live and msg.metadata.num_pending == 0:
            caught_up.set()

    config = ConsumerConfig(
        deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
        opt_start_time=since,
    )
    sub = await bus.js.subscribe(filter_subject, stream=STREAM, cb=on_message, ordered_consumer=True, config=config)
    pending = await sub.consumer_info()
    if pending.num_pending == 0 and sub.delivered == 0:
        caught_up.set()
    await asyncio.wait_for(caught_up.wait(), catch_up_seconds)
    if follow:
        return sub
    await sub.unsubscribe()
    return None
