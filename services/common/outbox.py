"""Transactional outbox: an event row commits with the business row, a relay publishes it.

A crash between commit and publish loses nothing (the row stays until JetStream
acks it); a crash between ack and delete publishes again with the same
`Nats-Msg-Id`, which JetStream and the idempotent consumers both drop.

Every replica runs a relay, so relays claim their rows. On PostgreSQL a relay locks a batch
(`FOR UPDATE SKIP LOCKED`) in a transaction that publishes and deletes it: another relay skips
those rows, and leaves out any tenant with an older row it could not claim, so each tenant's
events keep their commit order. SQLite has no row locks and one write lock per file; holding that
across a publish (which retries for up to ~10 s while NATS elects a leader) would stall every
commit of the service, so on SQLite one relay per database file works at a time: it holds an
exclusive `flock` on `<database>.outbox-relay.lock` (released by the kernel when its process
dies) and the others stand by.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from sqlalchemy import delete
from sqlmodel import Field, Session, SQLModel, col, select

from kcc.events.v1 import events_pb2
from services.common import telemetry
from services.common.db import Database
from services.common.events import EventBus
from services.common.resting import rest

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
        self._file_lock = _SqliteRelayLock.for_database(db)
        # One thread for the relay's session: when a round is cancelled mid-call (a stop, a crash in a
        # test), the session's close queues behind the call still running instead of racing it.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox-relay")

    def wake(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self._wake.clear()  # before reading: a commit during the publish wakes the next round
                try:
                    published = await self.publish_pending()
                except Exception:  # noqa: BLE001 - NATS down or DB busy: retry after a pause
                    log.warning("outbox relay: publish failed, retrying", exc_info=True)
                    published = 0
                    await rest(self.idle_seconds, stop)
                if published < self.batch:
                    await rest(self.idle_seconds, self._wake, stop)
        finally:
            self.close()

    def close(self) -> None:
        """Lets a standby relay on the same SQLite file take over (a crash does this by itself)."""
        if self._file_lock is not None:
            self._file_lock.release()
        self._thread.shutdown(wait=False)

    async def publish_pending(self) -> int:
        """One round: claims up to `batch` rows, publishes them in order, deletes them; returns how many."""
        if self._file_lock is not None and not self._file_lock.acquire():
            return 0  # another relay works on this SQLite file
        session = Session(self.db.engine, expire_on_commit=False)
        loop = asyncio.get_running_loop()
        try:
            rows = await loop.run_in_executor(self._thread, _claim, session, self.batch)
            for row in rows:
                env = events_pb2.Envelope.FromString(row.payload)
                await self.bus.publish(row.subject, env, json.loads(row.trace_headers))
            if rows:
                await loop.run_in_executor(self._thread, _delete, session, [r.seq for r in rows])
            return len(rows)
        finally:
            # Rolls back, releasing the claim, if not committed; after any call still running.
            await loop.run_in_executor(self._thread, session.close)


def _claim(session: Session, batch: int) -> list[OutboxEvent]:
    """The oldest rows no other relay holds, minus tenants that have an older row held elsewhere."""
    rows = list(
        session.exec(select(OutboxEvent).order_by(col(OutboxEvent.seq)).limit(batch).with_for_update(skip_locked=True))
    )
    if not rows:
        return rows
    mine = {r.seq for r in rows}
    older = session.exec(select(OutboxEvent.seq, OutboxEvent.subject).where(col(OutboxEvent.seq) < rows[-1].seq))
    blocked = {_tenant(subject) for seq, subject in older if seq not in mine}
    return [r for r in rows if _tenant(r.subject) not in blocked]


def _tenant(subject: str) -> str:
    return subject.split(".", 2)[1]  # kcc.<tenant>.<aggregate>.<event>


def _delete(session: Session, seqs: list[int | None]) -> None:
    session.exec(delete(OutboxEvent).where(col(OutboxEvent.seq).in_(seqs)))  # type: ignore[call-overload]
    session.commit()


class _SqliteRelayLock:
    """An exclusive, non-blocking `flock` beside a SQLite database file."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    @classmethod
    def for_database(cls, db: Database) -> _SqliteRelayLock | None:
        url = db.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None  # a server database (row locks), or an in-memory one no other process can see
        return cls(f"{url.database}.outbox-relay.lock")

    def acquire(self) -> bool:
        if self._fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None
