"""Durable pull consumers that are idempotent by event id and ack only after their own commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlmodel import Field, Session, SQLModel

from kcc.events.v1 import events_pb2
from services.common.db import Database
from services.common.events import STREAM, EventBus, consumer_span

log = logging.getLogger(__name__)

MAX_DELIVER = 20


class ProcessedEvent(SQLModel, table=True):
    __tablename__ = "processed_event"
    consumer: str = Field(primary_key=True, max_length=64)
    event_id: str = Field(primary_key=True, max_length=64)
    processed_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


MessageHandler = Callable[[Msg, events_pb2.Envelope], Awaitable[None]]


async def consume(
    bus: EventBus,
    durable: str,
    filter_subject: str,
    handle: MessageHandler,
    stop: asyncio.Event,
    batch: int = 100,
) -> None:
    """Fetches and handles messages until `stop`; a failing message is redelivered (nak)."""
    config = ConsumerConfig(
        durable_name=durable,
        filter_subject=filter_subject,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        max_deliver=MAX_DELIVER,
        ack_wait=30,
    )
    sub = None
    try:
        while not stop.is_set():
            try:
                if sub is None:
                    sub = await bus.js.pull_subscribe(filter_subject, durable=durable, stream=STREAM, config=config)
                msgs = await sub.fetch(batch, timeout=0.5)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception:  # noqa: BLE001 - server restarting: keep trying
                log.warning("consumer %s: fetch failed, retrying", durable, exc_info=True)
                sub = None
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                env = events_pb2.Envelope.FromString(msg.data)
                with consumer_span(msg, env, durable):
                    try:
                        await handle(msg, env)
                    except Exception:  # noqa: BLE001 - redeliver later; the id keeps it idempotent
                        log.exception("consumer %s: event %s failed", durable, env.id)
                        await msg.nak(delay=1)
                        continue
                try:
                    await msg.ack_sync(timeout=5)
                except Exception:  # noqa: BLE001 - redelivered after ack_wait; the id makes that harmless
                    log.warning("consumer %s: ack of %s failed", durable, env.id)
    finally:
        if sub is not None:  # else nc.drain() waits for the pull subscription on stop
            with contextlib.suppress(Exception):
                await sub.unsubscribe()


def idempotent(db: Database, consumer: str, apply: Callable[[Session, events_pb2.Envelope], None]) -> MessageHandler:
    """Wraps `apply` so each event id changes the database once, in the same transaction."""

    def _once(session: Session, env: events_pb2.Envelope) -> None:
        if session.get(ProcessedEvent, (consumer, env.id)) is not None:
            return
        apply(session, env)
        session.add(ProcessedEvent(consumer=consumer, event_id=env.id))

    async def handle(_msg: Msg, env: events_pb2.Envelope) -> None:
        await db.run(lambda s: _once(s, env))

    return handle
