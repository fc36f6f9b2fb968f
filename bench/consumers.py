"""The idempotent consumer (callbacks' contact usage tally on SQLite) against the bare pull-and-ack rate.

Everything runs in this process against a nats-server the script starts itself
(services/common/natsserver.py):

1. backlog: N contact events are stored first; then a bare consumer (fetch and ack, no
   database) and the idempotent consumer (`callbacks-contact-usage`'s handler on a fresh
   SQLite file), each with its own durable and the same fetch size, drain them. Prints both
   rates, their ratio and the catch-up time of the idempotent consumer.
2. live: N more events are published (acked, one by one, as routing does) while the
   idempotent consumer runs; prints how far it fell behind and how long it took to catch up
   after the last publish.

Progress is read from the processed-event table every 20 ms, so the script works on any
version of `services.common.consumer.consume`. Run: .venv/bin/python bench/consumers.py [--events 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import nats.errors
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import func
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
FETCH = 100


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
            await msg.ack_sync(timeout=5)
        done += len(msgs)
    elapsed = time.perf_counter() - start
    await sub.unsubscribe()
    return elapsed


def fresh_database(directory: Path, name: str) -> Database:
    engine = make_engine(f"sqlite:///{directory / name}", "callbacks")
    tables = [contacts.ContactTally.__table__, consumer.ProcessedEvent.__table__]
    SQLModel.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    return Database(engine)


def processed(db: Database) -> int:
    return int(db.transaction(lambda s: s.exec(select(func.count()).select_from(consumer.ProcessedEvent)).one()))


async def watch(db: Database, target: int, on_tick: Callable[[int], None] | None = None) -> float:
    """Seconds until `target` events are committed, polling the table every 20 ms."""
    start = time.perf_counter()
    while True:
        done = await asyncio.to_thread(processed, db)
        if on_tick is not None:
            on_tick(done)
        if done >= target:
            return time.perf_counter() - start
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running_consumer(bus: EventBus, db: Database, durable: str, filter_subject: str) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.consume(bus, durable, filter_subject, contacts.handler(db), stop))
    try:
        yield
    finally:
        stop.set()
        await task


async def live(bus: EventBus, db: Database, count: int, rng: random.Random) -> None:
    lag = {"max": 0, "published": 0}

    def tick(done: int) -> None:
        lag["max"] = max(lag["max"], lag["published"] - done)

    async with running_consumer(bus, db, "bench-live", contacts.SUBJECT):
        watcher = asyncio.create_task(watch(db, count, tick))
        start = time.perf_counter()
        for i in range(count):
            subj, env = contact_event(rng.choice(TENANTS), rng)
            await bus.publish(subj, env)
            lag["published"] = i + 1
        published_in = time.perf_counter() - start
        behind = count - await asyncio.to_thread(processed, db)
        caught_up = time.perf_counter()
        await watcher
        catch_up = time.perf_counter() - caught_up
    print(
        f"live: {count:,} events published in {published_in:.1f} s ({count / published_in:,.0f}/s, acked one by one); "
        f"consumer at most {lag['max']:,} behind, {behind:,} behind at the last publish, "
        f"caught up {catch_up:.1f} s later"
    )


async def main(events: int, seed: int) -> None:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="kcc-bench-consumers-") as tmp, NatsServer(Path(tmp) / "nats") as server:
        bus = await EventBus.connect(Settings(data_dir=Path(tmp) / "var", nats_url=server.url), "bench-consumers")
        try:
            await store_backlog(bus, events, rng)
            bare = await bare_drain(bus, "kcc.*.contact.>", events)
            db = fresh_database(Path(tmp), "backlog.db")
            async with running_consumer(bus, db, contacts.CONSUMER, contacts.SUBJECT):
                ours = await watch(db, events)
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
    args = parser.parse_args()
    asyncio.run(main(args.events, args.seed))
