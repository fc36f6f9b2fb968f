"""Learning from agents: an agent completing a contact says what the question really was about;
tenancy keeps it per tenant (content words and a keyed hash, no personal data), suggests the
phrases that would have fixed the most misses, and reports accuracy per week (SQLite and
PostgreSQL, real servers and nats-server)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import grpc
import pytest
from sqlmodel import select

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import auth, client, events
from services.common.config import Settings
from services.common.errors import error_info
from services.tenancy import corrections
from services.tenancy.models import LexiconCorrectionRow
from tests.builders import UPL, eventually, make_tenant, routable, stored_events

PRODUCTS = [
    ("paspoort", "paspoort", "burgerzaken"),
    ("rijbewijs", "rijbewijs", "burgerzaken"),
    ("afvalcontainer", "afvalcontainer", "afval"),
]
CONTAINER = "tenants/gm0268/products/afvalcontainer/lexicon"
PERSONAL = ("jansen", "0612345678", "12345678", "example", "6512", "pietersen")


def token(settings: Settings, subject: str, role: auth.Role, tenants: list[str]):  # type: ignore[no-untyped-def]
    return client.metadata(auth.issue_token(settings.auth_secret, subject, role, tenants))


class Desk:
    """One agent of gm0268 at a desktop: routes a question, takes its offer and completes it."""

    def __init__(self, routing: routing_pb2_grpc.RoutingServiceStub, settings: Settings) -> None:
        self.routing = routing
        self.agent = token(settings, "fatima", auth.Role.AGENT, ["gm0268"])
        self.partner = token(settings, "gm0268-int", auth.Role.TENANT_INTEGRATION, ["gm0268"])

    async def connect(self, admin) -> None:  # type: ignore[no-untyped-def]
        await self.routing.CreateAgent(
            rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
        self.desktop = self.routing.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=self.agent)
        await self.desktop.read()

    async def take(self, **subject: str) -> rt.RouteContactResponse:
        routed = await self.routing.RouteContact(
            rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, **subject),
            metadata=self.partner,
        )
        offer = await asyncio.wait_for(self.desktop.read(), 10)
        assert offer.offer.contact.name == routed.contact.name
        await self.routing.AcceptOffer(
            rt.AcceptOfferRequest(agent="agents/fatima", contact=routed.contact.name), metadata=self.agent
        )
        return routed

    async def complete(self, contact: str, **correction: str) -> rt.Contact:
        return await self.routing.CompleteContact(
            rt.CompleteContactRequest(
                agent="agents/fatima", contact=contact, outcome="ok", correction=rt.Correction(**correction)
            ),
            metadata=self.agent,
        )

    async def refused(self, contact: str, **correction: str) -> tuple[grpc.StatusCode, str, str]:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await self.complete(contact, **correction)
        info = error_info(err.value)
        assert info is not None
        return err.value.code(), info.reason, err.value.details() or ""


async def test_corrections_become_suggestions_accuracy_and_adopted_phrases(  # type: ignore[no-untyped-def]
    tenancy_on_database, channel_to, admin
) -> None:
    tenancy_app, routing_app = tenancy_on_database
    for tenant, name in (("gm0268", "Nijmegen"), ("gm0202", "Arnhem")):
        await make_tenant(channel_to(tenancy_app), admin, tenant, name, PRODUCTS)
        await routable(channel_to(routing_app), admin, tenant)
    tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy_app))
    routing = routing_pb2_grpc.RoutingServiceStub(channel_to(routing_app))
    desk = Desk(routing, tenancy_app.settings)
    await desk.connect(admin)

    # Three citizens call about the "blauwe flodder" (a local word for the container), one with personal
    # data: words the catalogue does not know are kept in clear once three questions share them.
    first = await desk.take(
        question="Mevrouw Jansen: de blauwe flodder is stuk, bel 06-12345678 of jansen@example.nl 6512AB"
    )
    assert first.contact.product_uri != UPL + "afvalcontainer"
    assert await desk.refused(first.contact.name, product_uri=UPL + "paspoort", refer_to="UWV") == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "INVALID_ARGUMENT",
        "correction: give exactly one of product_uri and refer_to",
    )
    code, _, details = await desk.refused(first.contact.name, product_uri=UPL + "kapvergunning")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "correction.product_uri" in details
    code, _, details = await desk.refused(first.contact.name, refer_to="Rijkswaterstaat")
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "correction.refer_to" in details
    kees = token(tenancy_app.settings, "kees", auth.Role.AGENT, ["gm0268"])  # not the agent of this contact
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await routing.CompleteContact(
            rt.CompleteContactRequest(
                agent="agents/fatima", contact=first.contact.name, correction=rt.Correction(refer_to="UWV")
            ),
            metadata=kees,
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    await desk.complete(first.contact.name, product_uri=UPL + "afvalcontainer")
    second = await desk.take(question="blauwe flodder kapot gewaaid, Pietersen")
    await desk.complete(second.contact.name, product_uri=UPL + "afvalcontainer")
    third = await desk.take(question="waar blijft mijn blauwe flodder")
    await desk.complete(third.contact.name, product_uri=UPL + "afvalcontainer")
    confirmed = await desk.take(question="paspoort verlengen")
    assert confirmed.contact.product_uri == UPL + "paspoort"
    await desk.complete(confirmed.contact.name, product_uri=UPL + "paspoort")
    referred = await desk.take(question="rijbewijs verlengen")
    await desk.complete(referred.contact.name, refer_to="RDW")  # a miss the tenant's phrases cannot fix
    by_product = await desk.take(product_uri=UPL + "rijbewijs")
    assert (await desk.refused(by_product.contact.name, product_uri=UPL + "rijbewijs"))[:2] == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "CONTACT_NOT_RECOGNISED",
    )
    await routing.CompleteContact(  # without a correction, as before
        rt.CompleteContactRequest(agent="agents/fatima", contact=by_product.contact.name), metadata=desk.agent
    )

    async def accuracy() -> tp.RecognitionAccuracy:
        return await tenancy.GetRecognitionAccuracy(
            tp.GetRecognitionAccuracyRequest(tenant="tenants/gm0268"), metadata=admin
        )

    checked: list[tp.RecognitionAccuracy] = []

    async def all_checked() -> bool:
        checked.append(await accuracy())
        return bool(checked[-1].weeks) and checked[-1].weeks[0].checked == 5

    for _ in range(200):
        if await all_checked():
            break
        await asyncio.sleep(0.05)
    (week,) = checked[-1].weeks
    assert (week.checked, week.confirmed, week.accuracy) == (5, 1, 0.2)
    assert week.week == corrections.iso_week(first.contact.enqueue_time.ToDatetime(UTC))

    # Nothing personal kept: no name, phone number, e-mail address or postcode, no text.
    rows = await tenancy_app.db.run(lambda s: list(s.exec(select(LexiconCorrectionRow))))
    words = [w for r in rows for w in json.loads(r.words)]
    kept = " ".join(w for w in words if not w.startswith(corrections.HIDDEN))  # hashes are hex: could hold "6512"
    assert "flodder" in kept and "blijft" not in kept  # one question's unknown word: only its hash
    assert (
        corrections.HIDDEN + corrections.word_hash(tenancy_app.settings.question_key_secret, "gm0268", "blijft")
        in words
    )
    assert not [p for p in PERSONAL if p in kept]
    assert {r.tenant for r in rows} == {"gm0268"}
    published = await stored_events(routing_app.bus.js, "kcc.gm0268.contact.>")  # what every consumer may read
    carried = " ".join(
        [*(w for e in published for w in e.contact_routed.question_words)]
        + [*(w for e in published for w in e.contact_changed.correction.question_words)]
    )
    assert "flodder" in carried and not [p for p in PERSONAL if p in carried]

    found = await tenancy.ListLexiconSuggestions(
        tp.ListLexiconSuggestionsRequest(parent="tenants/gm0268"), metadata=admin
    )
    best = [(s.lexicon, s.phrase, s.misses, s.elsewhere) for s in found.suggestions[:3]]
    assert (CONTAINER, "blauwe", 3, 0) in best and (CONTAINER, "flodder", 3, 0) in best
    assert (CONTAINER, "blauwe flodder", 3, 0) in [
        (s.lexicon, s.phrase, s.misses, s.elsewhere) for s in found.suggestions
    ]
    assert not [s for s in found.suggestions if any(p in s.phrase for p in PERSONAL)]
    assert not [s for s in found.suggestions if "rijbewijs" in s.lexicon or "paspoort" in s.lexicon]

    # Another gemeente sees nothing of it; its own integration reads its own (none).
    arnhem = token(tenancy_app.settings, "gm0202-int", auth.Role.TENANT_INTEGRATION, ["gm0202"])
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await tenancy.ListLexiconSuggestions(tp.ListLexiconSuggestionsRequest(parent="tenants/gm0268"), metadata=arnhem)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    own = await tenancy.ListLexiconSuggestions(
        tp.ListLexiconSuggestionsRequest(parent="tenants/gm0202"), metadata=arnhem
    )
    assert not own.suggestions
    assert not (
        await tenancy.GetRecognitionAccuracy(tp.GetRecognitionAccuracyRequest(tenant="tenants/gm0202"), metadata=arnhem)
    ).weeks

    # Adopted through the lexicon: no longer suggested, and routing recognises it live.
    await tenancy.UpdateProductLexicon(
        tp.UpdateProductLexiconRequest(name=CONTAINER, add=["blauwe flodder"]), metadata=admin
    )
    after = await tenancy.ListLexiconSuggestions(
        tp.ListLexiconSuggestionsRequest(parent="tenants/gm0268"), metadata=admin
    )
    assert "blauwe flodder" not in [s.phrase for s in after.suggestions]

    async def top() -> str:
        reply = await routing.ClassifyQuestion(
            rt.ClassifyQuestionRequest(tenant="tenants/gm0268", question="de blauwe flodder"), metadata=admin
        )
        return reply.products[0].uri if reply.products else ""

    await eventually(
        lambda: (
            "blauwe flodder"
            in next(
                p.synonyms
                for p in routing_app.state.catalogues["gm0268"].snapshot.products
                if p.slug == "afvalcontainer"
            )
        )
    )
    for _ in range(200):  # the recognizer is built on routing's worker thread
        if await top() == UPL + "afvalcontainer":
            break
        await asyncio.sleep(0.05)
    assert await top() == UPL + "afvalcontainer"


async def test_a_correction_with_more_words_than_routing_keeps_still_fits(  # type: ignore[no-untyped-def]
    tenancy_on_database, channel_to, admin
) -> None:
    tenancy_app, _ = tenancy_on_database
    await make_tenant(channel_to(tenancy_app), admin, "gm0268", "Nijmegen", PRODUCTS)
    correction = events_pb2.RecognitionCorrection(
        product_uri=UPL + "paspoort", question_words=[f"{n:02d}" + "w" * 40 for n in range(40)], question_hash="h"
    )
    changed = events_pb2.ContactChanged(contact="tenants/gm0268/contacts/c1", change="completed", correction=correction)
    await tenancy_app.bus.publish(
        events.subject("gm0268", "contact", "completed"), events.envelope("gm0268", contact_changed=changed)
    )
    rows: list[LexiconCorrectionRow] = []

    async def stored() -> bool:
        rows[:] = await tenancy_app.db.run(lambda s: list(s.exec(select(LexiconCorrectionRow))))
        return bool(rows)

    for _ in range(200):
        if await stored():
            break
        await asyncio.sleep(0.05)
    (row,) = rows
    assert len(json.loads(row.words)) == corrections.MAX_WORDS and not row.confirmed


def test_suggestions_rank_by_misses_less_questions_for_other_answers() -> None:
    def row(
        n: int, words: list[str], product: str = "", refer_to: str = "", confirmed: bool = False
    ) -> LexiconCorrectionRow:
        return LexiconCorrectionRow(
            tenant="gm0268",
            contact=str(n),
            week="2026-W49",
            complete_time=datetime.now(UTC),
            product_uri=product,
            refer_to=refer_to,
            confirmed=confirmed,
            words=json.dumps(words),
            question_hash=f"h{n % 4}",
        )

    rows = [
        row(0, ["kliko", "aanvragen"], "c"),
        row(1, ["kliko", "aanvragen"], "c"),
        row(4, ["kliko", "aanvragen"], "c"),  # the same question as row 0 (hash h0): counted once
        row(2, ["kliko", "kapot"], "c"),
        row(3, ["paspoort", "aanvragen"], "p", confirmed=True),
    ]
    out = corrections.suggest(rows, {"c": {"container"}, "p": {"paspoort"}}, {})
    assert out[0] == ("c", "kliko", 3, 0)
    assert ("c", "kliko aanvragen", 2, 0) in out
    assert ("c", "aanvragen", 2, 1) in out  # also in a paspoort question
    assert not [s for s in out if s[0] == "p"]  # confirmed: nothing to fix
