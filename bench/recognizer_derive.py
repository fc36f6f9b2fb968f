"""How long a tenant's recognizer takes to derive from the default one, against a full build.

Three kinds of lexicon change to one product (paspoort), five of each: a phrase of words the
catalogue knows, a phrase with a new word, and a word that splits catalogue compounds anew. The
collector is off while timing, as routing's build thread has it. In one process, one after the
other, so the ratio holds on a noisy machine.
Run: .venv/bin/python bench/recognizer_derive.py
"""

from __future__ import annotations

import gc
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from services.routing import referral  # noqa: E402
from services.routing.recognition import CatalogueEntry, ProductRecognizer  # noqa: E402
from services.routing.recognition.lexicon import default_catalogue  # noqa: E402

CHANGES = {
    "known words": ["hond fiets", "boom markt", "graf steiger", "kermis subsidie", "container boom"],
    "a new word": [f"zorbel{n} blauw" for n in range(5)],
    "a compound-splitting word": ["kinder", "dijk", "rand", "zwerf", "kinder dijk"],
}


def with_phrase(catalogue: list[CatalogueEntry], index: int, phrase: str) -> list[CatalogueEntry]:
    changed = list(catalogue)
    changed[index] = replace(changed[index], synonyms=(*changed[index].synonyms, phrase))
    return changed


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
    for kind, phrases in CHANGES.items():
        derived = [timed(with_phrase(catalogue, paspoort, p), base) for p in phrases]
        full = [timed(with_phrase(catalogue, paspoort, p), None) for p in phrases]
        print(
            f"{kind:26}: derived {min(derived):5.1f}-{max(derived):5.1f} ms, "
            f"full build {min(full):5.0f}-{max(full):5.0f} ms"
        )


if __name__ == "__main__":
    main()
