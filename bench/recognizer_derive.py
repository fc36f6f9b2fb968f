"""What a tenant's lexicon change costs routing: its recognizer derived from the default one,
against a full build, and its snapshot read.

Four kinds of lexicon change to one product (paspoort), five of each: a phrase of words the
catalogue knows, a phrase with a new word, a word that splits catalogue compounds anew, and
paspoort's 47 default phrases suppressed with one phrase added. Then a 450-product snapshot read
in full and read keeping the unchanged products of the one held. The collector is off while
timing. In one process, one after the other, so the ratios hold on a noisy machine.
Run: .venv/bin/python bench/recognizer_derive.py
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.common.snapshots import ProductSnapshot, TenantSnapshot  # noqa: E402
from services.common.upl import slug  # noqa: E402
from services.routing import referral  # noqa: E402
from services.routing.recognition import CatalogueEntry, ProductRecognizer  # noqa: E402
from services.routing.recognition.lexicon import default_catalogue  # noqa: E402

#: kind -> (phrases, one per run; whether the default phrases are kept)
KNOWN = ["hond fiets", "boom markt", "graf steiger", "kermis subsidie", "container boom"]
CHANGES = {
    "known words": (KNOWN, True),
    "a new word": ([f"zorbel{n} blauw" for n in range(5)], True),
    "a compound-splitting word": (["kinder", "dijk", "rand", "zwerf", "kinder dijk"], True),
    "47 defaults suppressed": (KNOWN, False),
}


def with_phrase(catalogue: list[CatalogueEntry], index: int, phrase: str, keep: bool) -> list[CatalogueEntry]:
    changed = list(catalogue)
    kept = changed[index].synonyms if keep else ()
    changed[index] = replace(changed[index], synonyms=(*kept, phrase))
    return changed


def snapshot_reads(catalogue: list[CatalogueEntry], runs: int = 50) -> tuple[float, float]:
    """Milliseconds to read a snapshot of every product and phrase: in full, and keeping the held
    snapshot's products (one product changed), as routing does."""
    products = [ProductSnapshot(e.uri, slug(e.uri), e.name, "burgerzaken", "FIRST_LINE", e.synonyms) for e in catalogue]
    held = TenantSnapshot(tenant="gm0268", display_name="Nijmegen", version=1, products=products)
    products = [replace(products[0], synonyms=(*products[0].synonyms, "groene loper")), *products[1:]]
    data = replace(held, version=2, products=products).to_json()
    held = TenantSnapshot.from_json(held.to_json())
    times = []
    for before in (None, held):
        began = time.perf_counter()
        for _ in range(runs):
            TenantSnapshot.from_json(data, before)
        times.append((time.perf_counter() - began) * 1000 / runs)
    return times[0], times[1]


def timed(entries: list[CatalogueEntry], base: ProductRecognizer | None) -> float:
    began = time.perf_counter()
    ProductRecognizer(entries, index=base.index.derive(entries) if base is not None else None)
    return (time.perf_counter() - began) * 1000


def main() -> None:
    catalogue = [*default_catalogue(), *referral.topic_entries()]
    base = ProductRecognizer(catalogue)  # also warms the shared typo and split tables
    paspoort = next(i for i, e in enumerate(catalogue) if e.uri.endswith("/paspoort"))
    gc.collect()
    gc.freeze()
    gc.disable()
    for kind, (phrases, keep) in CHANGES.items():
        derived = [timed(with_phrase(catalogue, paspoort, p, keep), base) for p in phrases]
        full = [timed(with_phrase(catalogue, paspoort, p, keep), None) for p in phrases]
        print(
            f"{kind:26}: derived {min(derived):5.1f}-{max(derived):5.1f} ms, "
            f"full build {min(full):5.0f}-{max(full):5.0f} ms"
        )
    in_full, keeping = snapshot_reads(default_catalogue())
    print(f"{'snapshot read':26}: {keeping:5.1f} ms keeping unchanged products, {in_full:5.1f} ms in full")


if __name__ == "__main__":
    main()
