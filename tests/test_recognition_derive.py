"""A recognizer derived from another by a tenant's lexicon changes equals one built in full."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from services.routing import referral
from services.routing.recognition import CatalogueEntry, ProductRecognizer
from services.routing.recognition.dutch import content_words
from services.routing.recognition.lexicon import default_catalogue
from services.routing.recognition.phrases import MAX_DERIVED_CHANGES, STEP, PhraseIndex

QUESTIONS = [
    line.split("\t", 1)[0]
    for name in ("questions-dev2.tsv", "questions-fresh.tsv")
    for line in (Path(__file__).parent / "data" / name).read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]


@pytest.fixture(scope="module")
def base() -> ProductRecognizer:
    return ProductRecognizer([*default_catalogue(), *referral.topic_entries()])


def comparable(index: PhraseIndex) -> dict[str, object]:
    """The index with phrase ids replaced by what the phrases are, so that a derived index (new
    phrases at the end) and a full build (phrases in catalogue order) compare."""
    live = {}
    for i, entry in enumerate(index.entries):
        for pid in index._entry_phrases.get(i, ()):
            source = index._sources[pid]
            assert source is not None
            live[pid] = (entry.uri, source.weight, source.words)
    postings = {s: Counter((live[pid], k, credit) for pid, k, credit in plist) for s, plist in index.postings.items()}
    assert all(pid in live for plist in index.postings.values() for pid, _, _ in plist), "a dropped phrase is posted"
    phrases = Counter((live[pid], index.phrases[pid]) for pid in live)
    return {
        "vocab": index.vocab,
        "idf": index.idf_by_stem,
        "default_idf": index.default_idf,
        "postings": postings,
        "phrases": phrases,
        "entry_credit": index.entry_credit,
        "typo_targets": index.typo_targets,
        "slot_postings": {s: sorted(credit for _, credit in v) for s, v in index.slot_postings.items()},
    }


def derive(base: ProductRecognizer, entries: list[CatalogueEntry]) -> ProductRecognizer:
    """Step by step, as routing runs a derivation between calls."""
    steps = base.index.derive_in_steps(entries)
    while True:
        try:
            next(steps)
        except StopIteration as done:
            assert done.value is not None, "derivable"
            return ProductRecognizer(entries, index=done.value)


def lexicon_changes(catalogue: list[CatalogueEntry], rng: random.Random, products: int) -> list[CatalogueEntry]:
    """Phrases added (of known words, of new words, of words that split catalogue compounds
    anew) and default phrases suppressed, on `products` random products."""
    known = sorted({w for e in catalogue for w in content_words(e.name)})
    out = list(catalogue)
    for i in rng.sample(range(len(catalogue) - len(referral.topic_entries())), products):
        synonyms = list(out[i].synonyms)
        for _ in range(rng.randint(1, 3)):
            kind = rng.choice(["known", "new", "part", "suppress"])
            if kind == "known":
                synonyms.append(" ".join(rng.sample(known, 2)))
            elif kind == "new":
                synonyms.append(f"{rng.choice(known)} zorbel{rng.randint(0, 999)}")
            elif kind == "part":  # a new word that is part of compounds the catalogue has
                synonyms.append(rng.choice(["kinder", "dijk", "rand", "zwerf"]))
            elif synonyms:
                synonyms.pop(rng.randrange(len(synonyms)))
        out[i] = replace(out[i], synonyms=tuple(synonyms))
    return out


@pytest.mark.parametrize("seed", range(6))
def test_a_derived_recognizer_equals_a_full_build(base: ProductRecognizer, seed: int) -> None:
    rng = random.Random(seed)
    changed = lexicon_changes(base.index.entries, rng, products=rng.choice([1, 3, 12]))
    derived = derive(base, changed)
    full = ProductRecognizer(changed)
    assert derived.derived and not full.derived
    assert comparable(derived.index) == comparable(full.index)
    for question in QUESTIONS[:300]:
        assert derived.recognize(question) == full.recognize(question), question
    # and a derivation of a derivation (a tenant changing its lexicon again)
    again = lexicon_changes(changed, rng, products=2)
    assert comparable(derive(derived, again).index) == comparable(ProductRecognizer(again).index)


def test_the_base_is_left_as_it_was(base: ProductRecognizer) -> None:
    before = comparable(base.index)
    derive(base, lexicon_changes(base.index.entries, random.Random(9), products=5))
    assert comparable(base.index) == before


def test_other_products_or_many_changes_are_built_in_full(base: ProductRecognizer) -> None:
    entries = base.index.entries
    assert base.index.derive(entries[1:]) is None
    renamed = [replace(entries[0], name="iets anders"), *entries[1:]]
    assert base.index.derive(renamed) is None
    many = [
        replace(e, synonyms=(*e.synonyms, "paspoort kwijt")) if i <= MAX_DERIVED_CHANGES else e
        for i, e in enumerate(entries)
    ]
    assert base.index.derive(many) is None


def test_a_long_derivation_pauses_every_few_dozen_phrases(base: ProductRecognizer) -> None:
    """Routing runs derivations on its event loop: one that never paused would stall every call."""
    entries = list(base.index.entries)
    paspoort = next(i for i, e in enumerate(entries) if e.uri.endswith("/paspoort"))
    entries[paspoort] = replace(entries[paspoort], synonyms=("groene loper",))  # its defaults suppressed
    steps = base.index.derive_in_steps(entries)
    pauses = 0
    while True:
        try:
            next(steps)
            pauses += 1
        except StopIteration as done:
            new = done.value
            break
    assert new is not None
    redone = sum(1 for old, now in zip(base.index.phrases, new.phrases, strict=False) if old is not now)
    assert redone > 500, "a change whose words many phrases share"
    assert pauses >= redone // STEP
