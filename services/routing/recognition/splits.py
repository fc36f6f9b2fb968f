"""Compound splits of catalogue words, reused between recognizers of nearly the same vocabulary.

Splitting every catalogue word was most of a recognizer's build. A split depends on the word
and on the vocabulary words the splitter asked about, so each split keeps a fingerprint of
those (a Bloom filter: three bits per word asked): a recognizer whose vocabulary differs from a
built one by a few words (a tenant's new phrase) reuses every split whose fingerprint cannot
hold those words, and splits the rest again. Reuse is exact: a Bloom filter never misses a word
it holds, so the splitter's questions get the same answers.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable

from services.routing.recognition.dutch import split_compound

#: Fingerprint width: a split asks about ~50 words, so 1 word in ~3,000 not asked passes for asked
#: (a 1,024-bit filter of one bit a word let 1 in 20 through: a new word re-split 5 % of the catalogue).
BITS = 2048
KEEP = 8  # vocabularies whose splits are kept (the default's and the latest tenants')
MAX_WORDS = 200_000
#: Beyond this many changed words they are tested as one filter (any of their bits).
MAX_CHANGED_ONE_BY_ONE = 64


def _bits(key: object) -> int:
    h = hash(key)
    return (1 << (h % BITS)) | (1 << ((h >> 11) % BITS)) | (1 << ((h >> 22) % BITS))


class _Probe:
    """The vocabulary as the splitter sees it, noting what it asks about."""

    __slots__ = ("vocab", "mask")

    def __init__(self, vocab: frozenset[str]) -> None:
        self.vocab = vocab
        self.mask = 0

    def __contains__(self, key: object) -> bool:
        self.mask |= _bits(key)
        return key in self.vocab


class Splits:
    """Splits for one vocabulary; safe to read and add to from the loop and the build thread."""

    def __init__(self, vocab: frozenset[str], base: Splits | None) -> None:
        self.vocab = vocab
        self.found: dict[str, tuple[tuple[str, ...], int]] = {}
        self._base = weakref.ref(base) if base is not None else None  # no chain of old vocabularies
        # the fingerprints of the words in one vocabulary and not the other
        self._changed = [_bits(word) for word in vocab ^ base.vocab] if base is not None else []
        self._any_changed = 0
        if len(self._changed) > MAX_CHANGED_ONE_BY_ONE:
            for bits in self._changed:
                self._any_changed |= bits
            self._changed = []

    def get(self, word: str) -> tuple[str, ...]:
        hit = self.found.get(word)
        base = self._base() if self._base is not None else None
        if hit is None and base is not None:
            old = base.found.get(word)
            if old is not None and not self._may_have_asked(old[1]):
                hit = old
        if hit is None:
            probe = _Probe(self.vocab)
            hit = (split_compound(word, probe), probe.mask)
        if len(self.found) < MAX_WORDS:
            self.found[word] = hit
        return hit[0]

    def differing(self, words: Iterable[str], base: Splits) -> list[str]:
        """The words that split otherwise here than in `base`: only those whose split in `base`
        may have asked about a word in one vocabulary and not the other are split again."""
        changed = [_bits(word) for word in self.vocab ^ base.vocab]
        if len(changed) > MAX_CHANGED_ONE_BY_ONE:
            return [word for word in words if self.get(word) != base.get(word)]
        out = []
        for word in words:
            old = base.found.get(word)
            if old is not None and not any(bits & old[1] == bits for bits in changed):
                continue
            if self.get(word) != base.get(word):
                out.append(word)
        return out

    def _may_have_asked(self, mask: int) -> bool:
        """Whether a split with this fingerprint may have asked about a changed word."""
        return bool(mask & self._any_changed) or any(bits & mask == bits for bits in self._changed)


_RECENT: OrderedDict[frozenset[str], Splits] = OrderedDict()
_LOCK = threading.Lock()


def for_vocabulary(vocab: frozenset[str]) -> Splits:
    """The splits of this vocabulary, starting from the kept vocabulary nearest to it."""
    with _LOCK:
        found = _RECENT.get(vocab)
        if found is None:
            base = min(_RECENT.values(), key=lambda s: len(s.vocab ^ vocab), default=None)
            found = _RECENT[vocab] = Splits(vocab, base)
            if len(_RECENT) > KEEP:
                _RECENT.popitem(last=False)
        _RECENT.move_to_end(vocab)
        return found
