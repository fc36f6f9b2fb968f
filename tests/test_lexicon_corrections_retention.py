"""What tenancy keeps of agents' corrections, and for how long: a word the tenant's catalogue does
not know is stored in clear only once three different questions hold it (before that only as a
keyed hash), and corrections are purged 180 days after they were made, one replica at a time
(SQLite and PostgreSQL, real tenancy and nats-server)."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import Engine, inspect, text
from sqlmodel import Session, select

from kcc.events.v1 import events_pb2
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import events
from services.common.config import Settings
from services.common.db import Database, make_engine
from services.common.migrations import differences, upgrade
from services.tenancy import corrections
from services.tenancy.app import TenancyApp
from services.tenancy.models import LexiconCorrectionRow, LexiconWordRow
from tests.builders import UPL, make_tenant
from tests.test_lexicon_corrections import PRODUCTS
from tests.test_migrations import insert, service_url

CONTAINER = "tenants/gm0268/products/afvalcontainer/lexicon"
SECRET = "test-secret"
T0 = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
Row = TypeVar("Row", LexiconCorrectionRow, LexiconWordRow)


@pytest.fixture
async def tenancy_app(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[TenancyApp]:
    app = TenancyApp(Settings(data_dir=tmp_path, nats_url=nats_url, database_url=database_url))
    await app.start(0)
    yield app
    await app.stop()


@pytest.fixture
def tenancy_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(service_url(database_url, tmp_path, "tenancy"), "tenancy")
    yield engine
    engine.dispose()


def completed(
    n: int, question: str, words: list[str], product: str, recognised: str = "", when: datetime | None = None
) -> events_pb2.Envelope:
    """A contact.completed event as routing publishes it, with the agent's correction."""
    correction = events_pb2.RecognitionCorrection(
        product_uri=UPL + product,
        recognised_product_uri=UPL + recognised if recognised else "",
        question_words=words,
        question_hash=question,
    )
    changed = events_pb2.ContactChanged(
        contact=f"tenants/gm0268/contacts/c{n}", change="completed", correction=correction
    )
    env = events.envelope("gm0268", contact_changed=changed)
    if when is not None:
        env.occurred_at.FromDatetime(when)
    return env


def everything(engine: Engine) -> str:
    """Every value of every table of tenancy's database, as text: what a reader of the raw tables sees."""
    with engine.connect() as connection:
        return " ".join(
            str(value)
            for name in inspect(connection).get_table_names()
            for row in connection.execute(text(f'SELECT * FROM "{name}"'))
            for value in row
        ).casefold()


async def rows_of(db: Database, model: type[Row]) -> list[Row]:
    return await db.run(lambda s: list(s.exec(select(model))))


async def test_an_unknown_word_is_kept_in_clear_only_once_three_questions_share_it(  # type: ignore[no-untyped-def]
    tenancy_app: TenancyApp, channel_to, admin
) -> None:
    await make_tenant(channel_to(tenancy_app), admin, "gm0268", "Nijmegen", PRODUCTS)
    said = [
        # "rolbak", a local word for the container, in three different questions: vocabulary.
        ("q-a", ["rolbak", "buurjongen"], "afvalcontainer", ""),
        ("q-b", ["rolbak", "stuk"], "afvalcontainer", ""),
        # A name in lower case, which routing's capitalisation rule lets through, in one question.
        ("q-c", ["piet", "vries", "paspoort", "verlengen"], "paspoort", "paspoort"),
        # One question asked three times (the same hash): still one question.
        ("q-d", ["zwartbont", "rolbak"], "afvalcontainer", ""),
        ("q-d", ["zwartbont", "rolbak"], "afvalcontainer", ""),
        ("q-d", ["zwartbont", "rolbak"], "afvalcontainer", ""),
    ]
    for n, (question, words, product, recognised) in enumerate(said):
        await tenancy_app.bus.publish(
            events.subject("gm0268", "contact", "completed"), completed(n, question, words, product, recognised)
        )
    for _ in range(200):
        if len(await rows_of(tenancy_app.db, LexiconCorrectionRow)) == len(said):
            break
        await asyncio.sleep(0.05)
    stored = {r.contact: json.loads(r.words) for r in await rows_of(tenancy_app.db, LexiconCorrectionRow)}
    assert len(stored) == len(said)

    def hidden(word: str) -> str:
        return corrections.HIDDEN + corrections.word_hash(tenancy_app.settings.question_key_secret, "gm0268", word)

    # The first two questions hold "rolbak" as its hash; the third (q-d) made it shared, in clear.
    assert stored["c0"] == [hidden("rolbak"), hidden("buurjongen")]
    assert stored["c3"] == [hidden("zwartbont"), "rolbak"] == stored["c5"]
    assert stored["c2"] == [hidden("piet"), hidden("vries"), "paspoort", "verlengen"]  # catalogue words in clear
    noted = await rows_of(tenancy_app.db, LexiconWordRow)
    assert sorted((w.question, w.word) for w in noted if w.word_hash == hidden("rolbak")[1:]) == [
        ("q-a", "rolbak"),
        ("q-b", "rolbak"),
        ("q-d", "rolbak"),
    ]
    assert {w.word for w in noted} == {"rolbak", ""}

    raw = everything(tenancy_app.db.engine)
    assert "rolbak" in raw
    assert not [
        w for w in ("piet", "vries", "zwartbont", "buurjongen") if w in raw
    ]  # hashes are hex: no i, r, t, v, w, z

    tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy_app))
    found = await tenancy.ListLexiconSuggestions(
        tp.ListLexiconSuggestionsRequest(parent="tenants/gm0268"), metadata=admin
    )
    suggested = [(s.lexicon, s.phrase, s.misses, s.elsewhere) for s in found.suggestions]
    assert suggested[0] == (CONTAINER, "rolbak", 3, 0)  # the hidden rolbak of the first two counts too
    assert not [s for s in suggested if corrections.HIDDEN in s[1] or "zwartbont" in s[1] or "piet" in s[1]]


