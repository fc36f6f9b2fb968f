"""Follows routing's events in the stream for as long as the replica runs (hot standby).

One ordered consumer delivers the contact, agent and matcher events in stream order to
`apply`. A handler that published an event waits with `applied(seq)` until its own event
has come back through here, so what it answers is what the stream holds, and an event
stored after its caller gave up is applied like any other.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import ConsumerConfig, DeliverPolicy

from kcc.events.v1 import events_pb2
from services.common.errors import unavailable
from services.common.events import STREAM, EventBus

SUBJECTS = ["kcc.*.contact.>", "kcc.platform.agent.>", "kcc.platform.matcher.>"]


def stream_position(reply: str) -> tuple[int, int]:
    """(stream sequence, messages pending) from a JetStream delivery's reply subject: what nats-py's
    `Msg.metadata` gives, without the datetime it also builds for every message."""
    tokens = reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<time>.<pending>
        return int(tokens[5]), int(tokens[8])
    meta = Msg.Metadata._from_reply(reply)  # the longer form with a domain and an account hash
    return meta.sequence.stream, meta.num_pending


class StreamFollower:
    def __init__(self, bus: EventBus, apply: Callable[[events_pb2.Envelope], None]) -> None:
        self.bus = bus
        self.apply = apply
        self.seq = 0  # stream sequence of the last event applied
        self.applied_events = 0
        self.caught_up = asyncio.Event()
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._sub: Subscription | None = None
        # How long a handler waits for its own event: past the publish's own retries, the
        # caller is better served by UNAVAILABLE and a retry with the same request_id.
        self.wait_seconds = 5.0

    async def start(self, since: datetime, catch_up_seconds: float = 300.0) -> None:
        """Applies everything stored since `since`, returns once caught up, and keeps following."""
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since, filter_subjects=SUBJECTS
        )
        self._sub = await self.bus.js.subscribe(
            SUBJECTS[0], stream=STREAM, cb=self._on_message, ordered_consumer=True, config=config
        )
        info = await self._sub.consumer_info()
        if info.num_pending == 0 and self._sub.delivered == 0:
            self.caught_up.set()
        await asyncio.wait_for(self.caught_up.wait(), catch_up_seconds)

    async def _on_message(self, msg: Msg) -> None:
        seq, pending = stream_position(msg.reply)
        self.apply(events_pb2.Envelope.FromString(msg.data))
        self.applied_events += 1
        self.seq = seq
        if pending == 0:
            self.caught_up.set()
        waiters = self._waiters
        while waiters and waiters[0][0] <= self.seq:
            future = heapq.heappop(waiters)[2]
            if not future.done():
                future.set_result(None)

    async def applied(self, seq: int) -> None:
        """Waits until the event at stream sequence `seq` has been applied here."""
        if seq <= self.seq:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiters, (seq, next(self._order), future))
        try:
            async with asyncio.timeout(self.wait_seconds):
                await future
        except TimeoutError:
            raise unavailable("routing has not yet seen its own event; retry with the same request_id") from None

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
