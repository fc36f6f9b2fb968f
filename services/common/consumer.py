"""Durable pull consumers that are idempotent by event id and ack only after their own commit.

A fetched batch is applied in one database transaction: the processed-event rows of the whole
batch are looked up with one query, each new event is applied and noted, one commit, then every
message is acked. One commit per batch instead of one per event is what lets a consumer keep up
with the stream (bench/consumers.py). If the batch fails, its events are applied one by one, so
a single bad event is redelivered (nak) without holding up the others, after a delay that doubles
with each delivery (up to a minute), so a database outage of up to ~15 minutes loses nothing.

The processed-event rows are pruned past the deduplication horizon, `KEEP_PROCESSED` (24 h). An
event can come again only (a) as a redelivery of a message not acked, which JetStream gives up
after MAX_DELIVER deliveries (about 15 minutes of nak delays, or 10 minutes of ACK_WAIT), or
(b) published again by an outbox relay that crashed between JetStream's ack and its delete,
which JetStream itself drops within its duplicate window (2 minutes) and which the relay does
as soon as it runs again. A day covers both with a wide margin; only a relay that stays down for
more than a day between publishing a row and deleting it would count an event twice. Pruning
runs in the consumer loop at most once a minute, and never in the first minute after a start,
when the messages a crashed consumer committed but did not ack come back first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import nats.errors
from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import ServiceUnavailableError
from sqlalchemy import Index, delete, insert
from sqlmodel import Field, Session, SQLModel, col, select

from kcc.events.v1 import events_pb2
from services.common.db import Database
from services.common.events import STREAM, EventBus, consumer_span

log = logging.getLogger(__name__)

MAX_DELIVER = 20
ACK_WAIT_SECONDS = 30
MAX_NAK_DELAY_SECONDS = 60
KEEP_PROCESSED = timedelta(hours=24)
PRUNE_EVERY_SECONDS = 60.0

Apply = Callable[[Session, events_pb2.Envelope], None]
Finish = Callable[[Session], None]
Delivery = tuple[Msg, events_pb2.Envelope]


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"
    __table_args__ = (Index("ix_processed_event_age", "consumer", "processed_at"),)  # the prune reads by age
    consumer: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class IdempotentConsumer:
    """A durable pull consumer on `filter_subject` that changes the database once per event id.

    `apply` takes one new event into the transaction; `finish`, if given, runs once per batch
    before the commit, so that a consumer can note its events' effects in the session (e.g. in
    `session.info`) and write them in a few statements rather than one or more per event.
    """

    def __init__(
        self,
        bus: EventBus,
        db: Database,
        durable: str,
        filter_subject: str,
        apply: Apply,
        finish: Finish | None = None,
        batch: int = 100,
        keep: timedelta = KEEP_PROCESSED,
        prune_every: float = PRUNE_EVERY_SECONDS,
    ) -> None:
        self.bus = bus
        self.db = db
        self.durable = durable
        self.filter_subject = filter_subject
        self.apply = apply
        self.finish = finish
        self.batch = batch
        self.keep = keep
        self.prune_every = prune_every
        self._sub: JetStreamContext.PullSubscription | None = None
        self._next_prune = time.monotonic() + prune_every

    async def run(self, stop: asyncio.Event) -> None:
        """Fetches and applies batches until `stop`; a failing event is redelivered (nak)."""
        try:
            while not stop.is_set():
                try:
                    await self.run_once(stop=stop)
                except Exception as exc:  # noqa: BLE001 - server restarting or database busy: keep trying
                    if isinstance(exc, ServiceUnavailableError):  # a leader being elected (a cluster's start)
                        log.info("consumer %s: JetStream not ready yet, retrying", self.durable)
                    else:
                        log.warning("consumer %s: round failed, retrying", self.durable, exc_info=True)
                    await self.close()
                    await asyncio.sleep(0.5)
                    continue
                if time.monotonic() >= self._next_prune:
                    self._next_prune = time.monotonic() + self.prune_every
                    try:
                        removed = await self.prune()
                    except Exception:  # noqa: BLE001 - database busy: the next minute tries again
                        log.warning("consumer %s: prune failed", self.durable, exc_info=True)
                    else:
                        log.debug("consumer %s: pruned %d processed events", self.durable, removed)
        finally:
            await self.close()

    async def run_once(self, wait_seconds: float = 0.5, stop: asyncio.Event | None = None) -> int:
        """Fetches one batch (waiting up to `wait_seconds`, or until `stop`), applies it, acks it;
        returns how many were fetched."""
        if self._sub is None:
            config = ConsumerConfig(
                durable_name=self.durable,
                filter_subject=self.filter_subject,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_deliver=MAX_DELIVER,
                ack_wait=ACK_WAIT_SECONDS,
            )
            self._sub = await self.bus.js.pull_subscribe(
                self.filter_subject, durable=self.durable, stream=STREAM, config=config
            )
        try:
            msgs = await self._fetch(wait_seconds, stop)
        except (nats.errors.TimeoutError, TimeoutError):
            return 0
        deliveries: list[Delivery] = []
        for msg in msgs:
            try:
                deliveries.append((msg, events_pb2.Envelope.FromString(msg.data)))
            except DecodeError:  # not an envelope: no redelivery will make it one
                log.error("consumer %s: a message on %s is not an envelope, dropped", self.durable, msg.subject)
                await msg.term()
        if not deliveries:
            return len(msgs)
        try:
            await self.db.run(lambda s: self._apply_batch(s, deliveries))
        except Exception:  # noqa: BLE001 - find the bad event: one transaction each
            log.warning("consumer %s: batch of %d failed, applying one by one", self.durable, len(deliveries))
            await self._one_by_one(deliveries)
            return len(msgs)
        for msg, _env in deliveries:
            await self._ack(msg)
        return len(msgs)

    async def _fetch(self, wait_seconds: float, stop: asyncio.Event | None) -> list[Msg]:
        """A stop ends the wait for a batch at once, so that a service stops in milliseconds rather
        than at the end of the wait. The server drops the pull request once `close` has ended the
        subscription, so a message published after goes to another replica's request; one already
        on its way to this replica comes again after ACK_WAIT."""
        assert self._sub is not None
        fetching = asyncio.ensure_future(self._sub.fetch(self.batch, timeout=wait_seconds))
        if stop is None:
            return await fetching
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({fetching, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not fetching.done():
            fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetching
            return []
        return fetching.result()

    async def prune(self, now: datetime | None = None) -> int:
        """Deletes this consumer's processed-event rows older than the horizon; returns how many."""
        cutoff = (now or datetime.now(UTC)) - self.keep
        statement = delete(ProcessedEvent).where(
            col(ProcessedEvent.consumer) == self.durable, col(ProcessedEvent.processed_at) < cutoff
        )
        return int(await self.db.run(lambda s: s.exec(statement).rowcount))  # type: ignore[call-overload]

    def _apply_batch(self, session: Session, deliveries: Sequence[Delivery]) -> None:
        ids = [env.id for _msg, env in deliveries]
        done = set(
            session.exec(
                select(ProcessedEvent.event_id).where(
                    col(ProcessedEvent.consumer) == self.durable, col(ProcessedEvent.event_id).in_(ids)
                )
            )
        )
        new: list[Delivery] = []
        for msg, env in deliveries:
            if env.id not in done:  # else seen before, or twice in this batch (under two message ids)
                done.add(env.id)
                new.append((msg, env))
        with session.no_autoflush:  # one flush at the commit, not one per look-up
            for msg, env in new:
                with consumer_span(msg, env, self.durable):
                    self.apply(session, env)
        if self.finish is not None:
            self.finish(session)
        if new:
            now = datetime.now(UTC)
            rows = [{"consumer": self.durable, "event_id": env.id, "processed_at": now} for _msg, env in new]
            session.connection().execute(insert(ProcessedEvent), rows)  # one statement, no ORM objects

    async def _one_by_one(self, deliveries: Sequence[Delivery]) -> None:
        for msg, env in deliveries:
            try:
                await self.db.run(lambda s, d=(msg, env): self._apply_batch(s, [d]))  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - redeliver later; the id keeps it idempotent
                log.exception("consumer %s: event %s failed", self.durable, env.id)
                with contextlib.suppress(Exception):
                    await msg.nak(delay=min(MAX_NAK_DELAY_SECONDS, 2**msg.metadata.num_delivered))
                continue
            await self._ack(msg)

    async def _ack(self, msg: Msg) -> None:
        try:
            await msg.ack()
        except Exception:  # noqa: BLE001 - redelivered after ack_wait; the id makes that harmless
            log.warning("consumer %s: ack failed", self.durable)

    async def close(self) -> None:
        """Ends the pull subscription (the durable stays); else a drain of the connection waits for it."""
        if self._sub is not None:
            with contextlib.suppress(Exception):
                await self._sub.unsubscribe()
            self._sub = None
