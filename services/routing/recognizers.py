"""Recognizers shared between tenants and built off the event loop.

Building a recognizer takes hundreds of milliseconds; on the event loop it stalled every call
of every tenant. Here one worker thread builds them, one key at a time, and a tenant keeps the
recognizer it had until its new one is ready. A tenant's lexicon differs from a built one (the
default's, mostly) by a few phrases, so its recognizer is derived from the nearest built one in
milliseconds (services/routing/recognition/phrases.py). Tenants whose products and phrases are equal share
one recognizer, so a change that leaves a tenant on a recognizer that is already built (most
gemeenten keep the default lexicon) is live at once. A build must not stop the loop either: no
garbage collection runs during it (a full one walked every recognizer, seconds with the GIL held)
and the loop gets the interpreter lock back quickly.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import time
import weakref
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from services.routing import catalogue
from services.routing.catalogue import RecognitionKey
from services.routing.recognition import ProductRecognizer

log = logging.getLogger(__name__)

#: While a build runs the event loop waits at most this long for the interpreter lock: with the
#: default 5 ms, paid at each wake-up of the loop, a probe of the loop's lag during builds saw a
#: p99 of 65-144 ms; with 0.5 ms, 13-23 ms.
BUILD_SWITCH_INTERVAL = 0.0005

Ready = Callable[[ProductRecognizer], None]


class RecognizerPool:
    def __init__(self) -> None:
        self._built: weakref.WeakValueDictionary[RecognitionKey, ProductRecognizer] = weakref.WeakValueDictionary()
        self._building: dict[RecognitionKey, asyncio.Future[ProductRecognizer | None]] = {}
        self._wanted: dict[str, RecognitionKey] = {}  # tenant -> the key of its newest snapshot
        self._wanted_keys: Counter[RecognitionKey] = Counter()  # the same, counted by key
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recognizer-build")
        self.builds = 0

    def assign(self, tenant: str, key: RecognitionKey, ready: Ready) -> ProductRecognizer | None:
        """The built recognizer for `key`, or None: then it is built and `ready` runs on the loop
        with it, unless the tenant has moved on to another key by then."""
        previous = self._wanted.get(tenant)
        if previous != key:
            if previous is not None:
                self._wanted_keys[previous] -= 1
                if self._wanted_keys[previous] <= 0:
                    del self._wanted_keys[previous]
            self._wanted[tenant] = key
            self._wanted_keys[key] += 1
        found = self._built.get(key)
        if found is not None:
            return found
        task = asyncio.ensure_future(self._build(key))

        def done(fut: asyncio.Future[ProductRecognizer | None]) -> None:
            if fut.cancelled():
                return
            if fut.exception() is not None:  # the tenant keeps the recognizer it has
                log.error("recognizer build for %s failed", tenant, exc_info=fut.exception())
                return
            recognizer = fut.result()
            if recognizer is not None and self._wanted.get(tenant) == key:
                ready(recognizer)

        task.add_done_callback(done)
        return None

    async def idle(self) -> None:
        """Returns once every build asked for so far is done: a replica starts serving each tenant
        with its own recognizer."""
        while self._building:
            await asyncio.gather(*self._building.values(), return_exceptions=True)

    async def _build(self, key: RecognitionKey) -> ProductRecognizer | None:
        building = self._building.get(key)
        if building is None:
            loop = asyncio.get_running_loop()
            base = catalogue.nearest(key, list(self._built.items()))
            building = self._building[key] = loop.run_in_executor(self._executor, self._build_if_wanted, key, base)
            building.add_done_callback(lambda _: self._building.pop(key, None))
        recognizer = await asyncio.shield(building)
        if recognizer is not None:
            self._built[key] = recognizer
        return recognizer

    def _build_if_wanted(self, key: RecognitionKey, base: ProductRecognizer | None) -> ProductRecognizer | None:
        """On the worker thread. A key that no tenant wants any more (changed again while it
        waited) is skipped: a burst of changes to one tenant builds its last state only."""
        if key not in self._wanted_keys:
            return None
        began = time.perf_counter()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(BUILD_SWITCH_INTERVAL)
        gc.disable()
        try:
            recognizer = catalogue.recognizer_for(key, base)
        finally:
            gc.freeze()  # long-lived: later full collections need not walk it (the app unfreezes at stop)
            gc.enable()
            sys.setswitchinterval(interval)
        self.builds += 1
        how = "derived" if recognizer.derived else "built"
        log.info("recognizer for %d products %s in %.0f ms", len(key), how, (time.perf_counter() - began) * 1000)
        return recognizer

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
