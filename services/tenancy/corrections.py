"""Agents' corrections of recognition: kept per tenant, turned into lexicon suggestions and into
the tenant's recognition accuracy per week as agents saw it.

Fed by routing's contact.completed events through a durable consumer, idempotent by event id.
A correction holds the question only as routing kept it: content words and a keyed hash (no
text, no digits, no capitalised names: services/routing/corrections.py). A name typed in lower
case passes that rule, so a word the tenant's catalogue and lexicon do not know is kept only as
a keyed hash (`#<hash>` among the words, the question noted in lexicon_word) until SHARED_BY
distinct questions of the tenant hold it: a word that many questions share is vocabulary, not
one caller's name, and only then is it written in clear. Everything is kept for HORIZON, the
span the suggestions and the accuracy count, and purged after it.

A suggestion is a phrase of one to three adjacent content words of questions recognition missed
for a product, ranked by the distinct questions it would have caught less those for other
products or bodies that hold it too; an admin adopts it with UpdateProductLexicon (`kcc tenancy
lexicon adopt`), after which it is one of the product's phrases and no longer suggested.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, delete, func, insert, text, update
from sqlmodel import Session, col, select

from kcc.events.v1 import events_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import auth, names
from services.common.consumer import IdempotentConsumer
from services.common.db import Database
from services.common.errors import invalid_argument
from services.common.events import EventBus
from services.common.lexicon import normalize
from services.tenancy import lexicon
from services.tenancy.models import LexiconCorrectionRow, LexiconWordRow, ProductRow
from services.tenancy.store import Store, tenant_row

log = logging.getLogger(__name__)

CONSUMER = "tenancy-lexicon-corrections"
SUBJECT = "kcc.*.contact.completed"
LOCAL = ZoneInfo("Europe/Amsterdam")
LONGEST_PHRASE = 3
MAX_WORDS, MAX_WORD = 24, 30  # as routing keeps them (services/routing/corrections.py)
HORIZON = timedelta(days=180)  # suggestions and accuracy count the last half year; older rows are purged
# A phrase of one question is no pattern: a suggestion needs at least this many distinct questions.
MIN_QUESTIONS = 2
SHARED_BY = 3  # distinct questions of a tenant that must hold an unknown word before it is kept in clear
HIDDEN = "#"  # marks a word kept as its keyed hash; routing's words are [a-z0-9]+
PURGE_EVERY = timedelta(minutes=10)
PURGE_LOCK = zlib.crc32(b"kcc-tenancy:lexicon-corrections-purge")
READERS = (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION)


def iso_week(when: datetime) -> str:
    year, week, _ = when.astimezone(LOCAL).isocalendar()
    return f"{year}-W{week:02d}"


def word_hash(secret: str, tenant: str, word: str) -> str:
    """Keyed and per tenant, so the stored hash of a short name cannot be looked up in a list of names."""
    return hmac.new(secret.encode(), f"{tenant}:{word}".encode(), hashlib.sha256).hexdigest()[:32]


def vocabulary(session: Session, tenant: str) -> set[str]:
    """The words of the tenant's product names and phrases: safe to keep in clear at once."""
    changes = lexicon.changes(session, tenant)
    out: set[str] = set()
    for product in session.exec(select(ProductRow).where(ProductRow.tenant == tenant)):
        for phrase in (product.display_name, *lexicon.product_phrases(product, changes.get(product.id))):
            out.update(normalize(phrase))
    return out


def purge(session: Session, now: datetime) -> int:
    """Deletes corrections and noted words older than HORIZON; returns how many corrections went."""
    cutoff = now - HORIZON
    gone = session.connection().execute(
        delete(LexiconCorrectionRow).where(col(LexiconCorrectionRow.complete_time) < cutoff)
    )
    session.connection().execute(delete(LexiconWordRow).where(col(LexiconWordRow.seen_time) < cutoff))
    return int(gone.rowcount)


