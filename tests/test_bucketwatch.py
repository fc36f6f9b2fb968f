"""A bucket follower against a real nats-server: a watch whose consumer is gone (as when its NATS
node dies) is started again once the bucket moves on without it, and a busy one is left alone."""

from __future__ import annotations

import asyncio

import pytest
from nats.js.kv import KeyValue

from services.common.bucketwatch import BucketFollower
from services.common.events import EventBus
from tests.builders import eventually

CHECK = 0.2  # seconds between the follower's checks, in place of 2


async def test_a_watch_whose_consumer_is_gone_is_started_again_and_applies_each_entry_once(bus: EventBus) -> None:
    kv = await bus.key_value("WATCHED")
    applied: list[tuple[str, bytes, str | None]] = []

    async def apply(entry: KeyValue.Entry) -> None:
        applied.append((entry.key, entry.value or b"", entry.operation))

    await kv.put("fatima", b"1")
    follower = BucketFollower(bus, kv, "test", apply, check_seconds=CHECK)
    await follower.start()
    try:
        assert applied == [("fatima", b"1", None)]
        for consumer in await bus.js.consumers_info("KV_WATCHED"):  # the watch's node is gone
            await bus.js.delete_consumer("KV_WATCHED", consumer.name)
        await kv.put("fatima", b"2")
        await kv.delete("joost")  # a delete of a key never written is an entry too
        # nats-py notices a lost consumer after two missed 5 s heartbeats; the follower first
        await eventually(lambda: len(applied) == 3, within=5 * CHECK + 5)
        assert applied[1:] == [("fatima", b"2", None), ("joost", b"", "DEL")]
        assert follower.rewatched == 1  # and the new watch's "fatima" 2 was skipped
    finally:
        await follower.stop()


async def test_a_watch_that_is_slow_or_meets_a_bad_entry_goes_on_and_is_not_started_again(bus: EventBus) -> None:
    kv = await bus.key_value("WATCHED")
    applied: list[bytes] = []

    async def apply_slowly(entry: KeyValue.Entry) -> None:
        await asyncio.sleep(CHECK * 1.5)  # e.g. a big snapshot parsed in paced turns
        if entry.value == b"bad":
            raise ValueError("not a subscription")  # logged; the watch goes on
        applied.append(entry.value or b"")

    follower = BucketFollower(bus, kv, "test", apply_slowly, check_seconds=CHECK)
    await follower.start()
    try:
        await kv.put("tenant-x", b"bad")
        for n in range(6):
            await kv.put(f"tenant-{n}", str(n).encode())
        await eventually(lambda: len(applied) == 6)
        assert applied == [str(n).encode() for n in range(6)] and follower.rewatched == 0
    finally:
        await follower.stop()


async def test_stop_ends_the_follower_even_when_a_wait_swallows_the_cancel(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python 3.11's asyncio.wait_for can return a result that met a cancel and drop the cancel (a
    stopping routing replica hung so in bench/watch_lag.py); here every wait drops it."""
    updates = KeyValue.KeyWatcher.updates

    async def swallowing(watcher: KeyValue.KeyWatcher, timeout: float = 5.0) -> KeyValue.Entry | None:  # noqa: ASYNC109 - its signature
        try:
            return await updates(watcher, timeout)
        except asyncio.CancelledError:
            return None

    monkeypatch.setattr(KeyValue.KeyWatcher, "updates", swallowing)
    follower = BucketFollower(bus, await bus.key_value("WATCHED"), "test", lambda _entry: asyncio.sleep(0))
    await follower.start()
    async with asyncio.timeout(3):
        await follower.stop()
