"""Recognizers in routing: shared by tenants with the same products and phrases, built off the
event loop, swapped in when ready (tenancy, routing and nats-server real)."""

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
from services.routing import catalogue
from services.routing.app import RoutingApp
from services.routing.recognition import ProductRecognizer
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


async def test_a_build_never_stalls_calls_and_the_old_recognizer_serves_until_it_is_done(  # type: ignore[no-untyped-def]
    two, routing, admin, monkeypatch
) -> None:
    tenancy, stub = two
    started, release = threading.Event(), threading.Event()
    build = catalogue.recognizer_for

    def held(key: catalogue.RecognitionKey, base: ProductRecognizer | None) -> ProductRecognizer:
        started.set()
        release.wait(60)
        return build(key, base)

    monkeypatch.setattr(catalogue, "recognizer_for", held)
    old = recognizer(routing, "gm0268")
    await tenancy.UpdateProduct(update("synonyms", synonyms=["groene loper"]), metadata=admin)
    try:
        assert await asyncio.to_thread(started.wait, 30), "the build never started"
        # the build is held on its thread: both tenants are served meanwhile, Nijmegen by its old recognizer
        assert await top(stub, admin, "gm0202", "mijn paspoort is verlopen") == UPL + "paspoort"
        assert await top(stub, admin, "gm0268", "mijn paspoort is verlopen") == UPL + "paspoort"
        assert await top(stub, admin, "gm0268", "de groene loper graag") == ""
        assert recognizer(routing, "gm0268") is old
    finally:
        release.set()
    await eventually(lambda: recognizer(routing, "gm0268") is not old)
    assert await top(stub, admin, "gm0268", "de groene loper graag") == UPL + "paspoort"
    assert await top(stub, admin, "gm0202", "de groene loper graag") == ""
