"""One-typo neighbourhoods (symmetric deletions) of catalogue words, shared by every recognizer.

Tenants' recognizers differ from the default by a few phrases, so indexing every catalogue
word's deletions again per recognizer was most of a build's time and memory. This index only
grows and maps a deletion to the catalogue words it comes from; each recognizer keeps its own
map from those words to its stems, so what it finds depends on its catalogue alone. Builds run
on a worker thread while the event loop reads: an entry is replaced by a new frozenset, never
changed in place, so a reader sees the old or the new one.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from services.routing.recognition.dutch import deletes

_INDEX: dict[str, frozenset[str]] = {}
_INDEXED: set[str] = set()
_WRITING = threading.Lock()  # writers only: readers never wait


def add(forms: Iterable[str]) -> None:
    """Indexes each form and its one-letter deletions (once per process)."""
    new = [f for f in forms if f not in _INDEXED]
    if not new:
        return
    with _WRITING:
        for form in new:
            if form in _INDEXED:
                continue
            for key in (form, *deletes(form)):
                _INDEX[key] = _INDEX.get(key, frozenset()) | {form}
            _INDEXED.add(form)


def near(form: str) -> set[str]:
    """Indexed words one deletion, insertion or substitution (or a swap of neighbours) away."""
    get = _INDEX.get
    found = set(get(form, ()))
    for key in deletes(form):
        hit = get(key)  # most deletions are no catalogue word's: the common case costs one lookup
        if hit is not None:
            found |= hit
    return found
