"""Tenant snapshots only ever move forward: a write replaces only an older version (compare-and-set
on the KV revision), and a follower ignores a version older than the one it holds."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from nats.js.kv import KeyValue

from services.common import snapshots
from services.common.events import EventBus
from services.common.snapshots import ProductSnapshot, SnapshotFollower, TenantSnapshot
from services.tenancy.snapshots import write_snapshot
from tests.builders import UPL, eventually

TENANT = "gm0268"


def version(n: int, tenant: str = TENANT) -> TenantSnapshot:
    return TenantSnapshot(tenant=tenant, display_name=f"Nijmegen v{n}", version=n)


class PausingAfterRead:
    """A bucket whose first `get` returns and then waits for `resume`: a writer caught between its
    read and its write while another writer goes ahead."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.has_read = asyncio.Event()
        self.resume = asyncio.Event()

    async def get(self, key: str) -> KeyValue.Entry:
        try:
            return await self.kv.get(key)
        finally:
            if not self.has_read.is_set():
                self.has_read.set()
                await self.resume.wait()

    async def create(self, key: str, value: bytes) -> int:
        return await self.kv.create(key, value)

    async def update(self, key: str, value: bytes, last: int) -> int:
        return await self.kv.update(key, value, last=last)


async def stored(kv: KeyValue) -> str:
    return TenantSnapshot.from_json((await kv.get(TENANT)).value).display_name


@pytest.mark.parametrize("held", [None, 4], ids=["new-tenant", "version-4-held"])
@pytest.mark.parametrize(("slow", "quick"), [(5, 6), (6, 5)], ids=["older-reads-first", "newer-reads-first"])
async def test_two_writers_racing_leave_the_newer_version(
    bus: EventBus, held: int | None, slow: int, quick: int
) -> None:
    kv = await snapshots.bucket(bus)
    if held is not None:
        await kv.put(TENANT, version(held).to_json())
    paused = PausingAfterRead(kv)
    slow_write = asyncio.create_task(write_snapshot(paused, version(slow)))  # type: ignore[arg-type]
    await paused.has_read.wait()
    assert await write_snapshot(kv, version(quick))  # newer than what the slow one read: it writes
    paused.resume.set()
    wrote = await slow_write  # its compare-and-set fails; it reads again and writes only if newer
    assert wrote == (slow > quick)
    assert await stored(kv) == "Nijmegen v6"


async def test_a_version_already_held_is_not_written_again(bus: EventBus) -> None:
    kv = await snapshots.bucket(bus)
    assert await write_snapshot(kv, version(3))
    revision = (await kv.get(TENANT)).revision
    assert not await write_snapshot(kv, version(3))
    assert not await write_snapshot(kv, version(2))
    assert (await kv.get(TENANT)).revision == revision
    await kv.delete(TENANT)  # a deleted tenant may start over
    assert await write_snapshot(kv, version(1))
    assert await stored(kv) == "Nijmegen v1"


async def test_a_follower_fed_an_older_version_keeps_the_newer(bus: EventBus) -> None:
    kv = await snapshots.bucket(bus)
    changes: list[tuple[str, int]] = []
    follower = SnapshotFollower(on_change=lambda s: changes.append((s.tenant, s.version)))
    await follower.start(bus)
    try:
        # The bucket keeps one revision per key: each is read before the next is written, or the
        # server may deliver only the newer one.
        await kv.put(TENANT, version(6).to_json())
        await eventually(lambda: changes == [(TENANT, 6)])
        await kv.put(TENANT, version(5).to_json())  # a stale writer that skips the compare-and-set
        await kv.put("gm0202", version(1, "gm0202").to_json())  # another key: read after the stale one
        await eventually(lambda: follower.get("gm0202") is not None)
        held = follower.get(TENANT)
        assert held is not None and held.version == 6
        assert changes == [(TENANT, 6), ("gm0202", 1)]
        await kv.put(TENANT, version(6).to_json())  # the same version again is taken
        await eventually(lambda: len(changes) == 3)
        await kv.put(TENANT, version(7).to_json())
        await eventually(lambda: changes[-1] == (TENANT, 7))
        assert changes == [(TENANT, 6), ("gm0202", 1), (TENANT, 6), (TENANT, 7)]
    finally:
        await follower.stop()


async def test_caught_up_takes_the_newest_from_the_bucket_while_the_watch_lags(bus: EventBus) -> None:
    """A watch whose NATS node was lost brings nothing for ~10 s (two missed heartbeats); callbacks
    asks `caught_up` before it says DEPARTMENT_UNKNOWN, and must not judge on the older snapshot.
    Here the watch waits for a turn the test holds; once it goes on, what was read is not taken again."""
    kv = await snapshots.bucket(bus)
    changes: list[int] = []
    follower = SnapshotFollower(on_change=lambda s: changes.append(s.version))
    await kv.put(TENANT, version(1).to_json())
    await follower.start(bus)
    try:
        async with follower.pacer.turn():  # the watch stalls
            await kv.put(TENANT, version(2).to_json())
            async with asyncio.timeout(0.5):  # the bucket's answer, not the 2 s window
                await follower.caught_up(TENANT, within=2)
            held = follower.get(TENANT)
            assert held is not None and held.version == 2
        await kv.put(TENANT, version(3).to_json())
        await eventually(lambda: changes[-1] == 3)
        assert changes == [1, 2, 3]
    finally:
        await follower.stop()


def test_a_new_snapshot_keeps_the_unchanged_products_of_the_one_held() -> None:
    """Twenty tenants changing at once are read on routing's event loop: a product or two of 450
    is made again, not all of them."""
    paspoort = ProductSnapshot(UPL + "paspoort", "paspoort", "Paspoort", "burgerzaken", "FIRST_LINE", ("reisdocument",))
    rijbewijs = ProductSnapshot(UPL + "rijbewijs", "rijbewijs", "Rijbewijs", "burgerzaken", "FIRST_LINE", ("auto",))
    held = TenantSnapshot(tenant="gm0268", display_name="Nijmegen", version=1, products=[paspoort, rijbewijs])
    changed = replace(held, version=2, products=[replace(paspoort, synonyms=("reisdocument", "id")), rijbewijs])
    read = TenantSnapshot.from_json(changed.to_json(), TenantSnapshot.from_json(held.to_json()))
    assert read == changed
    before = TenantSnapshot.from_json(held.to_json())
    read = TenantSnapshot.from_json(changed.to_json(), before)
    assert read.products[1] is before.products[1]
    assert read.products[0] is not before.products[0] and read.products[0].synonyms == ("reisdocument", "id")
    for field, value in (("name", "Reisdocument"), ("department", "publiek"), ("ivr_codes", ("1",))):
        other = replace(held, products=[replace(paspoort, **{field: value}), rijbewijs])
        assert TenantSnapshot.from_json(other.to_json(), before).products[0] == other.products[0], field
