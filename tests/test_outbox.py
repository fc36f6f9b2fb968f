"""The outbox relay with two replicas on one database: every row published and deleted once, in
commit order per tenant (SQLite: one relay at a time; PostgreSQL: rows claimed FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from sqlalchemy import func, text
from sqlmodel import SQLModel, select

from kcc.events.v1 import events_pb2
from services.common.config import Settings
from services.common.db import Database, make_engine
from services.common.events import STREAM, EventBus, envelope, subject
from services.common.outbox import OutboxEvent, OutboxRelay, add_event

TENANTS = [f"gm{100 + i:04d}" for i in range(8)]
ROWS = 3000


class RecordingBus:
    """The real bus, noting every publish call (JetStream's own dedup would hide a second one)."""

    def __init__(self, bus: EventBus, relay: str, log: list[tuple[str, str, int]]) -> None:
        self.bus = bus
        self.relay = relay
        self.log = log

    async def publish(self, subj: str, env: events_pb2.Envelope, trace_headers: dict[str, str] | None = None) -> object:
        ack = await self.bus.publish(subj, env, trace_headers)
        self.log.append((self.relay, env.tenant, int(env.id.split("-")[1])))
        return ack


def open_database(url: str, *models: type[SQLModel]) -> Database:
    """A database handle of its own, as a second process would have, with `models`' tables."""
    engine = make_engine(url, "callbacks")
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text('CREATE SCHEMA IF NOT EXISTS "callbacks"'))
        SQLModel.metadata.create_all(connection, tables=[m.__table__ for m in models])  # type: ignore[attr-defined]
    return Database(engine)


def pending(db: Database) -> int:
    return int(db.transaction(lambda s: s.exec(select(func.count()).select_from(OutboxEvent)).one()))


async def write_rows(db: Database, start: int, count: int) -> None:
    """Commits `count` events in transactions of 50, tenants interleaved; ids carry the commit order."""
    for first in range(start, start + count, 50):

        def work(session, first=first):  # type: ignore[no-untyped-def]
            for n in range(first, min(first + 50, start + count)):
                tenant = TENANTS[n % len(TENANTS)]
                env = envelope(tenant, event_id=f"ev-{n:06d}")
                add_event(session, subject(tenant, "callback", "requested"), env)

        await db.run(work)


async def drain(relay: OutboxRelay, db: Database, writing: asyncio.Task[None]) -> None:
    """Drives the relay round by round until the writer is done and the outbox is empty."""
    while True:
        if await relay.publish_pending() == 0:
            if writing.done() and await asyncio.to_thread(pending, db) == 0:
                return
            await asyncio.sleep(0.005)


async def test_two_relays_on_one_database_publish_every_row_once_in_tenant_order(
    tmp_path: Path, nats_url: str, database_url: str
) -> None:
    first_db, second_db = open_database(database_url, OutboxEvent), open_database(database_url, OutboxEvent)
    bus = await EventBus.connect(Settings(data_dir=tmp_path / "var", nats_url=nats_url), "test-outbox")
    log: list[tuple[str, str, int]] = []
    relays = [
        OutboxRelay(first_db, RecordingBus(bus, "first", log), batch=100),  # type: ignore[arg-type]
        OutboxRelay(second_db, RecordingBus(bus, "second", log), batch=100),  # type: ignore[arg-type]
    ]
    try:
        await write_rows(first_db, 0, ROWS // 2)  # a backlog, then more rows while both relays run
        writing = asyncio.create_task(write_rows(second_db, ROWS // 2, ROWS // 2))
        await asyncio.wait_for(
            asyncio.gather(drain(relays[0], first_db, writing), drain(relays[1], second_db, writing)), 120
        )
        published = Counter(n for _relay, _tenant, n in log)
        assert sorted(published) == list(range(ROWS))
        assert set(published.values()) == {1}, [n for n, c in published.items() if c > 1][:10]
        for tenant in TENANTS:
            order = [n for _relay, t, n in log if t == tenant]
            assert order == sorted(order), f"{tenant} published out of commit order"
        assert (await bus.js.stream_info(STREAM)).state.messages == ROWS
        turns = sum(a[0] != b[0] for a, b in zip(log, log[1:], strict=False))
        print(f"rows published per relay: {Counter(relay for relay, _t, _n in log)}, turns taken {turns}")
    finally:
        for relay in relays:
            relay.close()
        await bus.close()
        first_db.engine.dispose()
        second_db.engine.dispose()
