"""Referral (doorverwijzen): questions for another government body, offline and through routing."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.routing import referral
from services.routing.app import RoutingApp
from services.routing.recognition import ProductRecognizer
from services.routing.recognition.lexicon import classify_lines, default_recognizer
from services.tenancy.app import TenancyApp
from tests.builders import UPL, make_tenant, routable

BODIES = ["Belastingdienst", "UWV", "SVB", "DUO", "RDW", "CJIB", "IND", "CAK", "Kadaster", "Politie", "Waterschap"]
FRESH = Path(__file__).parent / "data" / "referrals-fresh.tsv"  # written before the lexicon; never tune on it


@pytest.fixture(scope="module")
def recognizer() -> ProductRecognizer:
    return default_recognizer()


def scope(recognizer: ProductRecognizer, text: str) -> str:
    (line,) = classify_lines([text], recognizer)
    return str(line.get("refer_to", line["scope"]))


def test_the_eleven_bodies_each_with_a_website_and_a_number_where_one_is_known() -> None:
    assert list(referral.bodies()) == BODIES
    for body in referral.bodies().values():
        assert body.website.startswith("https://")
        assert body.phone or body.name in ("Waterschap", "SVB", "CJIB")  # these refer to their website
    assert {e.uri.split(":")[1].split("/")[0] for e in referral.topic_entries()} <= set(BODIES)
    assert set(referral.product_bodies().values()) <= set(BODIES)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ik wil bijstand aanvragen", "gemeente"),
        ("ik ben ontslagen en wil een ww-uitkering", "UWV"),
        ("ik wil huishoudelijke hulp via de wmo", "gemeente"),
        ("mijn eigen bijdrage voor de wmo is te hoog", "CAK"),
        ("mijn rijbewijs verloopt", "gemeente"),
        ("ik wil het kenteken van mijn auto overschrijven", "RDW"),
        ("bezwaar tegen mijn parkeerboete", "gemeente"),
        ("ik heb een verkeersboete voor te hard rijden", "CJIB"),
        ("ik wil naturalisatie aanvragen", "gemeente"),
        ("mijn zorgtoeslag is gestopt", "Belastingdienst"),
        ("wanneer krijg ik aow", "SVB"),
        ("mijn studiefinanciering is niet betaald", "DUO"),
        ("mijn verblijfsvergunning verloopt", "IND"),
    ],
)
def test_the_traps(recognizer: ProductRecognizer, text: str, expected: str) -> None:
    assert scope(recognizer, text) == expected


def test_classify_lines_say_scope_and_refer_to_only_when_elsewhere(recognizer: ProductRecognizer) -> None:
    own, other = classify_lines(["mijn paspoort is verlopen", "ik wil een ww uitkering aanvragen"], recognizer, 3)
    assert own["scope"] == "gemeente" and "refer_to" not in own
    assert other["scope"] == "elsewhere" and other["refer_to"] == "UWV"
    for line in (own, other):
        products = line["products"]
        assert isinstance(products, list) and len(products) <= 3
        assert all(not p["uri"].startswith(referral.TOPIC_PREFIX) for p in products)


def test_scope_on_the_fresh_set(recognizer: ProductRecognizer) -> None:
    """A floor under the fresh set's figure (bench/classify_accuracy.py prints it)."""
    rows = [line.split("\t") for line in FRESH.read_text(encoding="utf-8").splitlines() if line[:1] not in ("#", "")]
    right = sum(scope(recognizer, text) == wanted for text, wanted in rows)
    assert len(rows) >= 50 and right / len(rows) >= 0.9


async def test_route_contact_refers_and_the_figures_count_it(  # type: ignore[no-untyped-def]
    tenancy: TenancyApp, routing: RoutingApp, channel_to, admin
) -> None:
    products = [("paspoort", "paspoort", "burgerzaken"), ("bijstand", "bijstand", "werk-en-inkomen")]
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", products)
    await routable(channel_to(routing), admin, "gm0268", probe="bijstand")  # both products: the last snapshot
    stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))

    def route(question: str, request_id: str) -> rt.RouteContactRequest:
        return rt.RouteContactRequest(
            tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question=question, request_id=request_id
        )

    ww = await stub.RouteContact(route("ik ben werkloos en wil een ww-uitkering", "r1"), metadata=admin)
    assert ww.scope == "elsewhere" and ww.referral.body == "UWV"
    assert ww.referral.phone and ww.referral.website == "https://www.uwv.nl"
    assert not ww.recognised and ww.contact.queue == "algemeen"
    again = await stub.RouteContact(route("ik ben werkloos en wil een ww-uitkering", "r1"), metadata=admin)
    assert again.contact.name == ww.contact.name and again.referral.body == "UWV"  # a retry: from the stream

    own = await stub.RouteContact(route("ik wil bijstand aanvragen", "r2"), metadata=admin)
    assert own.scope == "gemeente" and not own.HasField("referral")
    assert own.recognised and own.contact.product_uri == UPL + "bijstand"

    classified = await stub.ClassifyQuestion(
        rt.ClassifyQuestionRequest(tenant="tenants/gm0268", question="flitsboete betalen"), metadata=admin
    )
    assert classified.scope == "elsewhere" and classified.referral.body == "CJIB"

    stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant="tenants/gm0268"), metadata=admin)
    referred = {q.queue: dict(q.referrals) for q in stats.queues}
    assert referred["algemeen"] == {"UWV": 1} and referred["werk-en-inkomen"] == {}
