"""Transactional outbox: an event row commits with the business row, a relay publishes it.

A crash between commit and publish loses nothing (the row stays until JetStream
acks it); a crash between ack and delete publishes again with the same
`Nats-Msg-Id`, which JetStream and the idempotent consumers both drop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from datetime import UTC, datetime

from sqlmodel import Field, Session, SQLModel, col, select

from kcc.events.v1 import events_pb2
from services.common import telemetry
from services.common.db import Database
from services.common.events import EventBus

log = logging.getLogger(__name__)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox"
    seq: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    subject: str = Field(max_length=255)
    payload: bytes
    trace_headers: str = "{}"
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


def add_event(session: Session, subject: str, env: events_pb2.Envelope) -> None:
    """Stages an event in the caller's transaction, with the current trace context."""
    session.add(
        OutboxEvent(
            event_id=env.id,
            subject=subject,
            payload=env.SerializeToString(),
            trace_headers=json.dumps(telemetry.inject()),
        )
    )


class OutboxRelay:
    """Publishes outbox rows in commit order; `wake()` after a commit makes it go at once."""

    def __init__(self, db: Database, bus: EventBus, batch: int = 200, idle_seconds: float = 1.0):
        self.db = db
        self.bus = bus
        self.batch = batch
        self.idle_seconds = idle_seconds
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # before reading: a commit during the publish wakes the next round
            try:
                published = await self.publish_pending()
            except Exception:  # noqa: BLE001 - NATS down or DB busy: retry after a pause
                log.warning("outbox relay: publish failed, retrying", exc_info=True)
                published = 0
                await asyncio.sleep(self.idle_seconds)
            if published < self.batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.idle_seconds)

    async def publish_pending(self) -> int:
        rows = await self.db.run(
            lambda s: list(s.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)).limit(self.batch)))
        )
        for row in rows:
            env = events_pb2.Envelope.FromString(row.payload)
            await self.bus.publish(row.subject, env, json.loads(row.trace_headers))
        if rows:
            seqs = [r.seq for r in rows]
            await self.db.run(lambda s: _delete(s, seqs))
        return len(rows)


def _delete(session: Session, seqs: list[int | None]) -> None:
    for row in session.exec(select(OutboxEvent).where(col(OutboxEvent.seq).in_(seqs))):
        session.delete(row)
