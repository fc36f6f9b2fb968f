"""A tenant's catalogue in routing: its snapshot, look-ups by URI, slug and IVR code, and the
recognizer it shares with every tenant whose products and phrases are the same."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from operator import itemgetter, ne
from typing import NamedTuple

from services.common.snapshots import ProductSnapshot, TenantSnapshot
from services.routing import referral
from services.routing.recognition import CONFIDENCE_THRESHOLD, CatalogueEntry, ProductMatch, ProductRecognizer
from services.routing.recognition.lexicon import load_upl_products

#: What a recognizer is built from: (uri, name phrase, other phrases) per product, by URI.
RecognitionKey = tuple[tuple[str, str, tuple[str, ...]], ...]


@lru_cache(maxsize=1)
def upl_names() -> dict[str, str]:
    """The UPL's own product names: recognition reads these, not a tenant's display names, so
    that renaming a product keeps the tenant on the shared recognizer."""
    return dict(load_upl_products(gemeente_only=False))


def recognition_key(products: list[ProductSnapshot]) -> RecognitionKey:
    """Products and phrases only (the snapshot carries every phrase, tenancy owns the lexicon):
    display names and IVR codes do not change what is recognised."""
    names = upl_names()
    return tuple((p.uri, names.get(p.uri, p.name), p.synonyms) for p in sorted(products, key=lambda p: p.uri))


def entries(key: RecognitionKey) -> list[CatalogueEntry]:
    """What a recognizer for `key` indexes: the products and the referral topics."""
    products = [CatalogueEntry(uri=uri, name=name, synonyms=phrases) for uri, name, phrases in key]
    return [*products, *referral.topic_entries()]


def nearest(key: RecognitionKey, built: Iterable[tuple[RecognitionKey, ProductRecognizer]]) -> ProductRecognizer | None:
    """The built recognizer whose products are the same as `key`'s with the fewest phrases
    changed: a tenant's new lexicon is derived from it."""
    best: tuple[int, ProductRecognizer] | None = None
    uris = list(map(itemgetter(0), key))
    for other, recognizer in built:  # compared in C: it runs on the event loop
        if len(other) != len(key) or list(map(itemgetter(0), other)) != uris:
            continue
        changed = sum(map(ne, other, key))
        if best is None or changed < best[0]:
            best = (changed, recognizer)
    return best[1] if best is not None else None


def ivr_key(code: str) -> str:
    """An IVR choice as keyed in: "1-2", "1 2" and "12" are the same choice."""
    return re.sub(r"[\s\-.]", "", code.strip().upper())


@dataclass(frozen=True)
class TenantCatalogue:
    snapshot: TenantSnapshot
    key: RecognitionKey
    recognizer: ProductRecognizer | None  # until the tenant's own is built, the one it had (None: new)
    by_uri: dict[str, ProductSnapshot]
    by_slug: dict[str, ProductSnapshot]
    by_ivr: dict[str, ProductSnapshot]

    def with_recognizer(self, recognizer: ProductRecognizer) -> TenantCatalogue:
        return dataclasses.replace(self, recognizer=recognizer)

    def product_for_code(self, code: str) -> ProductSnapshot | None:
        return self.by_ivr.get(ivr_key(code))

    def answer(self, text: str, limit: int, recognize: Recognize) -> Answer:
        """A keyed-in IVR choice first, then the recognizer's ranking under this tenant's names.
        Referral topics and products the tenant does not offer (a recognizer still serving from
        before a change) are left out of the matches; a topic on top refers without a product."""
        coded = self.product_for_code(text) if text.strip() else None
        if coded is not None:
            return Answer([ProductMatch(coded.uri, coded.name, 1.0)], coded, None)
        if self.recognizer is None:  # a tenant new to this replica, its recognizer still being built
            return Answer([], None, None)
        ranked = recognize(self.recognizer, text, limit + referral.LOOK_FURTHER)
        matches = []
        for m in ranked:
            offered = self.by_uri.get(m.uri)
            if offered is not None:
                matches.append(ProductMatch(m.uri, offered.name, m.score))
        confident = bool(ranked) and ranked[0].score >= CONFIDENCE_THRESHOLD
        return Answer(matches[:limit], self.by_uri.get(ranked[0].uri) if confident else None, referral.refer_to(ranked))


Recognize = Callable[[ProductRecognizer, str, int], Sequence[ProductMatch]]


class Answer(NamedTuple):
    matches: list[ProductMatch]  # this tenant's products, best first
    product: ProductSnapshot | None  # the confident first product, if it is one this tenant offers
    referral: referral.Body | None  # the body the question is for, when it is not the gemeente's


def build(snapshot: TenantSnapshot, key: RecognitionKey, recognizer: ProductRecognizer | None) -> TenantCatalogue:
    return TenantCatalogue(
        snapshot=snapshot,
        key=key,
        recognizer=recognizer,
        by_uri={p.uri: p for p in snapshot.products},
        by_slug={p.slug: p for p in snapshot.products},
        by_ivr={ivr_key(code): p for p in snapshot.products for code in p.ivr_codes},
    )
