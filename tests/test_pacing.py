"""Background work on the event loop takes turns: two never overlap, and calls run between them."""

from __future__ import annotations

import asyncio

from services.common.pacing import Pacer


async def run_with_calls(pacer: Pacer, names: list[str]) -> list[str]:
    """What ran, in order: each background worker's turns ("a in", "a out") and the calls."""
    seen: list[str] = []
    done = asyncio.Event()

    async def background(name: str) -> None:
        for _ in range(3):
            async with pacer.turn():
                seen.append(f"{name} in")
                sum(range(50_000))  # some work, so that the turn's rest is not nothing
                await asyncio.sleep(0)  # a turn may wait inside: no other turn may come in
                seen.append(f"{name} out")

    async def calls() -> None:
        while not done.is_set():
            seen.append("call")
            await asyncio.sleep(0)

    caller = asyncio.create_task(calls())
    await asyncio.gather(*(background(name) for name in names))
    done.set()
    await caller
    return seen


async def test_two_workers_never_overlap() -> None:
    seen = await run_with_calls(Pacer(), ["a", "b"])
    turns = [s for s in seen if s != "call"]
    pairs = list(zip(turns[::2], turns[1::2], strict=True))
    assert len(pairs) == 6
    assert all(a.endswith(" in") and b == a.replace(" in", " out") for a, b in pairs), turns


async def test_a_worker_rests_after_each_turn_and_calls_run_meanwhile() -> None:
    seen = await run_with_calls(Pacer(), ["a"])
    after = [seen[i + 1] for i, s in enumerate(seen[:-1]) if s == "a out"]
    assert len(after) >= 2 and all(s == "call" for s in after), seen
