"""Recognizers in routing: shared by tenants with the same products and phrases, derived between
calls or built on a thread, swapped in when ready (tenancy, routing and nats-server real)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from google.protobuf import field_mask_pb2

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.routing import recognizers
from services.routing.app import RoutingApp
from services.routing.recognition import CatalogueEntry, ProductRecognizer
from services.routing.recognition.phrases import PhraseIndex
from services.tenancy.app import TenancyApp
from tests.builders import UPL, eventually, make_tenant, routable

PRODUCTS = [("paspoort", "paspoort", "burgerzaken"), ("rijbewijs", "rijbewijs", "burgerzaken")]


@pytest.fixture
async def two(tenancy: TenancyApp, routing: RoutingApp, channel_to, admin):  # type: ignore[no-untyped-def]
    """Nijmegen and Arnhem with the same two products; returns (tenancy stub, routing stub)."""
    for tenant, name in (("gm0268", "Nijmegen"), ("gm0202", "Arnhem")):
        await make_tenant(channel_to(tenancy), admin, tenant, name, PRODUCTS)
        await routable(channel_to(routing), admin, tenant)

    def settled(tenant: str) -> bool:  # the last snapshot's recognizer, both products in it
        found = routing.state.catalogues[tenant].recognizer
        return found is not None and found.by_uri(UPL + "rijbewijs") is not None

    await eventually(lambda: settled("gm0268") and settled("gm0202"))
    return (
        tenancy_pb2_grpc.TenancyServiceStub(channel_to(tenancy)),
        routing_pb2_grpc.RoutingServiceStub(channel_to(routing)),
    )


def update(field: str, **values: object) -> tp.UpdateProductRequest:
    return tp.UpdateProductRequest(
        product=tp.Product(name="tenants/gm0268/products/paspoort", **values),  # type: ignore[arg-type]
        update_mask=field_mask_pb2.FieldMask(paths=[field]),
    )


def recognizer(routing: RoutingApp, tenant: str) -> ProductRecognizer:
    return routing.state.catalogues[tenant].recognizer


async def top(stub: routing_pb2_grpc.RoutingServiceStub, admin, tenant: str, question: str) -> str:  # type: ignore[no-untyped-def]
    reply = await stub.RouteContact(
        rt.RouteContactRequest(tenant=f"tenants/{tenant}", channel=common_pb2.CHANNEL_CHAT, question=question),
        metadata=admin,
    )
    return reply.contact.product_uri


async def served_meanwhile(stub: routing_pb2_grpc.RoutingServiceStub, admin, routing: RoutingApp, old) -> None:  # type: ignore[no-untyped-def]
    """While Nijmegen's new recognizer is being made, both tenants are routed, Nijmegen by its old one."""
    assert await top(stub, admin, "gm0202", "mijn paspoort is verlopen") == UPL + "paspoort"
    assert await top(stub, admin, "gm0268", "mijn paspoort is verlopen") == UPL + "paspoort"
    assert recognizer(routing, "gm0268") is old


async def test_tenants_with_the_same_products_and_phrases_share_a_recognizer(two, routing, admin) -> None:  # type: ignore[no-untyped-def]
    tenancy, _ = two
    shared = recognizer(routing, "gm0202")
    assert recognizer(routing, "gm0268") is shared
    builds = routing.recognizers.builds

    # a display name and an IVR code are no phrases: still the shared recognizer, nothing built
    await tenancy.UpdateProduct(update("display_name", display_name="Reisdocument"), metadata=admin)
    await tenancy.UpdateProduct(update("ivr_codes", ivr_codes=["7"]), metadata=admin)
    await eventually(lambda: "7" in routing.state.catalogues["gm0268"].by_ivr)
    assert recognizer(routing, "gm0268") is shared and routing.recognizers.builds == builds

    # a phrase of its own: a recognizer of its own; dropping it again: the shared one, not rebuilt
    await tenancy.UpdateProduct(update("synonyms", synonyms=["groene loper"]), metadata=admin)
    await eventually(lambda: recognizer(routing, "gm0268") is not shared)
    assert routing.recognizers.builds == builds + 1
    assert recognizer(routing, "gm0268").derived, "made from the shared one, not built in full"
    await tenancy.UpdateProduct(update("synonyms", synonyms=[]), metadata=admin)
    await eventually(lambda: recognizer(routing, "gm0268") is shared)
    assert routing.recognizers.builds == builds + 1


async def test_a_derivation_runs_between_calls_and_the_old_recognizer_serves_until_it_is_done(  # type: ignore[no-untyped-def]
    two, routing, admin, monkeypatch
) -> None:
    tenancy, stub = two
    started, release = asyncio.Event(), asyncio.Event()
    derive = PhraseIndex.derive_in_steps

    def held(index: PhraseIndex, entries):  # type: ignore[no-untyped-def]
        started.set()
        while not release.is_set():  # a derivation that takes as long as the test wants
            yield
        return (yield from derive(index, entries))

    monkeypatch.setattr(PhraseIndex, "derive_in_steps", held)
    old = recognizer(routing, "gm0268")
    await tenancy.UpdateProduct(update("synonyms", synonyms=["groene loper"]), metadata=admin)
    try:
        await asyncio.wait_for(started.wait(), 30)
        await served_meanwhile(stub, admin, routing, old)  # by a derivation that runs on the loop
        assert await top(stub, admin, "gm0268", "de groene loper graag") == ""
    finally:
        release.set()
    await eventually(lambda: recognizer(routing, "gm0268") is not old)
    assert recognizer(routing, "gm0268").derived
    assert await top(stub, admin, "gm0268", "de groene loper graag") == UPL + "paspoort"
    assert await top(stub, admin, "gm0202", "de groene loper graag") == ""


async def test_a_full_build_runs_on_its_thread_and_the_old_recognizer_serves_until_it_is_done(  # type: ignore[no-untyped-def]
    two, routing, admin, monkeypatch
) -> None:
    tenancy, stub = two
    started, release = threading.Event(), threading.Event()
    build = recognizers.build_in_full

    def held(entries: list[CatalogueEntry]) -> ProductRecognizer:
        started.set()
        release.wait(60)
        return build(entries)

    monkeypatch.setattr(recognizers, "build_in_full", held)
    old = recognizer(routing, "gm0268")
    # another product: no recognizer of the same products to derive from
    await tenancy.CreateProduct(
        tp.CreateProductRequest(
            parent="tenants/gm0268",
            product_id="afvalcontainer",
            product=tp.Product(
                upl_uri=UPL + "afvalcontainer",
                display_name="Afvalcontainer",
                department="tenants/gm0268/departments/burgerzaken",
                handling=common_pb2.HANDLING_FIRST_LINE,
                enabled=True,
            ),
        ),
        metadata=admin,
    )
    try:
        assert await asyncio.to_thread(started.wait, 30), "the build never started"
        await served_meanwhile(stub, admin, routing, old)
    finally:
        release.set()
    await eventually(lambda: recognizer(routing, "gm0268") is not old)
    assert not recognizer(routing, "gm0268").derived
    assert await top(stub, admin, "gm0268", "mijn afvalcontainer is kapot") == UPL + "afvalcontainer"
