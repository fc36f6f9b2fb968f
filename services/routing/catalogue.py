"""Per-tenant recognition indexes built from tenancy snapshots, rebuilt when a snapshot changes."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from services.common.snapshots import ProductSnapshot, TenantSnapshot
from services.routing.recognition import CatalogueEntry, ProductRecognizer, load_default_synonyms


@lru_cache(maxsize=1)
def default_synonyms() -> dict[str, tuple[str, ...]]:
    return load_default_synonyms()


@lru_cache(maxsize=64)
def _recognizer(entries: tuple[CatalogueEntry, ...]) -> ProductRecognizer:
    """Tenants with the same catalogue share one recognizer: most gemeenten keep the default."""
    return ProductRecognizer(entries)


@dataclass
class TenantCatalogue:
    snapshot: TenantSnapshot
    recognizer: ProductRecognizer
    by_uri: dict[str, ProductSnapshot]
    by_slug: dict[str, ProductSnapshot]
    by_ivr: dict[str, ProductSnapshot]


def build(snapshot: TenantSnapshot) -> TenantCatalogue:
    defaults = default_synonyms()
    entries = tuple(
        CatalogueEntry(
            uri=p.uri,
            name=p.name,
            synonyms=tuple(dict.fromkeys((*defaults.get(p.slug, ()), *p.synonyms))),
            ivr_codes=p.ivr_codes,
        )
        for p in sorted(snapshot.products, key=lambda p: p.uri)
    )
    return TenantCatalogue(
        snapshot=snapshot,
        recognizer=_recognizer(entries),
        by_uri={p.uri: p for p in snapshot.products},
        by_slug={p.slug: p for p in snapshot.products},
        by_ivr={code: p for p in snapshot.products for code in p.ivr_codes},
    )