def _purge_lock(session: Session) -> bool:
    """Whether this transaction may purge: on PostgreSQL one replica at a time, the others skip
    rather than wait on its rows; SQLite has one writer anyway."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(
        session.connection().execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": PURGE_LOCK}).scalar()
    )


class Corrections:
    """The consumer's work: `apply` keeps one correction, `finish` purges (at most every
    PURGE_EVERY by `clock`) in the same transaction as the batch it ends."""

    def __init__(self, secret: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.secret = secret
        self.clock = clock
        self.next_purge = datetime.min.replace(tzinfo=UTC)

    def apply(self, session: Session, env: events_pb2.Envelope) -> None:
        change = env.contact_changed
        if change.change != "completed" or not change.HasField("correction"):
            return
        c = change.correction
        if c.refer_to:
            confirmed = c.refer_to == c.recognised_refer_to
        else:
            confirmed = c.product_uri == c.recognised_product_uri and not c.recognised_refer_to
        when = env.occurred_at.ToDatetime(UTC)
        contact = change.contact.rsplit("/", 1)[-1]
        words = [w[:MAX_WORD] for w in c.question_words[:MAX_WORDS]]  # fits the column
        session.merge(
            LexiconCorrectionRow(
                tenant=env.tenant,
                contact=contact,
                week=iso_week(when),
                complete_time=when,
                recognised_product_uri=c.recognised_product_uri,
                recognised_refer_to=c.recognised_refer_to,
                product_uri=c.product_uri,
                refer_to=c.refer_to,
                confirmed=confirmed,
                words=json.dumps(self.kept(session, env.tenant, c.question_hash or contact, when, words)),
                question_hash=c.question_hash,
            )
        )

    def kept(self, session: Session, tenant: str, question: str, when: datetime, words: list[str]) -> list[str]:
        """The words as stored: known or shared ones in clear, the others as HIDDEN + their hash."""
        key = ("vocabulary", tenant)
        if key not in session.info:  # once per batch and tenant
            session.info[key] = vocabulary(session, tenant)
        known = session.info[key]
        out = []
        for word in words:
            if word in known:
                out.append(word)
                continue
            hashed = word_hash(self.secret, tenant, word)
            out.append(word if _note(session, tenant, hashed, question, when, word) else HIDDEN + hashed)
        return out

    def finish(self, session: Session) -> None:
        now = self.clock()
        if now < self.next_purge:
            return
        self.next_purge = now + PURGE_EVERY
        if _purge_lock(session):
            session.flush()  # the batch's own corrections too
            gone = purge(session, now)
            if gone:
                log.info("purged %d lexicon corrections older than %d days", gone, HORIZON.days)


def _note(session: Session, tenant: str, hashed: str, question: str, when: datetime, word: str) -> bool:
    """Notes that `question` holds the word; True when the word may be kept in clear (it is, or
    has just become, shared by SHARED_BY questions). Core statements, so that the next event of
    the batch sees this one's (the consumer applies a batch without autoflush)."""
    row = col(LexiconWordRow.tenant) == tenant, col(LexiconWordRow.word_hash) == hashed
    shared = session.exec(select(LexiconWordRow.word).where(*row, LexiconWordRow.word != "").limit(1)).first()
    this = (*row, col(LexiconWordRow.question) == question)
    if session.exec(select(func.count()).where(*this)).one():
        session.connection().execute(
            update(LexiconWordRow).where(*this, col(LexiconWordRow.seen_time) < when).values(seen_time=when)
        )
    else:
        session.connection().execute(
            insert(LexiconWordRow).values(
                tenant=tenant, word_hash=hashed, question=question, seen_time=when, word=word if shared else ""
            )
        )
    if shared:
        return True
    if session.exec(select(func.count()).where(*row)).one() < SHARED_BY:
        return False
    session.connection().execute(update(LexiconWordRow).where(*row).values(word=word))
    return True


def consumer(bus: EventBus, db: Database, secret: str) -> IdempotentConsumer:
    work = Corrections(secret)
    return IdempotentConsumer(bus, db, CONSUMER, SUBJECT, work.apply, work.finish)


def phrases_of(words: list[str]) -> Iterator[str]:
    """Phrases of adjacent words; none holds a hidden word, and none spans one."""
    for n in range(1, LONGEST_PHRASE + 1):
        for i in range(len(words) - n + 1):
            span = words[i : i + n]
            if not any(w.startswith(HIDDEN) for w in span) and (n > 1 or len(span[0]) >= 3):
                yield " ".join(span)


