"""Questions for another government body (doorverwijzen): which body, and how to reach it.

A KCC hears many questions that are not the gemeente's (toeslagen, WW, AOW, a kenteken, a
verkeersboete). The recognizer scores the referral topics (services/data/referral/topics.tsv)
beside the gemeente's products; when a topic wins, or a UPL product that another body decides
(upl-products.tsv), the answer's scope is "elsewhere" with the body to refer to.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from services.common.config import DATA, open_csv
from services.common.upl import slug
from services.routing.recognition import CONFIDENCE_THRESHOLD, CatalogueEntry, ProductMatch

REFERRAL_DIR = DATA / "referral"
#: URIs of referral topics in a recognizer; never a product of a tenant.
TOPIC_PREFIX = "referral:"
GEMEENTE = "gemeente"
#: Extra matches asked of the recognizer, so that topics left out still leave `limit` products.
LOOK_FURTHER = 3
ELSEWHERE = "elsewhere"


@dataclass(frozen=True)
class Body:
    name: str  # exactly as the KCC says it: "Belastingdienst", "UWV", ...
    phone: str  # empty when there is no one national number (Waterschap)
    website: str


@lru_cache(maxsize=1)
def bodies() -> dict[str, Body]:
    with open_csv(REFERRAL_DIR / "bodies.csv") as fh:
        return {row["body"]: Body(row["body"], row["phone"], row["website"]) for row in csv.DictReader(fh)}


def _rows(name: str) -> list[list[str]]:
    text = (REFERRAL_DIR / name).read_text(encoding="utf-8")
    return [line.split("\t") for line in text.splitlines() if line.strip() and not line.startswith("#")]


@lru_cache(maxsize=1)
def topic_entries() -> tuple[CatalogueEntry, ...]:
    """The referral topics as recognizer entries (``referral:<body>/<topic>``)."""
    known = bodies()
    out = []
    for body, topic, phrases in _rows("topics.tsv"):
        if body not in known:
            raise ValueError(f"topics.tsv: unknown body {body!r}")
        synonyms = tuple(p.strip() for p in phrases.split(",") if p.strip())
        out.append(CatalogueEntry(uri=f"{TOPIC_PREFIX}{body}/{topic}", name=topic, synonyms=synonyms))
    return tuple(out)


@lru_cache(maxsize=1)
def product_bodies() -> dict[str, str]:
    """UPL slug -> body, for products another body decides (the gemeente only informs)."""
    known = bodies()
    out = {}
    for product, body in _rows("upl-products.tsv"):
        if body not in known:
            raise ValueError(f"upl-products.tsv: unknown body {body!r}")
        out[product] = body
    return out


def is_topic(uri: str) -> bool:
    return uri.startswith(TOPIC_PREFIX)


def refer_to(matches: Sequence[ProductMatch]) -> Body | None:
    """The body a question is for, or None when it is the gemeente's (or nobody is sure)."""
    if not matches or matches[0].score < CONFIDENCE_THRESHOLD:
        return None
    top = matches[0].uri
    name = top[len(TOPIC_PREFIX) :].split("/", 1)[0] if is_topic(top) else product_bodies().get(slug(top))
    return bodies()[name] if name else None
