"""A catalogue's phrases indexed for scoring, built in full or derived from a built one.

A tenant's lexicon differs from the default by a few phrases, yet a full build of the index
(stems, compound slots, inverse document frequencies, postings, typo targets) walked every
phrase of every product again: hundreds of milliseconds of the interpreter lock per tenant, and
twenty gemeenten changing their lexicon at once queued for seconds. :meth:`PhraseIndex.derive`
redoes only what the changed products touch: their phrases, the phrases that use a word whose
document frequency or compound split changed, and those words' postings. Everything else is
shared with the index it derives from (which is never changed), and the result equals a full
build of the same catalogue (tests/test_recognition_derive.py compares them). A derivation
is a generator that pauses every few phrases, so that routing can run it on its event loop
between calls (services/routing/recognizers.py): on a thread, the loop and the thread handed
the interpreter lock to each other thousands of times a second and both crawled.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from services.common.upl import slug
from services.routing.recognition import splits, typos
from services.routing.recognition.dutch import EXTRA_PARTS, MIN_FUZZY, WEAK_STEMS, content_words, stem

#: UPL rows that are placeholders, not products a citizen can ask about.
PLACEHOLDER_SLUGS = frozenset({"UPL-naam_nog_niet_beschikbaar"})

# Weights: a product's own name is the strongest evidence; lexicon phrases slightly less, so
# that a phrase that is one product's name and another's synonym favours the former.
NAME_WEIGHT = 1.0
SYNONYM_WEIGHT = 0.92
# Words that say little about *which* product (citizens use them for every product).
WEAK_WEIGHT = 0.3
#: Beyond this many changed products a derived index is no cheaper than a full build.
MAX_DERIVED_CHANGES = 40

_EXTRA_STEMS = frozenset(stem(w) for w in EXTRA_PARTS)

#: Phrases or stems handled between two pauses of a derivation (~0.05-0.15 ms of work).
STEP = 8

T = TypeVar("T")
Slot = tuple[str, tuple[str, ...]]  # a content word's stem, and its compound parts' stems
Posting = tuple[int, int, float]  # phrase id, slot index, credit


@dataclass(frozen=True)
class CatalogueEntry:
    """One product a tenant offers; tenants add their own synonyms and IVR menu codes."""

    uri: str
    name: str
    synonyms: tuple[str, ...] = ()
    ivr_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Phrase:
    entry: int
    weight: float
    slot_idf: tuple[float, ...]
    total_idf: float


@dataclass(frozen=True)
class _Source:
    """A phrase as written: its product, its kind's weight and its content words."""

    entry: int
    weight: float
    words: tuple[str, ...]


@lru_cache(maxsize=50_000)
def _content(text: str) -> tuple[str, ...]:
    """Tenants share most phrases, so each is read once per process."""
    return tuple(content_words(text))


def _sources(index: int, entry: CatalogueEntry) -> list[_Source]:
    out = []
    if slug(entry.uri) not in PLACEHOLDER_SLUGS:
        out.append(_Source(index, NAME_WEIGHT, _content(entry.name)))
    for synonym in entry.synonyms:
        words = _content(synonym)
        if words:
            out.append(_Source(index, SYNONYM_WEIGHT, words))
    return out


