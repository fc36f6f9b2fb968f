"""The idempotent consumer (callbacks' contact-usage tally): a batch in one transaction, acked after
its commit; a bad event redelivered alone; processed events pruned past the horizon."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select

from kcc.events.v1 import events_pb2
from services.callbacks import contacts
from services.callbacks.contacts import ContactTally
from services.common.consumer import IdempotentConsumer, ProcessedEvent
from services.common.db import Database
from services.common.events import STREAM, EventBus, envelope, subject
from tests.builders import eventually
from tests.test_outbox import open_database

TENANT = "gm0268"


def routed(department: str, event_id: str = "") -> events_pb2.Envelope:
    env = envelope(TENANT, event_id, contact_routed=events_pb2.ContactRouted(contact="c", department=department))
    return env


def completed(department: str) -> events_pb2.Envelope:
    change = events_pb2.ContactChanged(contact="c", change="completed", queue=department)
    return envelope(TENANT, contact_changed=change)


async def publish(bus: EventBus, *envs: events_pb2.Envelope) -> None:
    for env in envs:
        kind = "routed" if env.WhichOneof("payload") == "contact_routed" else "changed"
        await bus.publish(subject(TENANT, "contact", kind), env)


async def drain(consumer: IdempotentConsumer) -> None:
    """Drives the consumer until a fetch comes back empty."""
    while await consumer.run_once(wait_seconds=0.3):
        pass


def tallies(db: Database) -> dict[str, tuple[int, int, int]]:
    rows = db.transaction(lambda s: list(s.exec(select(ContactTally))))
    return {r.department: (r.routed, r.completed, r.abandoned) for r in rows}


def processed_ids(db: Database) -> set[str]:
    return db.transaction(lambda s: set(s.exec(select(ProcessedEvent.event_id))))


def usage_consumer(bus: EventBus, db: Database, batch: int = 100) -> IdempotentConsumer:
    return IdempotentConsumer(bus, db, contacts.CONSUMER, contacts.SUBJECT, contacts.apply, contacts.finish, batch)


async def test_a_batch_counts_each_event_once_and_is_acked_after_its_commit(bus: EventBus, database_url: str) -> None:
    db = open_database(database_url, ContactTally, ProcessedEvent)
    seen_before = routed("wmo")
    db.transaction(lambda s: s.add(ProcessedEvent(consumer=contacts.CONSUMER, event_id=seen_before.id)))
    twice = routed("burgerzaken")
    await publish(bus, *[routed("burgerzaken") for _ in range(250)], twice, completed("burgerzaken"), seen_before)
    # the same envelope again under another broker message id: JetStream stores it, we must not count it
    await bus.js.publish(subject(TENANT, "contact", "routed"), twice.SerializeToString(), headers={"Nats-Msg-Id": "x"})
    await bus.js.publish(subject(TENANT, "contact", "routed"), b"\xff not an envelope")  # dropped, not redelivered
    consumer = usage_consumer(bus, db, batch=100)
    assert await consumer.run_once() == 100  # one fetch, one transaction
    assert tallies(db) == {"burgerzaken": (100, 0, 0)}
    await drain(consumer)
    assert tallies(db) == {"burgerzaken": (251, 1, 0)}
    processed = db.transaction(lambda s: len(list(s.exec(select(ProcessedEvent)))))
    assert processed == 1 + 251 + 1
    await bus.nc.flush()
    info = await bus.js.consumer_info(STREAM, contacts.CONSUMER)
    assert (info.num_pending, info.num_ack_pending) == (0, 0)
    await consumer.close()
    db.engine.dispose()


async def test_a_bad_event_is_redelivered_alone_while_its_batch_commits(bus: EventBus, database_url: str) -> None:
    db = open_database(database_url, ContactTally, ProcessedEvent)
    bad = routed("burgerzaken", event_id="bad-event")
    failures = []

    def apply(session: Session, env: events_pb2.Envelope) -> None:
        if env.id == bad.id and len(failures) < 2:  # in the batch, then alone
            failures.append(env.id)
            raise RuntimeError("database hiccup on this one event")
        contacts.apply(session, env)

    await publish(bus, routed("burgerzaken"), bad, routed("burgerzaken"))
    consumer = IdempotentConsumer(bus, db, contacts.CONSUMER, contacts.SUBJECT, apply, contacts.finish)
    assert await consumer.run_once() == 3
    assert tallies(db) == {"burgerzaken": (2, 0, 0)}
    assert failures == ["bad-event", "bad-event"]
    await drain(consumer)  # redelivered after its nak delay of a second
    while tallies(db) != {"burgerzaken": (3, 0, 0)}:
        assert await consumer.run_once(wait_seconds=3), "the bad event was not redelivered"
    await consumer.close()
    db.engine.dispose()


async def test_pruning_keeps_recent_processed_events_so_a_redelivery_is_still_dropped(
    bus: EventBus, database_url: str
) -> None:
    db = open_database(database_url, ContactTally, ProcessedEvent)
    now = datetime.now(UTC)
    recent, old = routed("burgerzaken", "recent-event"), routed("burgerzaken", "old-event")

    def seed(session: Session) -> None:
        session.add(
            ProcessedEvent(consumer=contacts.CONSUMER, event_id=recent.id, processed_at=now - timedelta(hours=1))
        )
        session.add(ProcessedEvent(consumer=contacts.CONSUMER, event_id=old.id, processed_at=now - timedelta(hours=25)))
        session.add(ProcessedEvent(consumer="another", event_id=old.id, processed_at=now - timedelta(hours=25)))

    db.transaction(seed)
    consumer = usage_consumer(bus, db)
    assert await consumer.prune(now) == 1
    left = db.transaction(lambda s: set(s.exec(select(ProcessedEvent.consumer, col(ProcessedEvent.event_id)))))
    assert left == {(contacts.CONSUMER, "recent-event"), ("another", "old-event")}
    await publish(bus, recent)  # e.g. a relay that crashed before its delete publishes it again
    await drain(consumer)
    assert tallies(db) == {}
    await consumer.close()
    db.engine.dispose()


async def test_the_consumer_loop_prunes_on_its_own(bus: EventBus, database_url: str) -> None:
    db = open_database(database_url, ContactTally, ProcessedEvent)
    long_ago = datetime.now(UTC) - timedelta(days=2)
    db.transaction(lambda s: s.add(ProcessedEvent(consumer=contacts.CONSUMER, event_id="old", processed_at=long_ago)))
    consumer = IdempotentConsumer(
        bus, db, contacts.CONSUMER, contacts.SUBJECT, contacts.apply, contacts.finish, prune_every=0.0
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    await publish(bus, routed("burgerzaken"))
    try:
        await eventually(lambda: "old" not in processed_ids(db) and tallies(db) == {"burgerzaken": (1, 0, 0)})
        assert len(processed_ids(db)) == 1  # the new event's
    finally:
        stop.set()
        await running
    db.engine.dispose()


async def test_a_stop_ends_the_wait_for_a_batch_and_another_replica_gets_what_comes_after(
    bus: EventBus, database_url: str
) -> None:
    """A service stops in milliseconds, not at the end of a fetch's wait (a minute here); an event
    published once it has stopped goes to the replica still running, at once."""
    db = open_database(database_url, ContactTally, ProcessedEvent)
    stopping, running = usage_consumer(bus, db), usage_consumer(bus, db)
    await drain(stopping)  # the durable exists
    stop = asyncio.Event()
    waiting = asyncio.create_task(stopping.run_once(wait_seconds=60, stop=stop))
    await asyncio.sleep(0.2)  # its pull request is with the server
    stop.set()
    assert await asyncio.wait_for(waiting, 10) == 0
    await stopping.close()
    await publish(bus, routed("burgerzaken"))
    assert await running.run_once(wait_seconds=10) == 1
    await running.close()
    assert tallies(db) == {"burgerzaken": (1, 0, 0)}