async def test_corrections_are_purged_after_the_horizon(tenancy_app: TenancyApp, channel_to, admin) -> None:  # type: ignore[no-untyped-def]
    """Driven by the consumer's clock: at most every PURGE_EVERY, everything older than HORIZON goes."""
    await make_tenant(channel_to(tenancy_app), admin, "gm0268", "Nijmegen", PRODUCTS)
    db = tenancy_app.db
    now = [T0]
    work = corrections.Corrections(SECRET, clock=lambda: now[0])
    day = timedelta(days=1)
    for n, (question, when) in enumerate([("q-a", T0), ("q-b", T0), ("q-c", T0 + 100 * day), ("q-a", T0 + 100 * day)]):
        env = completed(n, question, ["rolbak", "kapot"], "afvalcontainer", when=when)
        await db.run(lambda s, e=env: work.apply(s, e))  # type: ignore[misc]
    await db.run(work.finish)  # due at once: nothing is old yet
    assert len(await rows_of(db, LexiconCorrectionRow)) == 4

    now[0] = T0 + 181 * day
    await db.run(work.finish)
    assert sorted(r.contact for r in await rows_of(db, LexiconCorrectionRow)) == ["c2", "c3"]
    # q-a's note was renewed by its second correction; q-b's went with its only one.
    assert sorted(w.question for w in await rows_of(db, LexiconWordRow)) == ["q-a", "q-c"]
    assert {w.word for w in await rows_of(db, LexiconWordRow)} == {"rolbak"}  # still what three questions shared

    # Made a minute after the cutoff of that purge: past the horizon five minutes later, yet kept
    # until PURGE_EVERY has passed since the last purge.
    env = completed(9, "q-z", ["rolbak"], "afvalcontainer", when=T0 + day + timedelta(minutes=1))
    await db.run(lambda s: work.apply(s, env))
    now[0] = T0 + 181 * day + corrections.PURGE_EVERY / 2
    await db.run(work.finish)
    assert sorted(r.contact for r in await rows_of(db, LexiconCorrectionRow)) == ["c2", "c3", "c9"]
    now[0] = T0 + 181 * day + corrections.PURGE_EVERY
    await db.run(work.finish)
    assert sorted(r.contact for r in await rows_of(db, LexiconCorrectionRow)) == ["c2", "c3"]
    assert sorted(w.question for w in await rows_of(db, LexiconWordRow)) == ["q-a", "q-c"]

    now[0] += corrections.HORIZON
    await db.run(work.finish)
    assert not await rows_of(db, LexiconCorrectionRow) and not await rows_of(db, LexiconWordRow)


async def test_the_figures_count_only_the_horizon(tenancy_app: TenancyApp, channel_to, admin) -> None:  # type: ignore[no-untyped-def]
    """Suggestions and accuracy leave out a correction past HORIZON even before a purge took it."""
    await make_tenant(channel_to(tenancy_app), admin, "gm0268", "Nijmegen", PRODUCTS)
    work = corrections.Corrections(SECRET)  # applied without its finish: no purge
    now = datetime.now(UTC)
    for n, when in enumerate([now - timedelta(days=181)] * 3 + [now - timedelta(days=179)] * 2 + [now]):
        env = completed(n, f"q-{n}", ["rolbak"], "afvalcontainer", when=when)
        await tenancy_app.db.run(lambda s, e=env: work.apply(s, e))  # type: ignore[misc]
    assert len(await rows_of(tenancy_app.db, LexiconCorrectionRow)) == 6
    tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy_app))
    found = await tenancy.ListLexiconSuggestions(
        tp.ListLexiconSuggestionsRequest(parent="tenants/gm0268"), metadata=admin
    )
    assert [(s.lexicon, s.phrase, s.misses) for s in found.suggestions] == [(CONTAINER, "rolbak", 3)]
    accuracy = await tenancy.GetRecognitionAccuracy(
        tp.GetRecognitionAccuracyRequest(tenant="tenants/gm0268", weeks=104), metadata=admin
    )
    assert sum(w.checked for w in accuracy.weeks) == 3