class PhraseIndex:
    """What recognition looks a question's words up in; read-only once made."""

    entries: list[CatalogueEntry]
    vocab: frozenset[str]
    splits: splits.Splits
    idf_by_stem: dict[str, float]
    default_idf: float
    phrases: list[Phrase]
    postings: dict[str, list[Posting]]  # stem -> where phrases use it, by phrase id
    slot_postings: dict[str, list[tuple[tuple[int, int], float]]]  # the same keyed by (phrase, slot)
    entry_credit: dict[str, dict[int, float]]  # stem -> the best credit per product
    typo_targets: dict[str, frozenset[str]]  # a catalogue form -> the stems it stands for

    # what a derivation needs to know about the index it starts from
    _sources: list[_Source | None]  # by phrase id; None for a phrase a derivation dropped
    _slots: list[tuple[Slot, ...]]
    _entry_phrases: dict[int, tuple[int, ...]]
    _df: dict[str, int]
    _n_docs: int
    _word_stems: Counter[str]  # stems of phrase words, counted per use: the vocabulary
    _surface: Counter[str]  # phrase words as written, counted per use

    @classmethod
    def build(cls, entries: Sequence[CatalogueEntry]) -> PhraseIndex:
        self = cls()
        self.entries = list(entries)
        self._sources = [s for i, e in enumerate(self.entries) for s in _sources(i, e)]
        self._word_stems = Counter(stem(w) for s in self._sources if s for w in s.words)
        self._surface = Counter(w for s in self._sources if s for w in s.words)
        self.vocab = frozenset(self._word_stems) | _EXTRA_STEMS
        self.splits = splits.for_vocabulary(self.vocab)
        self._slots = [self._slots_of(s.words) for s in self._sources if s]
        entry_phrases: dict[int, list[int]] = {}
        for pid, source in enumerate(self._sources):
            if source:
                entry_phrases.setdefault(source.entry, []).append(pid)
        self._entry_phrases = {e: tuple(pids) for e, pids in entry_phrases.items()}
        self._df = Counter(s for pids in self._entry_phrases.values() for s in self._bag(pids))
        self._n_docs = max(1, len(self._entry_phrases))
        self.default_idf = math.log(1.0 + (self._n_docs + 0.5) / 0.5)
        self.idf_by_stem = {s: self._idf_of(d) for s, d in self._df.items()}
        self.phrases = []
        self.postings = {}
        for pid in range(len(self._sources)):
            phrase, postings = self._phrase(pid)
            self.phrases.append(phrase)
            for s, posting in postings:
                self.postings.setdefault(s, []).append(posting)
        self.slot_postings = {}
        self.entry_credit = {}
        finish(self._regroup(self.postings))
        self.typo_targets = {}
        self._retarget(list(self.postings) + list(self._surface))
        return self

    def derive(self, entries: Sequence[CatalogueEntry]) -> PhraseIndex | None:
        """The index of `entries`, made from this one, or None when a full build is as cheap
        (other products, too many changed, a product gaining or losing its last phrase)."""
        return finish(self.derive_in_steps(entries))

    def derive_in_steps(self, entries: Sequence[CatalogueEntry]) -> Generator[None, None, PhraseIndex | None]:
        """`derive`, pausing every `STEP` phrases or stems: whoever drives it decides what runs
        in between. The index it starts from is never changed, so pausing is safe."""
        if len(entries) != len(self.entries):
            return None
        pairs = list(zip(entries, self.entries, strict=True))
        if any(a.uri != b.uri or a.name != b.name for a, b in pairs):
            return None
        changed = {i for i, (a, b) in enumerate(pairs) if a.synonyms != b.synonyms}
        if len(changed) > MAX_DERIVED_CHANGES:
            return None
        new = PhraseIndex()
        new.entries = list(entries)
        new._sources = list(self._sources)
        new._slots = list(self._slots)
        new._entry_phrases = dict(self._entry_phrases)
        new._word_stems = self._word_stems.copy()
        new._surface = self._surface.copy()
        yield
        added: dict[int, list[_Source]] = {i: _sources(i, new.entries[i]) for i in changed}
        words: set[str] = set()  # the words whose use changed: only they can join or leave the vocabulary
        for i in changed:
            for pid in self._entry_phrases.get(i, ()):
                source = self._sources[pid]
                assert source is not None
                new._word_stems.subtract(stem(w) for w in source.words)
                new._surface.subtract(source.words)
                words.update(source.words)
            for source in added[i]:
                new._word_stems.update(stem(w) for w in source.words)
                new._surface.update(source.words)
                words.update(source.words)
        stems = {stem(w) for w in words}
        left = {s for s in stems if new._word_stems[s] <= 0 and s not in _EXTRA_STEMS}
        came = {s for s in stems if new._word_stems[s] > 0} - self.vocab
        new.vocab = (self.vocab - left) | came if left & self.vocab or came else self.vocab
        new.splits = self.splits if new.vocab is self.vocab else splits.for_vocabulary(new.vocab)
        # products with a word that now splits otherwise are changed too (a word's phrases
        # post its stem as a whole slot)
        touched = set(changed)
        yield
        if new.splits is not self.splits:
            used = [word for word, uses in self._surface.items() if uses > 0]
            for n in range(0, len(used), STEP * 64):
                for word in new.splits.differing(used[n : n + STEP * 64], self.splits):
                    touched.update(self.phrases[pid].entry for pid, _, _ in self.postings[stem(word)])
                yield
            added.update({i: _sources(i, new.entries[i]) for i in touched - changed})
        dropped = {pid for i in touched for pid in self._entry_phrases.get(i, ())}
        for pid in dropped:
            new._sources[pid] = None
        for i in touched:
            pids = []
            for source in added[i]:
                pids.append(len(new._sources))
                new._sources.append(source)
                new._slots.append(new._slots_of(source.words))
            if pids:
                new._entry_phrases[i] = tuple(pids)
            else:
                new._entry_phrases.pop(i, None)
        new._n_docs = max(1, len(new._entry_phrases))
        if new._n_docs != self._n_docs:
            return None  # every idf changes
        yield
        new.default_idf = self.default_idf
        new._df = dict(self._df)
        bags: set[str] = set()  # the stems whose document frequency may have changed
        for i in touched:
            before, after = self._bag(self._entry_phrases.get(i, ())), new._bag(new._entry_phrases.get(i, ()))
            new._df.update({s: new._df.get(s, 0) - 1 for s in before})
            new._df.update({s: new._df.get(s, 0) + 1 for s in after})
            bags |= before | after
        reweighed = {s for s in bags if new._df.get(s, 0) != self._df.get(s, 0)}
        new.idf_by_stem = dict(self.idf_by_stem)
        for s in reweighed:
            if new._df[s] > 0:
                new.idf_by_stem[s] = new._idf_of(new._df[s])
            else:
                del new._df[s], new.idf_by_stem[s]
        # phrases to index again: the new ones, and the kept ones using a reweighed stem
        redo = {pid for s in reweighed for pid, _, _ in self.postings.get(s, ()) if pid not in dropped}
        redo.update(range(len(self.phrases), len(new._sources)))
        gone = dropped | redo
        yield
        stale: set[str] = set()  # the stems the gone phrases posted
        for n, pid in enumerate(gone):
            if pid < len(self._slots):
                stale |= _stems_of(self._slots[pid])
            if n % (STEP * 4) == 0:
                yield
        new.phrases = list(self.phrases)
        fresh: dict[str, list[Posting]] = {}
        yield
        for n, pid in enumerate(sorted(redo)):
            if n % STEP == 0:
                yield
            phrase, postings = new._phrase(pid)
            if pid < len(new.phrases):
                new.phrases[pid] = phrase
            else:
                new.phrases.append(phrase)
            for s, posting in postings:
                fresh.setdefault(s, []).append(posting)
        new.postings = dict(self.postings)
        redone: dict[str, list[Posting]] = {}  # stems whose postings changed
        emptied = []
        for n, s in enumerate(stale | set(fresh)):
            if n % STEP == 0:
                yield
            kept = [p for p in self.postings.get(s, ()) if p[0] not in gone]
            merged = sorted(kept + fresh.get(s, []))
            if not merged:
                new.postings.pop(s, None)
                emptied.append(s)
            elif merged != self.postings.get(s):  # a reweighed phrase mostly posts what it did
                new.postings[s] = redone[s] = merged
        new.slot_postings = dict(self.slot_postings)
        new.entry_credit = dict(self.entry_credit)
        for s in emptied:
            new.slot_postings.pop(s, None)
            new.entry_credit.pop(s, None)
        yield from new._regroup(redone)
        yield
        new.typo_targets = dict(self.typo_targets)
        came_or_went = {s for s in fresh if s not in self.postings}.union(emptied)
        came_or_went.update(w for w in words if (new._surface[w] > 0) != (self._surface[w] > 0))
        new._retarget(came_or_went)
        return new

    def idf(self, s: str) -> float:
        """Rarer stems say more about which product is meant; everyday words say little."""
        value = self.idf_by_stem.get(s, self.default_idf)
        return value * WEAK_WEIGHT if s in WEAK_STEMS else value

    # -- building blocks ----------------------------------------------------------------------

    def _idf_of(self, df: int) -> float:
        return math.log(1.0 + (self._n_docs - df + 0.5) / (df + 0.5))

    def _slots_of(self, words: Iterable[str]) -> tuple[Slot, ...]:
        out = []
        for w in words:
            parts = self.splits.get(w)
            out.append((stem(w), parts if len(parts) > 1 else ()))
        return tuple(out)

    def _bag(self, pids: Iterable[int]) -> set[str]:
        """The stems a product's phrases use: a product counts once however often it says one."""
        return {s for pid in pids for s in _stems_of(self._slots[pid])}

    def _phrase(self, pid: int) -> tuple[Phrase, list[tuple[str, Posting]]]:
        """A phrase's weights and postings under this index's idf."""
        source = self._sources[pid]
        assert source is not None
        postings: list[tuple[str, Posting]] = []
        slot_idf = []
        raw_idf = 0.0
        for k, (whole, parts) in enumerate(self._slots[pid]):
            raw_idf += self.idf_by_stem.get(whole, self.default_idf)
            postings.append((whole, (pid, k, 1.0)))
            if not parts:
                slot_idf.append(self.idf(whole))
                continue
            part_idf = [self.idf(p) for p in parts]
            total = sum(part_idf)
            merged: dict[str, float] = {}
            for p, pi in zip(parts, part_idf, strict=True):
                merged[p] = merged.get(p, 0.0) + pi / total
            postings.extend((p, (pid, k, credit)) for p, credit in merged.items() if p != whole)
            slot_idf.append(max(self.idf(whole), total))
        total_idf = sum(slot_idf)
        # a phrase of everyday words ("niet de vader") is weak evidence even when complete
        strength = math.sqrt(min(1.0, total_idf / raw_idf)) if raw_idf else 1.0
        return Phrase(source.entry, source.weight * strength, tuple(slot_idf), total_idf), postings

    def _regroup(self, postings: dict[str, list[Posting]]) -> Generator[None, None, None]:
        """The postings regrouped for the common case of a question word with one reading."""
        for n, (s, plist) in enumerate(postings.items()):
            if n % STEP == 0:
                yield
            self.slot_postings[s] = [((pid, k), credit) for pid, k, credit in plist]
            by_entry: dict[int, float] = {}
            for pid, _, credit in plist:
                entry = self.phrases[pid].entry
                by_entry[entry] = max(by_entry.get(entry, 0.0), credit)
            self.entry_credit[s] = by_entry

    def _retarget(self, forms: Iterable[str]) -> None:
        """One-typo targets of these forms: a stem stands for itself, a word as written for its
        stem, since a typo can change what the stemmer does ("kwijtscheldng"). The deletions
        are indexed once per process (typos.py); this index keeps which of its stems each means."""
        changed = {}
        for form in forms:
            targets = set()
            if len(form) >= MIN_FUZZY - 1:
                if form in self.postings:
                    targets.add(form)
                if self._surface[form] > 0 and stem(form) in self.postings:
                    targets.add(stem(form))
            if targets:
                changed[form] = self.typo_targets[form] = frozenset(targets)
            else:
                self.typo_targets.pop(form, None)
        typos.add(changed)


def finish(steps: Generator[None, None, T]) -> T:
    """Runs a derivation (or any of its steps) to the end without pausing."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _stems_of(slots: Iterable[Slot]) -> set[str]:
    return {s for whole, parts in slots for s in (whole, *parts)}
