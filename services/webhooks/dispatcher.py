"""The dispatcher: every replica follows the subscriptions; per subscription one holds a lease and delivers.

For a subscription it holds, a replica pulls the next event from the subscription's durable
consumer (one in flight at a time, so in order), posts it until the receiver takes it or the
retry period ends, and only then acks it (delivered) or parks it as a dead letter and acks it.
A replica that dies leaves its event unacked: the next holder gets it after the consumer's
ack wait and posts it again, the one duplicate at-least-once allows. A holder posts only while
its lease has more time left than a post may take, so two replicas never post the same
subscription at once. Pause, delete, replay and redelivery reach it through the subscription's
KV entry, which every replica watches.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from kcc.events.v1 import events_pb2
from services.common.bucketwatch import BucketFollower
from services.common.events import STREAM, EventBus, consumer_span
from services.common.lease import Lease
from services.webhooks import cloudevents
from services.webhooks.delivery import Policy, Poster
from services.webhooks.store import (
    ACTIVE,
    DeadLetterRecord,
    DeliveryState,
    Store,
    SubscriptionRecord,
    now_rfc3339,
)

log = logging.getLogger(__name__)

FETCH_WAIT_SECONDS = 1.0
# After a delivery the state is written at most this often (and when idle, failing or stopping):
# a replica dying loses at most this much of the delivered count, never an event.
SAVE_EVERY_SECONDS = 1.0
# A holder renews when less than this share of the lease is left.
RENEW_AT = 2 / 3


class Outcome(Enum):
    DELIVERED = "delivered"
    EXPIRED = "expired"  # the retry period passed: park it
    INTERRUPTED = "interrupted"  # paused, deleted, replay asked, lease lost or stopping


@dataclass
class Held:
    """What this replica knows of a subscription it delivers, for the gauges."""

    state: DeliveryState
    pending: int = 0


class Dispatcher:
    def __init__(
        self, bus: EventBus, store: Store, leases: KeyValue, poster: Poster, policy: Policy, instance: str
    ) -> None:
        self.bus = bus
        self.store = store
        self.js: JetStreamContext = store.js
        self.leases = leases
        self.poster = poster
        self.policy = policy
        self.instance = instance
        self.records: dict[str, SubscriptionRecord] = {}
        self.held: dict[str, Held] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._saved_at: dict[str, float] = {}
        self._unsaved: set[str] = set()
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()

    async def run(self, stop: asyncio.Event) -> None:
        """Follows the subscriptions bucket until `stop`; a worker per subscription."""
        self._stop = stop
        follower = asyncio.create_task(self._follow())
        await stop.wait()
        follower.cancel()
        for event in self._changed.values():
            event.set()
        await asyncio.gather(follower, *self._workers.values(), return_exceptions=True)

    async def _follow(self) -> None:
        """Follows the subscriptions bucket (watched again when the watch falls behind); a start that
        fails (NATS gone for a while) is tried again, the workers going on with what they know."""

        def new() -> BucketFollower:
            return BucketFollower(self.bus, self.store.subscriptions, "subscriptions", self._apply)

        follower = new()
        try:
            while True:
                try:
                    await follower.start()
                    break
                except Exception:  # noqa: BLE001 - tried again in a moment
                    log.warning("webhooks: watching subscriptions failed; watching again", exc_info=True)
                    await follower.stop()
                    follower = new()
                    await asyncio.sleep(1.0)
            await asyncio.Event().wait()  # until the dispatcher stops
        finally:
            await follower.stop()

    async def _apply(self, entry: KeyValue.Entry) -> None:
        k = entry.key
        if not entry.value or entry.operation in ("DEL", "PURGE"):
            self.records.pop(k, None)
        else:
            self.records[k] = SubscriptionRecord.from_json(entry.value)
            worker = self._workers.get(k)
            if worker is None or worker.done():
                self._workers[k] = asyncio.create_task(self._worker(k))
        self._wake(k)

    def _wake(self, k: str) -> None:
        self._changed.setdefault(k, asyncio.Event()).set()

    async def _wait(self, k: str, seconds: float) -> None:
        """Sleeps up to `seconds`, less when the subscription changes or the process stops."""
        event = self._changed.setdefault(k, asyncio.Event())
        if not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), max(0.0, seconds))
        event.clear()

    # -- one subscription -------------------------------------------------------------------------

    async def _worker(self, k: str) -> None:
        lease = Lease(self.leases, k, self.policy.lease_seconds, self.instance)
        try:
            while not self._stop.is_set():
                record = self.records.get(k)
                if record is None:
                    return
                if record.state != ACTIVE:
                    await lease.release()
                    self.held.pop(k, None)
                    await self._wait(k, 3600)
                    continue
                if not await self._acquire(lease):
                    await self._wait(k, self.policy.lease_seconds / 3)  # standby
                    continue
                try:
                    await self._deliver(k, lease)
                except Exception:  # noqa: BLE001 - NATS paused or the consumer changed: try again
                    log.warning("webhooks %s: delivery round failed", k, exc_info=True)
                    await self._wait(k, 0.5)
        finally:
            with contextlib.suppress(Exception):
                await lease.release()
            self.held.pop(k, None)
            if not self._stop.is_set() and k in self.records:  # deleted and made again meanwhile
                self._workers[k] = asyncio.create_task(self._worker(k))

    async def _acquire(self, lease: Lease) -> bool:
        try:
            return await lease.acquire()
        except Exception:  # noqa: BLE001 - NATS unreachable: we do not hold it
            log.debug("webhooks %s: lease not reachable", lease.key, exc_info=True)
            return False

    async def _renew(self, lease: Lease) -> None:
        """Renews early enough that `_may_post` never finds too little lease left for a post."""
        if lease.remaining < max(lease.ttl * RENEW_AT, self.policy.post_timeout_seconds + 1.5):
            await self._acquire(lease)

    def _may_post(self, k: str, lease: Lease, state: DeliveryState) -> bool:
        """Still ours, still wanted, and time for a whole post before the lease could lapse."""
        record = self.records.get(k)
        return (
            not self._stop.is_set()
            and record is not None
            and record.state == ACTIVE
            and record.create_time == state.incarnation
            and record.replay.generation == state.replay_applied
            and lease.remaining > self.policy.post_timeout_seconds + 1.0
        )

    async def _deliver(self, k: str, lease: Lease) -> None:
        """Delivers while the lease is held; returns to let the worker look at the subscription again."""
        state = await self.store.delivery_state(self.records[k])
        self.held[k] = Held(state)
        await self._catch_up(self.records[k], state)
        psub = await self.js.pull_subscribe_bind(durable=self.records[k].consumer, stream=STREAM)
        try:
            while True:
                await self._renew(lease)
                record = self.records.get(k)
                if not self._may_post(k, lease, state) or record is None:
                    return
                if record.redeliver_generation > state.redeliver_applied:
                    await self._redeliver(record, state, lease)
                    continue
                try:
                    msgs = await psub.fetch(1, timeout=FETCH_WAIT_SECONDS)
                except (nats.errors.TimeoutError, TimeoutError):
                    self.held[k].pending = 0
                    if k in self._unsaved:
                        await self._save(k, state)
                    continue
                await self._handle(record, state, msgs[0], lease)
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
            current = self.records.get(k)
            if k in self._unsaved and current is not None and current.create_time == state.incarnation:
                with contextlib.suppress(Exception):
                    await self._save(k, state)

    async def _catch_up(self, record: SubscriptionRecord, state: DeliveryState) -> None:
        """Applies a replay asked for (a new consumer from its start); recreates a lost consumer."""
        if record.replay.generation > state.replay_applied:
            await self.store.delete_consumer(record.consumer)
            await self.store.ensure_consumer(record, replay=record.replay)
            state.replay_applied = record.replay.generation
            state.reset_head()
            await self._save(record.key, state)
            log.info("webhooks %s: replaying (generation %d)", record.key, state.replay_applied)
            return
        try:
            await self.js.consumer_info(STREAM, record.consumer)
        except NotFoundError:
            log.warning("webhooks %s: consumer missing, recreated after the last delivered event", record.key)
            await self.store.ensure_consumer(record, after=state.last_sequence)

    async def _handle(self, record: SubscriptionRecord, state: DeliveryState, msg: Msg, lease: Lease) -> None:
        seq = msg.metadata.sequence.stream
        try:
            env = events_pb2.Envelope.FromString(msg.data)
        except DecodeError:
            log.error("webhooks %s: stream sequence %d is not an envelope, skipped", record.key, seq)
            await msg.term()
            return
        if state.head_sequence != seq:  # else taken over mid-retry: the period still counts from before
            state.reset_head()
            state.head_sequence, state.head_time = seq, env.occurred_at.ToJsonString()
        self.held[record.key].pending = (msg.metadata.num_pending or 0) + 1
        body = cloudevents.encode(msg.subject, env, seq)
        with consumer_span(msg, env, record.consumer):  # the producer's trace goes on to the post
            outcome = await self._attempts(record, state, env.id, body, lease, msg.in_progress)
        if outcome is Outcome.INTERRUPTED:
            with contextlib.suppress(Exception):
                await msg.nak()  # to whoever holds the subscription next, at once
            return
        if outcome is Outcome.EXPIRED:
            await self._park(record, state, env, msg.subject, seq)
        else:
            state.delivered += 1
        recovered = state.head_attempts > 0  # the figures stop saying "retrying" at once
        state.last_sequence = seq
        state.reset_head()
        await self._save(record.key, state, at_once=outcome is Outcome.EXPIRED or recovered)
        try:
            # Not waited for: the next fetch goes after it on the same connection. A lost ack
            # brings the event again after the ack wait: the allowed duplicate.
            await msg.ack()
        except Exception:  # noqa: BLE001
            log.warning("webhooks %s: ack of sequence %d failed; it will be delivered again", record.key, seq)
        self.held[record.key].pending = msg.metadata.num_pending or 0

    async def _save(self, k: str, state: DeliveryState, at_once: bool = True) -> None:
        """Writes the delivery state; after a plain delivery at most every SAVE_EVERY_SECONDS."""
        now = time.monotonic()
        if not at_once and now - self._saved_at.get(k, 0.0) < SAVE_EVERY_SECONDS:
            self._unsaved.add(k)
            return
        self._saved_at[k] = now
        self._unsaved.discard(k)
        await self.store.put_state(k, state)

    async def _attempts(
        self,
        record: SubscriptionRecord,
        state: DeliveryState,
        event_id: str,
        body: bytes,
        lease: Lease,
        keep_alive: Callable[[], Awaitable[None]],
    ) -> Outcome:
        """Posts until delivered, the retry period ends, or delivering is no longer ours to do."""
        k = record.key
        while True:
            await self._renew(lease)
            if not self._may_post(k, lease, state):
                return Outcome.INTERRUPTED
            with contextlib.suppress(Exception):
                await keep_alive()  # the ack wait starts again: the consumer keeps the event ours
            error = await self.poster.post(self.records.get(k, record), event_id, body)
            if error is None:
                state.last_error = ""
                return Outcome.DELIVERED
            now = time.time()
            state.head_attempts += 1
            state.last_error = error
            state.head_first_failure = state.head_first_failure or now
            left = state.head_first_failure + self.policy.retry_seconds - now
            if left <= 0:
                return Outcome.EXPIRED
            await self._save(k, state)
            log.info("webhooks %s: post failed (%s), attempt %d", k, error, state.head_attempts)
            until = time.monotonic() + min(left, self.policy.backoff(state.head_attempts))
            while time.monotonic() < until and self._may_post(k, lease, state):
                with contextlib.suppress(Exception):
                    await keep_alive()  # the consumer keeps it ours meanwhile
                await self._renew(lease)
                step = min(self.policy.ack_wait_seconds, lease.ttl) / 3
                await self._wait(k, min(until - time.monotonic(), step))

    async def _park(
        self, record: SubscriptionRecord, state: DeliveryState, env: events_pb2.Envelope, subject: str, seq: int
    ) -> None:
        letter = DeadLetterRecord(
            tenant=record.tenant,
            subscription=record.subscription,
            sequence=seq,
            event_id=env.id,
            type=cloudevents.TYPE_PREFIX + cloudevents.event_type(subject),
            event_time=env.occurred_at.ToJsonString(),
            park_time=now_rfc3339(),
            attempts=state.head_attempts,
            last_error=state.last_error,
        )
        await self.store.dead_letters.put(letter.key, letter.to_json())
        state.parked += 1
        log.warning("webhooks %s: sequence %d parked after %d attempts", record.key, seq, state.head_attempts)

    async def _redeliver(self, record: SubscriptionRecord, state: DeliveryState, lease: Lease) -> None:
        """Posts the dead letters queued for redelivery, oldest first, before the next new event."""
        generation = record.redeliver_generation

        async def nothing() -> None:
            return None

        for letter in await self.store.dead_letter_records(record.tenant, record.subscription):
            if not letter.redelivering:
                continue
            try:
                raw = await self.js.get_msg(STREAM, seq=letter.sequence)
                env = events_pb2.Envelope.FromString(raw.data or b"")
            except (NotFoundError, DecodeError):
                letter.redelivering, letter.last_error = False, "no longer in the stream"
                await self.store.dead_letters.put(letter.key, letter.to_json())
                continue
            state.reset_head()
            state.head_sequence, state.head_time = letter.sequence, letter.event_time
            body = cloudevents.encode(raw.subject or "", env, letter.sequence)
            outcome = await self._attempts(record, state, env.id, body, lease, nothing)
            if outcome is Outcome.INTERRUPTED:
                return
            if outcome is Outcome.DELIVERED:
                await self.store.dead_letters.purge(letter.key)
                state.parked -= 1
                state.delivered += 1
            else:
                letter.attempts += state.head_attempts
                letter.redelivering, letter.last_error, letter.park_time = False, state.last_error, now_rfc3339()
                await self.store.dead_letters.put(letter.key, letter.to_json())
            state.reset_head()
            await self._save(record.key, state)
        state.redeliver_applied = generation
        await self._save(record.key, state)
