"""The idempotent consumer (callbacks' contact usage tally on SQLite) against the bare pull-and-ack rate.

Everything runs in this process against a nats-server the script starts itself
(services/common/natsserver.py):

1. backlog: N contact events are stored first; then a bare consumer (fetch and ack, no
   database) and the idempotent consumer (the `callbacks-contact-usage` apply and finish on a fresh
   SQLite file), each with its own durable and the same fetch size, drain them. Prints both
   rates, their ratio and the catch-up time of the idempotent consumer.
2. live: N more events are published (acked, one by one, as routing does) while the
   idempotent consumer runs; prints how far it fell behind and how long it took to catch up
   after the last publish.

Both consumers are driven round by round in the same loop (`run_once` for ours), so nothing
but their own work is timed; at the end the tallies must hold every event applied. (The first
version of this script measured the unbatched consumer by polling its table instead.)
Run: .venv/bin/python bench/consumers.py [--events 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig
from sqlmodel import SQLModel, select

from kcc.events.v1 import events_pb2
from services.callbacks import contacts
from services.common import consumer
from services.common.config import Settings
from services.common.db import Database, make_engine
from services.common.events import STREAM, EventBus, envelope, subject
from services.common.natsserver import NatsServer

TENANTS = [f"gm{100 + i:04d}" for i in range(40)]
DEPARTMENTS = ("burgerzaken", "belastingen", "wmo", "vergunningen", "algemeen")
FETCH = 100  # the consumer's default batch; --fetch changes it for both


def contact_event(tenant: str, rng: random.Random) -> tuple[str, events_pb2.Envelope]:
    department = rng.choice(DEPARTMENTS)
    contact = f"tenants/{tenant}/contacts/{rng.getrandbits(64):016x}"
    if rng.random() < 0.5:
        env = envelope(tenant, contact_routed=events_pb2.ContactRouted(contact=contact, department=department))
        return subject(tenant, "contact", "routed"), env
    change = events_pb2.ContactChanged(contact=contact, change="completed", queue=department)
    return subject(tenant, "contact", "changed"), envelope(tenant, contact_changed=change)


async def store_backlog(bus: EventBus, count: int, rng: random.Random) -> None:
    """Stores `count` events fast (core publishes, then a flush and a wait for the stream)."""
    before = (await bus.js.stream_info(STREAM)).state.messages
    for _ in range(count):
        subj, env = contact_event(rng.choice(TENANTS), rng)
        await bus.nc.publish(subj, env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
    await bus.nc.flush()
    stored = before
    while stored < before + count:
        await asyncio.sleep(0.02)
        stored = (await bus.js.stream_info(STREAM)).state.messages


async def bare_drain(bus: EventBus, filter_subject: str, count: int) -> float:
    """Seconds to fetch and ack `count` messages with no database: the floor for any consumer."""
    config = ConsumerConfig(durable_name="bench-bare", filter_subject=filter_subject, ack_policy=AckPolicy.EXPLICIT)
    sub = await bus.js.pull_subscribe(filter_subject, durable="bench-bare", stream=STREAM, config=config)
    done = 0
    start = time.perf_counter()
    while done < count:
        try:
            msgs = await sub.fetch(FETCH, timeout=0.5)
        except (nats.errors.TimeoutError, TimeoutError):
            continue
        for msg in msgs:
            events_pb2.Envelope.FromString(msg.data)
            await msg.ack()  # as the consumer does: a lost ack is a harmless redelivery
        done += len(msgs)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return elapsed


def fresh_database(directory: Path, name: str) -> Database:
    engine = make_engine(f"sqlite:///{directory / name}", "callbacks")
    tables = [contacts.ContactTally.__table__, consumer.ProcessedEvent.__table__]
    SQLModel.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    return Database(engine)


def counted(db: Database) -> int:
    """Events the tallies hold: every bench event counts once, so this must equal the events applied."""
    rows = db.transaction(lambda s: list(s.exec(select(contacts.ContactTally))))
    return sum(r.routed + r.completed + r.abandoned for r in rows)


class Driven:
    """The idempotent consumer driven round by round (`run_once`), counting the events it applied."""

    def __init__(self, bus: EventBus, db: Database, durable: str) -> None:
        self.db = db
        apply, finish = contacts.apply, contacts.finish
        self.usage = consumer.IdempotentConsumer(bus, db, durable, contacts.SUBJECT, apply, finish, FETCH)
        self.done = 0

    async def until(self, target: int) -> float:
        """Seconds until `target` events are applied and acked."""
        start = time.perf_counter()
        while self.done < target:
            self.done += await self.usage.run_once()
        return time.perf_counter() - start

    async def close(self) -> None:
        await self.usage.close()
        if counted(self.db) != self.done:
            raise SystemExit(f"the tallies hold {counted(self.db)} events, the consumer applied {self.done}")


async def live(bus: EventBus, db: Database, count: int, rng: random.Random) -> None:
    driven = Driven(bus, db, "bench-live")
    running = asyncio.create_task(driven.until(count))
    most_behind = 0
    start = time.perf_counter()
    for i in range(count):
        subj, env = contact_event(rng.choice(TENANTS), rng)
        await bus.publish(subj, env)
        most_behind = max(most_behind, i + 1 - driven.done)
    published_in = time.perf_counter() - start
    behind = count - driven.done
    last_publish = time.perf_counter()
    await running
    catch_up = time.perf_counter() - last_publish
    await driven.close()
    print(
        f"live: {count:,} events published in {published_in:.1f} s ({count / published_in:,.0f}/s, acked one by one); "
        f"consumer at most {most_behind:,} behind, {behind:,} behind at the last publish, "
        f"caught up {catch_up:.2f} s later"
    )


async def main(events: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="kcc-bench-consumers-") as tmp, NatsServer(Path(tmp) / "nats") as server:
        bus = await EventBus.connect(Settings(data_dir=Path(tmp) / "var", nats_url=server.url), "bench-consumers")
        try:
            await store_backlog(bus, events, rng)
            bare = await bare_drain(bus, "kcc.*.contact.>", events)
            driven = Driven(bus, fresh_database(Path(tmp), "backlog.db"), contacts.CONSUMER)
            ours = await driven.until(events)
            await driven.close()
            print(
                f"backlog of {events:,}: bare pull-and-ack {events / bare:,.0f}/s ({bare:.1f} s); "
                f"idempotent consumer on SQLite {events / ours:,.0f}/s (caught up in {ours:.1f} s); "
                f"ratio {bare / ours:.2f} (fetch {FETCH})"
            )
            await bus.js.purge_stream(STREAM)  # the live consumer starts on an empty stream
            await live(bus, fresh_database(Path(tmp), "live.db"), events, rng)
        finally:
            await bus.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--fetch", type=int, default=FETCH)
    args = parser.parse_args()
    FETCH = args.fetch
    asyncio.run(main(args.events, args.seed))
