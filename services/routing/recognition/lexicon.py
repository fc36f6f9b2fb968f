"""The shipped lexicon data: the UPL products, the default phrases per product, the real Dutch
words the typo fallback leaves alone, and the default catalogue ``kcc classify`` uses offline."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from importlib.resources.abc import Traversable

from services.common import lexicon, upl
from services.common.upl import slug
from services.routing import referral
from services.routing.recognition.dutch import MIN_FUZZY, STOPWORDS, WEAK_WORDS, normalize, stem
from services.routing.recognition.index import CatalogueEntry, ProductRecognizer


def load_upl_products(path: Traversable = upl.UPL_CSV, *, gemeente_only: bool = True) -> list[tuple[str, str]]:
    """(uri, name) per product, read by the one UPL parser (services/common/upl.py)."""
    return [(p.uri, p.name) for p in upl.read_upl_csv(path, gemeente_only=gemeente_only)]


def real_words_near(recognizer: ProductRecognizer, words: Iterable[str]) -> list[str]:
    """The words of a Dutch word list that the typo fallback would otherwise "correct" into a
    catalogue word: how ``services/data/nl/real-words-near-catalogue.txt`` is made (see services/data/SOURCES.md)::

        rec = ProductRecognizer(default_catalogue(), real_words=frozenset())
        words = Path("/usr/share/dict/dutch").read_text(encoding="utf-8").split()
        Path(DEFAULT_REAL_WORDS_PATH).write_text("\n".join(real_words_near(rec, words)) + "\n")

    (plus the two comment lines of the shipped file).  Inflections of a catalogue word that the
    stemmer misses ("aanbouwde") are left out: reading them as that word is right."""
    out: set[str] = set()
    for raw in words:
        tokens = normalize(raw)
        if len(tokens) != 1 or raw[:1].isupper():
            continue
        (w,) = tokens
        if len(w) < MIN_FUZZY or w in STOPWORDS or w in WEAK_WORDS:
            continue
        cands = recognizer._fuzzy(w)
        s = stem(w)
        # an inflection the stemmer misses ("aanbouwde") is better read as its catalogue word
        if not cands or any(w.startswith(c) or s.startswith(c) for c in cands):
            continue
        # asked last: an exact reading (a compound split above all) costs ten times a typo lookup
        if recognizer._before_fuzzy(w) is None:
            out.add(w)
    return sorted(out)


def load_default_synonyms(path: Traversable = lexicon.DEFAULT_PATH) -> dict[str, tuple[str, ...]]:
    """slug -> synonyms from the shipped lexicon (``slug<TAB>phrase, phrase, ...``)."""
    return lexicon.parse(path).phrases


def default_catalogue() -> list[CatalogueEntry]:
    """The gemeente products of the UPL with the shipped lexicon, for tenants without
    their own catalogue and for the benchmark."""
    synonyms = load_default_synonyms()
    return [
        CatalogueEntry(uri=uri, name=name, synonyms=synonyms.get(slug(uri), ())) for uri, name in load_upl_products()
    ]


def default_recognizer() -> ProductRecognizer:
    """What ``kcc classify`` uses offline: the default catalogue and the referral topics."""
    return ProductRecognizer([*default_catalogue(), *referral.topic_entries()])


def classify_lines(lines: Iterable[str], recognizer: ProductRecognizer, limit: int = 5) -> Iterator[dict[str, object]]:
    """One JSON-ready result per non-empty line, for ``kcc classify``: the products and the
    scope, "gemeente" or "elsewhere" with the body to refer to."""
    for line in lines:
        text = line.strip()
        if not text:
            continue
        matches = recognizer.recognize(text, limit + referral.LOOK_FURTHER)
        body = referral.refer_to(matches)
        result: dict[str, object] = {"text": text, "scope": referral.ELSEWHERE if body else referral.GEMEENTE}
        if body is not None:
            result["refer_to"] = body.name
        result["products"] = [
            {"uri": m.uri, "name": m.name, "score": m.score} for m in matches if not referral.is_topic(m.uri)
        ][:limit]
        yield result
