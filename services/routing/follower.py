"""Follows the stream for as long as the replica runs (hot standby).

A pull consumer without acks hands every event to `apply` in stream order; the same loop
replays the day at start and follows live events after. It filters on one subject
(nats-server delivers a consumer with several filter subjects four times slower:
bench/follower_filters.py), and it keeps one pull request open on its own inbox (nats-py's
`fetch` costs a task and a timer per message). A handler that published an event waits with
`applied(seq)` until its own event has come back through here, so what it answers is what
the stream holds, and an event stored after its caller gave up is applied like any other.
Should the consumer vanish (a NATS node restarted) or skip (a lost batch), a new one starts
right after the last event applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kcc.events.v1 import events_pb2
from services.common import telemetry
from services.common.errors import unavailable
from services.common.events import STREAM, EventBus, consumer_span

log = logging.getLogger(__name__)

BATCH = 1000
PULL_EXPIRES_SECONDS = 2.0
HEARTBEAT_SECONDS = 0.5
# A consumer left behind by a replica that died is removed by the server after this long.
INACTIVE_SECONDS = 60.0


def stream_position(reply: str) -> tuple[int, int, int]:
    """(stream sequence, consumer sequence, messages pending) from a JetStream delivery's reply
    subject: what nats-py's `Msg.metadata` gives, without the datetime it also builds."""
    tokens = reply.split(".")
    if len(tokens) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<time>.<pending>
        return int(tokens[5]), int(tokens[6]), int(tokens[8])
    meta = Msg.Metadata._from_reply(reply)  # the longer form with a domain and an account hash
    return meta.sequence.stream, meta.sequence.consumer, meta.num_pending


class StreamFollower:
    def __init__(self, bus: EventBus, apply: Callable[[events_pb2.Envelope], None], subject: str = "kcc.>") -> None:
        self.bus = bus
        self.apply = apply
        self.subject = subject
        self.seq = 0  # stream sequence of the last event applied
        self.applied_events = 0
        self.restarts = 0  # consumers started again after a loss or a gap
        self.caught_up = asyncio.Event()
        self.traced = telemetry.recording()  # live events get a CONSUMER span under the producer's
        # How long a handler waits for its own event: past the publish's own retries, the
        # caller is better served by UNAVAILABLE and a retry with the same request_id.
        self.wait_seconds = 5.0
        self._waiters: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._since: datetime | None = None
        self._inbox = ""
        self._sub: Subscription | None = None
        self._consumer = ""  # "" when a new consumer must be made
        self._consumer_seq = 0
        self._pulled = 0  # messages delivered for the open pull request
        self._request_done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self, since: datetime | None = None, catch_up_seconds: float = 600.0) -> None:
        """Applies everything stored since `since` (all without), returns once caught up, keeps following."""
        self._since = since
        self._inbox = self.bus.nc.new_inbox()
        self._sub = await self.bus.nc.subscribe(self._inbox, cb=self._on_message)
        await self.bus.at_start("stream follower", self._new_consumer, exists=True)
        self._task = asyncio.create_task(self._keep_pulling())
        await asyncio.wait_for(self.caught_up.wait(), catch_up_seconds)

    async def _new_consumer(self) -> None:
        """A consumer from the event after the last one applied (or from `since` before the first)."""
        start: dict[str, object] = {"deliver_policy": DeliverPolicy.ALL}
        if self.seq:
            start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": self.seq + 1}
        elif self._since is not None:
            start = {"deliver_policy": DeliverPolicy.BY_START_TIME, "opt_start_time": self._since}
        config = ConsumerConfig(
            name=f"routing-{uuid.uuid4().hex}",
            filter_subject=self.subject,
            ack_policy=AckPolicy.NONE,
            inactive_threshold=INACTIVE_SECONDS,
            mem_storage=True,
            num_replicas=1,
            **start,  # type: ignore[arg-type]
        )
        info = await self.bus.js.add_consumer(STREAM, config)
        self._consumer, self._consumer_seq = info.name, 0
        if info.num_pending == 0:
            self.caught_up.set()

    async def _keep_pulling(self) -> None:
        """One pull request open at a time; a new one when it is used up or expired. A request that
        neither delivers nor beats its heart in time means the consumer is gone."""
        request = {
            "batch": BATCH,
            "expires": int(PULL_EXPIRES_SECONDS * 1e9),
            "idle_heartbeat": int(HEARTBEAT_SECONDS * 1e9),
        }
        while True:
            try:
                if not self._consumer:
                    await self._new_consumer()
                    self.restarts += 1
                self._request_done.clear()
                self._pulled = 0
                subject = f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{self._consumer}"
                await self.bus.nc.publish(subject, json.dumps(request).encode(), reply=self._inbox)
                async with asyncio.timeout(PULL_EXPIRES_SECONDS + 2 * HEARTBEAT_SECONDS):
                    await self._request_done.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - NATS away or the consumer lost: start again from self.seq
                log.warning("routing follower: %s; following again after %d", type(exc).__name__, self.seq)
                self._consumer = ""
                await asyncio.sleep(HEARTBEAT_SECONDS)

    async def _on_message(self, msg: Msg) -> None:
        if not msg.reply:  # a status: 100 heartbeat, 404/408 request ended, 409 consumer gone
            status = (msg.headers or {}).get("Status", "")
            if status == "409":
                self._consumer = ""
            if status != "100":
                self._request_done.set()
            return
        if not self._consumer or f".{self._consumer}." not in msg.reply:
            return  # a late delivery of a consumer given up (names are unique)
        seq, consumer_seq, pending = stream_position(msg.reply)
        if consumer_seq != self._consumer_seq + 1:  # a batch went missing: start again after self.seq
            self._consumer = ""
            self._request_done.set()
            return
        self._consumer_seq = consumer_seq
        self._pulled += 1
        if seq > self.seq:  # else applied before this consumer started
            env = events_pb2.Envelope.FromString(msg.data)
            if self.traced and self.caught_up.is_set():
                with consumer_span(msg, env, f"routing:{self.subject}"):
                    self.apply(env)
            else:
                self.apply(env)
            self.applied_events += 1
            self.seq = seq
            waiters = self._waiters
            while waiters and waiters[0][0] <= seq:
                future = heapq.heappop(waiters)[2]
                if not future.done():
                    future.set_result(None)
        if pending == 0:
            self.caught_up.set()
        if self._pulled >= BATCH:
            self._request_done.set()

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

    async def sync(self) -> None:
        """Waits until everything the stream holds now is applied here: reading your own writes, or
        another replica's, before saying a contact or an offer does not exist."""
        await self.applied(await self.bus.last_seq())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer:
            with contextlib.suppress(Exception):
                await self.bus.js.delete_consumer(STREAM, self._consumer)
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
