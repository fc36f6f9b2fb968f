"""Background work on the event loop, taking turns and resting after each.

Routing reads changed snapshots and derives recognizers on its event loop, in small steps
between calls: on a thread, the loop and the thread fought over the interpreter lock and calls
stalled. Each step takes a turn here and, still holding it, rests as long as it worked; so all
background work together takes at most about half of the loop, and calls the rest, even when
twenty gemeenten change at once (bench/lexicon_changes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator


class Pacer:
    def __init__(self) -> None:
        self._turn = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        async with self._turn:
            began = time.perf_counter()
            try:
                yield
            finally:
                await asyncio.sleep(time.perf_counter() - began)