async def test_the_consumer_purges_what_is_past_the_horizon(tenancy_app: TenancyApp) -> None:
    """Wired into tenancy's consumer: the first batch purges, so a correction made 181 days ago is
    gone in the transaction that stored it, while the others stay."""
    old = completed(0, "q-old", ["rolbak"], "afvalcontainer", when=datetime.now(UTC) - timedelta(days=181))
    await tenancy_app.bus.publish(events.subject("gm0268", "contact", "completed"), old)
    fresh = completed(1, "q-new", ["rolbak"], "afvalcontainer")
    await tenancy_app.bus.publish(events.subject("gm0268", "contact", "completed"), fresh)

    def processed(s: Session) -> int:
        return len(s.exec(text("SELECT event_id FROM processed_event")).all())  # type: ignore[call-overload]

    for _ in range(200):
        if await tenancy_app.db.run(processed) == 2:
            break
        await asyncio.sleep(0.05)
    assert await tenancy_app.db.run(processed) == 2
    assert [r.contact for r in await rows_of(tenancy_app.db, LexiconCorrectionRow)] == ["c1"]
    assert [w.question for w in await rows_of(tenancy_app.db, LexiconWordRow)] == ["q-new"]


@pytest.mark.postgres
def test_two_replicas_do_not_purge_at_once(postgres_url: str) -> None:
    """While one replica's batch purges, another's skips the purge rather than wait on its rows."""
    engine = make_engine(postgres_url, "tenancy")
    try:
        upgrade(engine, TenancyApp.schema())
        db = Database(engine)
        first = corrections.Corrections(SECRET, clock=lambda: T0 + 200 * timedelta(days=1))
        second = corrections.Corrections(SECRET, clock=lambda: T0 + 200 * timedelta(days=1))
        for n in range(3):
            db.transaction(lambda s, n=n: first.apply(s, completed(n, f"q-{n}", ["rolbak"], "afvalcontainer", when=T0)))  # type: ignore[misc]
        with Session(engine) as purging:
            first.finish(purging)  # holds the purge until it commits
            errors: list[BaseException] = []

            def other_replica() -> None:
                try:
                    with Session(engine) as session:
                        session.exec(text("SET LOCAL lock_timeout = '3s'"))  # type: ignore[call-overload]
                        second.finish(session)
                        session.commit()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)

            thread = threading.Thread(target=other_replica)
            thread.start()
            thread.join(10)
            assert not thread.is_alive() and not errors  # it did not wait for the first's rows
            assert len(db.transaction(lambda s: list(s.exec(select(LexiconCorrectionRow))))) == 3
            purging.commit()
        assert not db.transaction(lambda s: list(s.exec(select(LexiconCorrectionRow))))
    finally:
        engine.dispose()


def test_corrections_stored_before_tenancy_0006_upgrade_intact(tenancy_engine: Engine) -> None:
    """tenancy_0006 adds lexicon_word and an index: the corrections kept so far stay as they were,
    and the purge takes them in their turn."""
    schema = TenancyApp.schema()
    upgrade(tenancy_engine, schema, "tenancy_0005")
    row = {
        "tenant": "gm0268",
        "contact": "c-1",
        "week": "2026-W10",
        "complete_time": T0,
        "recognised_product_uri": "",
        "recognised_refer_to": "",
        "product_uri": UPL + "afvalcontainer",
        "refer_to": "",
        "confirmed": False,
        "words": '["blauwe", "flodder"]',
        "question_hash": "q-1",
    }
    insert(
        tenancy_engine, "lexicon_correction", [row, {**row, "contact": "c-2", "complete_time": T0 + timedelta(days=30)}]
    )

    upgrade(tenancy_engine, schema)

    assert differences(tenancy_engine, schema) == []
    db = Database(tenancy_engine)
    kept = db.transaction(lambda s: sorted(s.exec(select(LexiconCorrectionRow)).all(), key=lambda r: r.contact))
    assert [(r.contact, r.words, r.question_hash, r.confirmed) for r in kept] == [
        ("c-1", '["blauwe", "flodder"]', "q-1", False),
        ("c-2", '["blauwe", "flodder"]', "q-1", False),
    ]
    assert db.transaction(lambda s: corrections.purge(s, T0 + timedelta(days=200))) == 1
    assert [r.contact for r in db.transaction(lambda s: list(s.exec(select(LexiconCorrectionRow))))] == ["c-2"]
