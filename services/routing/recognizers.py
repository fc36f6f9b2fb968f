"""Recognizers shared between tenants, made without stalling calls.

Tenants whose products and phrases are equal share one recognizer, so a change that leaves a
tenant on a recognizer that is already made (most gemeenten keep the default lexicon) is live at
once. A tenant's own lexicon differs from a made one (the default's, mostly) by a few phrases,
so its recognizer is derived from the nearest made one (services/routing/recognition/phrases.py):
tens of milliseconds of work, run here on the event loop in slices of about a millisecond, each
a turn of background work followed by a rest as long (services/common/pacing.py). Not on a
thread: a thread holding the interpreter lock made the loop wait for it after every network
read, thousands of times a second, and twenty gemeenten changing their lexicon at once stalled
calls for up to a second and took seconds to go live (bench/lexicon_changes.py). A recognizer
that cannot be derived (other products: a new tenant's first, a catalogue change) is built in
full on the worker thread, rare and hundreds of milliseconds. Recognizers are made one at a
time, in the order their snapshots came, and a tenant keeps the one it has until its new one is
ready.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from services.common.pacing import Pacer
from services.routing import catalogue
from services.routing.catalogue import RecognitionKey
from services.routing.recognition import CatalogueEntry, ProductRecognizer
from services.routing.recognition.phrases import finish

log = logging.getLogger(__name__)

#: How long a derivation runs before calls get their turn again.
SLICE_SECONDS = 0.001
#: While a full build runs the event loop waits at most this long for the interpreter lock: with
#: the default 5 ms, paid at each wake-up of the loop, a probe of the loop's lag during builds saw
#: a p99 of 65-144 ms; with 0.5 ms, 13-23 ms.
BUILD_SWITCH_INTERVAL = 0.0005

T = TypeVar("T")
Ready = Callable[[ProductRecognizer], None]


async def in_slices(steps: Generator[None, None, T], pacer: Pacer | None) -> T:
    """Runs `steps` on the event loop `SLICE_SECONDS` at a time, each slice a turn of `pacer`;
    at once without one."""
    if pacer is None:
        return finish(steps)
    while True:
        async with pacer.turn():
            ends = time.perf_counter() + SLICE_SECONDS
            try:
                while time.perf_counter() < ends:
                    next(steps)
            except StopIteration as done:
                return done.value


def build_in_full(entries: list[CatalogueEntry]) -> ProductRecognizer:
    """On the worker thread. No garbage collection meanwhile: a full one walked every recognizer,
    seconds with the interpreter lock held."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(BUILD_SWITCH_INTERVAL)
    gc.disable()
    try:
        return ProductRecognizer(entries)
    finally:
        gc.freeze()  # long-lived: later full collections need not walk it (the app unfreezes at stop)
        gc.enable()
        sys.setswitchinterval(interval)


class RecognizerPool:
    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer
        self.paced = False  # until the replica serves: nothing to make room for
        self._made: weakref.WeakValueDictionary[RecognitionKey, ProductRecognizer] = weakref.WeakValueDictionary()
        self._making: dict[RecognitionKey, asyncio.Future[ProductRecognizer | None]] = {}
        self._wanted: dict[str, RecognitionKey] = {}  # tenant -> the key of its newest snapshot
        self._wanted_keys: Counter[RecognitionKey] = Counter()  # the same, counted by key
        self._turn = asyncio.Lock()  # one recognizer at a time, first come first served
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recognizer-build")
        self.builds = 0

    def assign(self, tenant: str, key: RecognitionKey, ready: Ready) -> ProductRecognizer | None:
        """The made recognizer for `key`, or None: then it is made and `ready` runs on the loop
        with it, unless the tenant has moved on to another key by then."""
        previous = self._wanted.get(tenant)
        if previous != key:
            if previous is not None:
                self._wanted_keys[previous] -= 1
                if self._wanted_keys[previous] <= 0:
                    del self._wanted_keys[previous]
            self._wanted[tenant] = key
            self._wanted_keys[key] += 1
        found = self._made.get(key)
        if found is not None:
            return found
        making = self._making.get(key)
        if making is None or making.done():  # done: skipped while no tenant wanted it
            making = self._making[key] = asyncio.ensure_future(self._make(key))
            making.add_done_callback(self._forget)

        def done(fut: asyncio.Future[ProductRecognizer | None]) -> None:
            if fut.cancelled():
                return
            if fut.exception() is not None:  # the tenant keeps the recognizer it has
                log.error("recognizer for %s failed", tenant, exc_info=fut.exception())
                return
            recognizer = fut.result()
            if recognizer is not None and self._wanted.get(tenant) == key:
                ready(recognizer)

        making.add_done_callback(done)
        return None

    def _forget(self, making: asyncio.Future[ProductRecognizer | None]) -> None:
        for key, pending in list(self._making.items()):
            if pending is making:
                del self._making[key]

    async def idle(self) -> None:
        """Returns once every recognizer asked for so far is made: a replica starts serving each
        tenant with its own recognizer."""
        while self._making:
            await asyncio.gather(*self._making.values(), return_exceptions=True)

    async def _make(self, key: RecognitionKey) -> ProductRecognizer | None:
        """A key that no tenant wants any more (changed again while it waited) is skipped: a burst
        of changes to one tenant makes its last state only."""
        async with self._turn:
            if key not in self._wanted_keys:
                return None
            began = time.perf_counter()
            entries = catalogue.entries(key)
            base = catalogue.nearest(key, list(self._made.items()))
            pacer = self._pacer if self.paced else None
            index = await in_slices(base.index.derive_in_steps(entries), pacer) if base is not None else None
            if index is not None:
                recognizer = ProductRecognizer(entries, index=index)
                gc.freeze()  # as after a full build
            else:
                loop = asyncio.get_running_loop()
                recognizer = await loop.run_in_executor(self._executor, build_in_full, entries)
            self._made[key] = recognizer
            self.builds += 1
            how = "derived" if recognizer.derived else "built"
            log.info("recognizer for %d products %s in %.0f ms", len(key), how, (time.perf_counter() - began) * 1000)
            return recognizer

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
