"""Faults put in front of a real NATS call: the server answers as usual, but the first calls meet an
election or a node not yet current, or a stored write's answer is lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats.js.errors import NotFoundError, ServiceUnavailableError

ELECTION = ServiceUnavailableError(code=503, description="JetStream system temporarily unavailable")
NOT_YET_VISIBLE = NotFoundError(code=404, err_code=10059, description="stream not found")


def refusing(call: Callable[..., Awaitable[Any]], refusals: list[Exception]) -> Callable[..., Awaitable[Any]]:
    """`call`, whose first calls raise `refusals` in turn (the list empties as they are used)."""

    async def answer(*args: Any, **kwargs: Any) -> Any:
        if refusals:
            raise refusals.pop(0)
        return await call(*args, **kwargs)

    return answer


def stored_then_lost(write: Callable[..., Awaitable[int]]) -> Callable[..., Awaitable[int]]:
    """The first write is stored, but its answer never comes (a node lost after storing it)."""
    tries = 0

    async def answer(*args: Any, **kwargs: Any) -> int:
        nonlocal tries
        tries += 1
        revision = await write(*args, **kwargs)
        if tries == 1:
            raise nats.errors.TimeoutError
        return revision

    return answer
