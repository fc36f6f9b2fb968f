"""Agents' corrections of recognition: kept per tenant, turned into lexicon suggestions and into
the tenant's recognition accuracy per week as agents saw it.

Fed by routing's contact.completed events through a durable consumer, idempotent by event id.
A correction holds the question only as routing kept it: content words and a keyed hash (no
text, no digits, no names: services/routing/corrections.py). A suggestion is a phrase of one to
three adjacent content words of questions recognition missed for a product, ranked by the
distinct questions it would have caught less those for other products or bodies that hold it too;
an admin adopts it with UpdateProductLexicon (`kcc tenancy lexicon adopt`), after which it is one
of the product's phrases and no longer suggested.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from kcc.events.v1 import events_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import auth, names
from services.common.consumer import IdempotentConsumer
from services.common.db import Database
from services.common.errors import invalid_argument
from services.common.events import EventBus
from services.tenancy import lexicon
from services.tenancy.models import LexiconCorrectionRow, ProductRow
from services.tenancy.store import Store, tenant_row

CONSUMER = "tenancy-lexicon-corrections"
SUBJECT = "kcc.*.contact.completed"
LOCAL = ZoneInfo("Europe/Amsterdam")
LONGEST_PHRASE = 3
MAX_WORDS, MAX_WORD = 24, 30  # as routing keeps them (services/routing/corrections.py)
SINCE = timedelta(days=180)  # suggestions learn from the last half year
# A phrase of one question is no pattern, and may be that caller's own words (a name typed in
# lower case): a suggestion needs at least this many distinct questions.
MIN_QUESTIONS = 2
READERS = (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION)


def iso_week(when: datetime) -> str:
    year, week, _ = when.astimezone(LOCAL).isocalendar()
    return f"{year}-W{week:02d}"


def apply(session: Session, env: events_pb2.Envelope) -> None:
    change = env.contact_changed
    if change.change != "completed" or not change.HasField("correction"):
        return
    c = change.correction
    if c.refer_to:
        confirmed = c.refer_to == c.recognised_refer_to
    else:
        confirmed = c.product_uri == c.recognised_product_uri and not c.recognised_refer_to
    when = env.occurred_at.ToDatetime(UTC)
    session.merge(
        LexiconCorrectionRow(
            tenant=env.tenant,
            contact=change.contact.rsplit("/", 1)[-1],
            week=iso_week(when),
            complete_time=when,
            recognised_product_uri=c.recognised_product_uri,
            recognised_refer_to=c.recognised_refer_to,
            product_uri=c.product_uri,
            refer_to=c.refer_to,
            confirmed=confirmed,
            words=json.dumps([w[:MAX_WORD] for w in c.question_words[:MAX_WORDS]]),  # fits the column
            question_hash=c.question_hash,
        )
    )


def consumer(bus: EventBus, db: Database) -> IdempotentConsumer:
    return IdempotentConsumer(bus, db, CONSUMER, SUBJECT, apply)


def phrases_of(words: list[str]) -> Iterator[str]:
    for n in range(1, LONGEST_PHRASE + 1):
        for i in range(len(words) - n + 1):
            if n > 1 or len(words[i]) >= 3:
                yield " ".join(words[i : i + n])


def suggest(rows: list[LexiconCorrectionRow], known: dict[str, set[str]]) -> list[tuple[str, str, int, int]]:
    """(product uri, phrase, misses, elsewhere), best first; `known`: the phrases each product has."""
    missed: dict[tuple[str, str], set[str]] = defaultdict(set)
    holding: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # phrase -> answer -> questions
    for row in rows:
        answer = row.product_uri or f"body:{row.refer_to}"
        question = row.question_hash or row.contact
        for phrase in set(phrases_of(json.loads(row.words))):
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
        since = datetime.now(UTC) - SINCE
        rows = session.exec(
            select(LexiconCorrectionRow).where(
                LexiconCorrectionRow.tenant == tenant, col(LexiconCorrectionRow.complete_time) >= since
            )
        ).all()
        return pb.ListLexiconSuggestionsResponse(
            suggestions=[
                pb.LexiconSuggestion(
                    lexicon=f"tenants/{tenant}/products/{ids[uri]}/lexicon",
                    phrase=phrase,
                    misses=misses,
                    elsewhere=elsewhere,
                )
                for uri, phrase, misses, elsewhere in suggest(list(rows), known)[:size]
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
            .where(LexiconCorrectionRow.tenant == tenant)
            .group_by(week)
            .order_by(week.desc())
            .limit(weeks)
        )
        out = pb.RecognitionAccuracy(tenant=f"tenants/{tenant}")
        for name, checked, confirmed in session.exec(stmt):
            out.weeks.add(week=name, checked=checked, confirmed=int(confirmed), accuracy=int(confirmed) / checked)
        return out

    return await store.read(work)
