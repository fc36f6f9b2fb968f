"""Background loops rest between rounds; a stop ends the rest at once, so that a stopping replica
(a rolling update, a test's teardown) does not wait out the longest rest of its loops."""

from __future__ import annotations

import asyncio


async def rest(seconds: float, *until: asyncio.Event) -> None:
    """Returns after `seconds`, or as soon as one of the events is set."""
    if any(event.is_set() for event in until):
        return
    waiters = [asyncio.ensure_future(event.wait()) for event in until]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
