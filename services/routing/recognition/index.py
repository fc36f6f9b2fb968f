"""Recognise the UPL product a citizen asks about, from Dutch free text, in memory.

Routing has to answer within well under a millisecond and without a database round trip,
so every expensive step (normalising, stemming and splitting the catalogue's names and
synonyms, inverse document frequencies, typo neighbourhoods) happens once in
:class:`ProductRecognizer`'s constructor.  ``recognize()`` only normalises the question,
looks its words up in dictionaries (with a per-word cache for the fallbacks that handle
compounds, inflections and typos) and scores the few candidate phrases those words hit.

Scoring.  Every product has *phrases*: its UPL name and its synonyms.  A phrase is a list
of *slots*, one per content word; a compound slot (``parkeervergunning``) is satisfied by
the whole word or, partially, by its parts (``vergunning ... parkeren``).  For a question,
a phrase's *coverage* is the idf-weighted share of its slots that the question fills, and a
product's *explained share* is the idf-weighted share of the question's known words that
any of its phrases uses.  The score is ``best phrase coverage x (LAMBDA + (1 - LAMBDA) x
explained share)``: 1.0 means "a name, complete, and nothing else in the question", so
the same threshold works for every question.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.routing.recognition import typos
from services.routing.recognition.dutch import (
    AFTER_PARTICLE,
    CLAUSE_RE,
    MIN_FUZZY,
    MIN_PART,
    PARTICLES,
    STOPWORDS,
    WEAK_WORDS,
    affix_variants,
    load_real_words,
    normalize,
    split_compound,
    stem,
)
from services.routing.recognition.phrases import CatalogueEntry, PhraseIndex

__all__ = ["CONFIDENCE_THRESHOLD", "CatalogueEntry", "ProductMatch", "ProductRecognizer"]

#: Below this score routing should send the contact to the general queue.
CONFIDENCE_THRESHOLD = 0.42

# How much the explained share of the question counts against plain phrase coverage.
LAMBDA = 0.25
# Partly covered phrases count less than proportionally: "aanslag klopt niet" is not half
# present in "ja dat klopt".
COVERAGE_POWER = 1.5
# Credit of a query word found only by a fallback, relative to an exact (stemmed) hit.
FUZZY_WEIGHT = 0.8
AFFIX_WEIGHT = 0.95
# Weight, in the question's explained share, of a word the catalogue does not know.
UNKNOWN_IDF = 1.5
# Credit of the parts of a query compound whose whole is known: "hondenbelasting" is about
# dogs, not about every "belasting", but "parkeervergunning" still meets "vergunning parkeren".
QUERY_PART_WEIGHT = 0.6


@dataclass(frozen=True)
class ProductMatch:
    """A recognised product; ``score`` is 0..1 and comparable across questions."""

    uri: str
    name: str
    score: float


@dataclass(frozen=True)
class _Feature:
    stem: str
    weight: float  # query-side confidence in this reading of the word
    share: float  # share of the word this feature stands for (1 for the whole word)


@dataclass(frozen=True)
class _Word:
    features: tuple[_Feature, ...]
    idf: float  # weight of the word in the question's explained share


class ProductRecognizer:
    """Recognises products in a tenant catalogue; build once per catalogue, then share."""

    CONFIDENT: float = CONFIDENCE_THRESHOLD

    def __init__(
        self,
        entries: Iterable[CatalogueEntry],
        real_words: frozenset[str] | None = None,
        index: PhraseIndex | None = None,
    ) -> None:
        """``real_words``: Dutch words that are never read as typos; the shipped list by default.
        ``index``: these entries' index derived from a recognizer of nearly the same catalogue
        (``PhraseIndex.derive``); built in full when None."""
        self._real_words = load_real_words() if real_words is None else real_words
        self._entries: list[CatalogueEntry] = list(entries)
        self._by_uri = {e.uri: e for e in self._entries}
        self._by_ivr: dict[str, CatalogueEntry] = {}
        for e in self._entries:
            for code in e.ivr_codes:
                self._by_ivr.setdefault(_ivr_key(code), e)
        self.index: PhraseIndex = index if index is not None else PhraseIndex.build(self._entries)
        self.derived = index is not None
        # the index's tables under short names: recognize() reads them in its inner loops
        self._vocab = self.index.vocab
        self._splits = self.index.splits
        self._idf = self.index.idf_by_stem
        self._default_idf = self.index.default_idf
        self._phrases = self.index.phrases
        self._postings = self.index.postings
        self._slot_postings = self.index.slot_postings
        self._entry_credit = self.index.entry_credit
        self._typo_targets = self.index.typo_targets
        self._word_cache: dict[str, _Word | None] = {}
        self._joined_cache: dict[str, bool] = {}

    # -- look-ups -------------------------------------------------------------------------

    def by_ivr_code(self, code: str) -> CatalogueEntry | None:
        """The product behind an IVR menu choice, so a keyed-in choice skips recognition."""
        return self._by_ivr.get(_ivr_key(code))

    def by_uri(self, uri: str) -> CatalogueEntry | None:
        """The catalogue entry for a URI, e.g. to show its name next to a stored route."""
        return self._by_uri.get(uri)

    def knows(self, word: str) -> bool:
        """Whether a word is one of the catalogue's: a capitalised word that is not may be a name."""
        return stem(word) in self._vocab

    def idf(self, s: str) -> float:
        """Rarer stems say more about which product is meant; everyday words say little."""
        return self.index.idf(s)

    # -- recognition ----------------------------------------------------------------------

    def recognize(self, text: str, limit: int = 5) -> list[ProductMatch]:
        """Best-first products for a question; scores below ``CONFIDENT`` mean "not sure"."""
        if limit <= 0:
            return []
        code_hit = self.by_ivr_code(text) if text.strip() else None
        if code_hit is not None:
            return [ProductMatch(code_hit.uri, code_hit.name, 1.0)]

        words: list[_Word] = []
        unknown = 0
        seen_words: set[str] = set()
        for w in self._tokens(text):
            if w in STOPWORDS or w in seen_words:
                continue
            seen_words.add(w)
            analysed = self._analyse(w)
            if analysed is not None:
                words.append(analysed)
            elif len(w) >= 3 and w not in WEAK_WORDS and not w.isdigit():
                unknown += 1
        if not words:
            return []
        # words we do not understand make any reading less certain (same for every product,
        # so they change the score, not the ranking)
        total_word_idf = sum(w.idf for w in words) + UNKNOWN_IDF * unknown

        slot_credit: dict[tuple[int, int], float] = {}
        entry_words: dict[int, dict[int, float]] = {}
        postings = self._postings
        phrases = self._phrases
        for wi, word in enumerate(words):
            if len(word.features) == 1:  # one reading: the regrouped postings say it all
                f = word.features[0]
                for key, credit in self._slot_postings.get(f.stem, ()):
                    value = credit * f.weight
                    if value > slot_credit.get(key, 0.0):
                        slot_credit[key] = value
                share = f.share * f.weight
                for entry, credit in self._entry_credit.get(f.stem, {}).items():
                    entry_words.setdefault(entry, {})[wi] = share * credit
                continue
            # a slot is filled by one question word (its parts add up), never by two
            # half-matches from different words
            local: dict[tuple[int, int], float] = {}
            # how much of this word each product uses: best use per reading of the word,
            # summed over its readings (the parts of a compound add up)
            used: dict[int, dict[int, float]] = {}
            for fi, f in enumerate(word.features):
                for pid, k, credit in postings.get(f.stem, ()):
                    key = (pid, k)
                    local[key] = local.get(key, 0.0) + credit * f.weight
                    per_feature = used.setdefault(phrases[pid].entry, {})
                    value = f.share * f.weight * credit
                    if value > per_feature.get(fi, 0.0):
                        per_feature[fi] = value
            for key, value in local.items():
                if value > slot_credit.get(key, 0.0):
                    slot_credit[key] = value
            for entry, per_feature in used.items():
                entry_words.setdefault(entry, {})[wi] = sum(per_feature.values())

        phrase_cov: dict[int, float] = {}
        for (pid, k), credit in slot_credit.items():
            ph = phrases[pid]
            phrase_cov[pid] = phrase_cov.get(pid, 0.0) + ph.slot_idf[k] * min(1.0, credit)
        best: dict[int, float] = {}
        for pid, covered in phrase_cov.items():
            ph = phrases[pid]
            value = ph.weight * (covered / ph.total_idf) ** COVERAGE_POWER
            if value > best.get(ph.entry, 0.0):
                best[ph.entry] = value

        # A score is at most its coverage (the explained share is at most 1), so products are
        # scored in order of coverage until no further one can reach the top `limit`.
        scored: list[tuple[float, int]] = []
        kth: list[float] = []  # min-heap of the `limit` best scores so far
        for entry, cov in sorted(best.items(), key=lambda t: -t[1]):
            if len(kth) == limit and cov < kth[0]:
                break
            explained = entry_words[entry]
            share = sum(words[wi].idf * min(1.0, v) for wi, v in explained.items())
            score = cov * (LAMBDA + (1.0 - LAMBDA) * share / total_word_idf)
            scored.append((score, entry))
            if len(kth) < limit:
                heapq.heappush(kth, score)
            elif score > kth[0]:
                heapq.heapreplace(kth, score)
        scored.sort(key=lambda t: (-t[0], t[1]))
        out = []
        for score, entry in scored[:limit]:
            e = self._entries[entry]
            out.append(ProductMatch(e.uri, e.name, round(min(1.0, score), 4)))
        return out

    def _tokens(self, text: str) -> list[str]:
        """Normalised words, with a separable verb's particle joined back onto the verb when it
        closes a clause: "wij trekken in bij ..." -> "intrekken", "ik geef het door" -> "doorgeef",
        and a compound written apart joined when the catalogue knows the whole word:
        "leerlingen vervoer" -> "leerlingenvervoer"."""
        clauses = [normalize(c) for c in CLAUSE_RE.split(text)] if CLAUSE_RE.search(text) else [normalize(text)]
        out: list[str] = []
        for toks in clauses:
            toks = self._join_compounds(toks)
            if PARTICLES.isdisjoint(toks):
                out.extend(toks)
                continue
            for i, tok in enumerate(toks):
                if tok not in PARTICLES or (i + 1 < len(toks) and toks[i + 1] not in AFTER_PARTICLE):
                    continue
                for j in range(i - 1, max(-1, i - 8), -1):
                    verb = toks[j]
                    if len(verb) < 3 or verb in PARTICLES or verb.isdigit():
                        continue
                    joined = tok + verb
                    known = self._joined_cache.get(joined)
                    if known is None:
                        known = self._before_fuzzy(joined) is not None
                        if len(self._joined_cache) < 100_000:
                            self._joined_cache[joined] = known
                    if known:
                        toks[j] = joined
                        toks[i] = ""
                        break
            out.extend(t for t in toks if t)
        return out

    def _join_compounds(self, toks: list[str]) -> list[str]:
        out: list[str] = []
        i = 0
        while i < len(toks):
            first = toks[i]
            if i + 1 < len(toks) and self._written_apart(first, toks[i + 1]):
                out.append(first + toks[i + 1])
                i += 2
            else:
                out.append(first)
                i += 1
        return out

    def _written_apart(self, first: str, second: str) -> bool:
        """Whether two neighbouring words are one catalogue word: "parkeer vergunning"."""
        if len(first) < 2 or len(second) < 3 or first in STOPWORDS or second in STOPWORDS:
            return False
        if first in PARTICLES or first.isdigit() or second.isdigit():
            return False
        return stem(first + second) in self._postings

    # -- word analysis (cached) -------------------------------------------------------------

    def _analyse(self, word: str) -> _Word | None:
        cache = self._word_cache
        if word in cache:
            return cache[word]
        result = self._analyse_uncached(word)
        if len(cache) < 100_000:
            cache[word] = result
        return result

    def _analyse_uncached(self, word: str) -> _Word | None:
        found = self._before_fuzzy(word)
        if found is not None or word in WEAK_WORDS:
            return found  # a weak word that no phrase uses is neither evidence nor noise
        # a typo is likelier than a new compound with a known part, unless the word is real Dutch
        if len(word) >= MIN_FUZZY and word not in self._real_words:
            cands = self._fuzzy(word)
            if cands:
                feats = [_Feature(c, FUZZY_WEIGHT, 1.0) for c in cands]
                return _Word(tuple(feats), max(self.idf(c) for c in cands))
        parts = self._split(word)
        if len(parts) > 1:
            return self._parts_word(parts)
        return None

    def _before_fuzzy(self, word: str) -> _Word | None:
        """The exact readings of a word: its stem, an inflected form, a compound of known parts."""
        known = self._postings
        s = stem(word)
        if s in known:
            feats = [_Feature(s, 1.0, 1.0)]
            parts = self._split(word)
            if len(parts) > 1:
                feats.extend(self._part_features(parts, QUERY_PART_WEIGHT))
            return _Word(tuple(feats), self.idf(s))
        if word in WEAK_WORDS:
            return None
        # inflected or participle forms: verloopt, geleegd, opgehaald
        for alt in affix_variants(word):
            a = stem(alt)
            if a in known:
                return _Word((_Feature(a, AFFIX_WEIGHT, 1.0),), self.idf(a))
        parts = split_compound(word, self._vocab, partial=False)
        if len(parts) > 1:
            return self._parts_word(parts)
        return None

    def _parts_word(self, parts: tuple[str, ...]) -> _Word | None:
        hits = [f for f in self._part_features(parts, 1.0) if f.stem in self._postings]
        if not hits:
            return None
        return _Word(tuple(hits), max(self.idf(f.stem) for f in hits))

    def _part_features(self, parts: tuple[str, ...], weight: float) -> list[_Feature]:
        known = [self.idf(p) for p in parts if p in self._idf]
        floor = min(known) if known else 1.0
        idfs = [self.idf(p) if p in self._idf else floor for p in parts]
        total = sum(idfs)
        return [_Feature(p, weight, pi / total) for p, pi in zip(parts, idfs, strict=True)]

    def _fuzzy(self, word: str) -> list[str]:
        """Stems one edit (or one swap of neighbours) away from the word or its stem,
        through shared deletions."""
        found: set[str] = set()
        targets = self._typo_targets
        stemmed = stem(word)
        for form in {word, stemmed}:
            for near in typos.near(form):
                found.update(targets.get(near, ()))
        found.discard(stemmed)
        # typos rarely hit the first letter; requiring it keeps "vrouw" away from "trouw"
        return sorted(f for f in found if f[0] == word[0] and len(f) >= MIN_PART + 1)[:6]

    def _split(self, word: str) -> tuple[str, ...]:
        """Split a compound into known stems (fewest parts, Dutch linking -s-/-e-/-en-)."""
        return self._splits.get(word)


def _ivr_key(code: str) -> str:
    return re.sub(r"[\s\-.]", "", code.strip().upper())