def suggest(
    rows: list[LexiconCorrectionRow], known: dict[str, set[str]], shared: dict[str, str]
) -> list[tuple[str, str, int, int]]:
    """(product uri, phrase, misses, elsewhere), best first; `known`: the phrases each product has;
    `shared`: hash -> word of the words that have since become shared (kept hidden in older rows)."""
    missed: dict[tuple[str, str], set[str]] = defaultdict(set)
    holding: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # phrase -> answer -> questions
    for row in rows:
        answer = row.product_uri or f"body:{row.refer_to}"
        question = row.question_hash or row.contact
        words = [shared.get(w[len(HIDDEN) :], w) if w.startswith(HIDDEN) else w for w in json.loads(row.words)]
        for phrase in set(phrases_of(words)):
            holding[phrase][answer].add(question)
            if not row.confirmed and row.product_uri in known and phrase not in known[row.product_uri]:
                missed[(row.product_uri, phrase)].add(question)
    out = []
    for (uri, phrase), questions in missed.items():
        elsewhere = sum(len(q) for answer, q in holding[phrase].items() if answer != uri)
        if len(questions) >= MIN_QUESTIONS and len(questions) > elsewhere:
            out.append((uri, phrase, len(questions), elsewhere))
    out.sort(key=lambda s: (s[3] - s[2], -s[2], len(s[1].split()), s[1], s[0]))
    return out


def _reader(field: str, name: str) -> str:
    auth.current().require_role(*READERS)
    (tenant,) = names.parse(field, name, "tenants")
    return tenant


async def suggestions(store: Store, request: pb.ListLexiconSuggestionsRequest) -> pb.ListLexiconSuggestionsResponse:
    tenant = _reader("parent", request.parent)
    if not 0 <= request.page_size <= 100:
        raise invalid_argument("page_size", "must be 0..100")
    size = request.page_size or 20

    def work(session: Session) -> pb.ListLexiconSuggestionsResponse:
        tenant_row(session, tenant)
        products = session.exec(select(ProductRow).where(ProductRow.tenant == tenant)).all()
        changes = lexicon.changes(session, tenant)
        known = {p.upl_uri: {x.casefold() for x in lexicon.product_phrases(p, changes.get(p.id))} for p in products}
        ids = {p.upl_uri: p.id for p in products}
        since = datetime.now(UTC) - HORIZON
        rows = session.exec(
            select(LexiconCorrectionRow).where(
                LexiconCorrectionRow.tenant == tenant, col(LexiconCorrectionRow.complete_time) >= since
            )
        ).all()
        shared = dict(
            session.exec(
                select(LexiconWordRow.word_hash, LexiconWordRow.word)
                .where(LexiconWordRow.tenant == tenant, LexiconWordRow.word != "")
                .distinct()
            ).all()
        )
        return pb.ListLexiconSuggestionsResponse(
            suggestions=[
                pb.LexiconSuggestion(
                    lexicon=f"tenants/{tenant}/products/{ids[uri]}/lexicon",
                    phrase=phrase,
                    misses=misses,
                    elsewhere=elsewhere,
                )
                for uri, phrase, misses, elsewhere in suggest(list(rows), known, shared)[:size]
            ]
        )

    return await store.read(work)


async def accuracy(store: Store, request: pb.GetRecognitionAccuracyRequest) -> pb.RecognitionAccuracy:
    tenant = _reader("tenant", request.tenant)
    if not 0 <= request.weeks <= 104:
        raise invalid_argument("weeks", "must be 0..104")
    weeks = request.weeks or 12

    def work(session: Session) -> pb.RecognitionAccuracy:
        tenant_row(session, tenant)
        week = col(LexiconCorrectionRow.week)
        stmt = (
            select(week, func.count(), func.sum(case((col(LexiconCorrectionRow.confirmed), 1), else_=0)))
            .where(
                LexiconCorrectionRow.tenant == tenant,
                col(LexiconCorrectionRow.complete_time) >= datetime.now(UTC) - HORIZON,
            )
            .group_by(week)
            .order_by(week.desc())
            .limit(weeks)
        )
        out = pb.RecognitionAccuracy(tenant=f"tenants/{tenant}")
        for name, checked, confirmed in session.exec(stmt):
            out.weeks.add(week=name, checked=checked, confirmed=int(confirmed), accuracy=int(confirmed) / checked)
        return out

    return await store.read(work)
