"""Product lexicons owned by tenancy: the versioned default, a tenant's added and suppressed
phrases, carried in its snapshot and live in routing (SQLite and PostgreSQL, real servers)."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import lexicon
from tests.builders import UPL, eventually, make_tenant, routable

PRODUCTS = [("paspoort", "paspoort", "burgerzaken"), ("rijbewijs", "rijbewijs", "burgerzaken")]
PASPOORT = "tenants/gm0268/products/paspoort/lexicon"


async def test_a_tenants_added_and_suppressed_phrases_reach_routing(tenancy_on_database, channel_to, admin) -> None:  # type: ignore[no-untyped-def]
    tenancy_app, routing_app = tenancy_on_database
    for tenant, name in (("gm0268", "Nijmegen"), ("gm0202", "Arnhem")):
        await make_tenant(channel_to(tenancy_app), admin, tenant, name, PRODUCTS)
        await routable(channel_to(routing_app), admin, tenant)
    tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy_app))
    routing = routing_pb2_grpc.RoutingServiceStub(channel_to(routing_app))
    default = lexicon.default()
    assert default.version and default.phrases["paspoort"]

    shown = await tenancy.GetProductLexicon(tp.GetProductLexiconRequest(name=PASPOORT), metadata=admin)
    assert shown.default_version == default.version
    assert list(shown.default_phrases) == list(shown.phrases) == list(default.phrases["paspoort"])
    assert not shown.added and not shown.suppressed

    unwanted = default.phrases["paspoort"][0]
    changed = await tenancy.UpdateProductLexicon(
        tp.UpdateProductLexiconRequest(name=PASPOORT, add=["groene loper"], suppress=[unwanted]), metadata=admin
    )
    assert list(changed.added) == ["groene loper"] and list(changed.suppressed) == [unwanted]
    assert "groene loper" in changed.phrases and unwanted not in changed.phrases
    assert await tenancy.GetProductLexicon(tp.GetProductLexiconRequest(name=PASPOORT), metadata=admin) == changed

    def carried() -> tuple[str, ...]:
        products = routing_app.state.catalogues["gm0268"].snapshot.products
        return next(p.synonyms for p in products if p.slug == "paspoort")

    await eventually(lambda: "groene loper" in carried())
    assert unwanted not in carried()

    async def top(tenant: str, question: str) -> str:
        reply = await routing.ClassifyQuestion(
            rt.ClassifyQuestionRequest(tenant=f"tenants/{tenant}", question=question), metadata=admin
        )
        return reply.products[0].uri if reply.products else ""

    for _ in range(200):  # the recognizer is built on routing's worker thread
        if await top("gm0268", "de groene loper") == UPL + "paspoort":
            break
        await asyncio.sleep(0.05)
    assert await top("gm0268", "de groene loper") == UPL + "paspoort"
    assert await top("gm0202", "de groene loper") == ""  # Arnhem keeps the default

    reset = await tenancy.UpdateProductLexicon(
        tp.UpdateProductLexiconRequest(name=PASPOORT, reset=["groene loper", unwanted]), metadata=admin
    )
    assert list(reset.phrases) == list(default.phrases["paspoort"]) and not reset.added and not reset.suppressed
    arnhem = routing_app.state.catalogues
    await eventually(lambda: (r := arnhem["gm0202"].recognizer) is not None and r.by_uri(UPL + "rijbewijs") is not None)
    shared = arnhem["gm0202"].recognizer
    await eventually(lambda: routing_app.state.catalogues["gm0268"].recognizer is shared)


async def test_only_a_default_phrase_can_be_suppressed(tenancy_on_database, channel_to, admin) -> None:  # type: ignore[no-untyped-def]
    tenancy_app, _ = tenancy_on_database
    await make_tenant(channel_to(tenancy_app), admin, "gm0268", "Nijmegen", PRODUCTS)
    tenancy = tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy_app))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await tenancy.UpdateProductLexicon(
            tp.UpdateProductLexiconRequest(name=PASPOORT, suppress=["iets dat er niet staat"]), metadata=admin
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "suppress[0]" in (err.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await tenancy.GetProductLexicon(
            tp.GetProductLexiconRequest(name="tenants/gm0268/products/geen/lexicon"), metadata=admin
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
