"""Compound splits of catalogue words, reused between recognizers of nearly the same vocabulary.

Splitting every catalogue word was most of a recognizer's build. A split depends on the word
and on the vocabulary words the splitter asked about, so each split keeps a fingerprint of
those (a bit per word's hash): a recognizer whose vocabulary differs from a built one by a few
words (a tenant's new phrase) reuses every split whose fingerprint misses those words, and
splits the rest again. Reuse is exact: the splitter's questions get the same answers.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

from services.routing.recognition.dutch import split_compound

BITS = 1024  # fingerprint width: a word's split asks about ~50 keys, so ~5 % of bits per split
KEEP = 8  # vocabularies whose splits are kept (the default's and the latest tenants')
MAX_WORDS = 200_000


def _bit(key: object) -> int:
    return 1 << (hash(key) % BITS)


class _Probe:
    """The vocabulary as the splitter sees it, noting what it asks about."""

    __slots__ = ("vocab", "mask")

    def __init__(self, vocab: frozenset[str]) -> None:
        self.vocab = vocab
        self.mask = 0

    def __contains__(self, key: object) -> bool:
        self.mask |= _bit(key)
        return key in self.vocab


class Splits:
    """Splits for one vocabulary; safe to read and add to from the loop and the build thread."""

    def __init__(self, vocab: frozenset[str], base: Splits | None) -> None:
        self.vocab = vocab
        self.found: dict[str, tuple[tuple[str, ...], int]] = {}
        self._base = weakref.ref(base) if base is not None else None  # no chain of old vocabularies
        self._changed = 0  # fingerprint of the words in one vocabulary and not the other
        if base is not None:
            for word in vocab ^ base.vocab:
                self._changed |= _bit(word)

    def get(self, word: str) -> tuple[str, ...]:
        hit = self.found.get(word)
        base = self._base() if self._base is not None else None
        if hit is None and base is not None:
            old = base.found.get(word)
            if old is not None and not old[1] & self._changed:
                hit = old
        if hit is None:
            probe = _Probe(self.vocab)
            hit = (split_compound(word, probe), probe.mask)
        if len(self.found) < MAX_WORDS:
            self.found[word] = hit
        return hit[0]


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
