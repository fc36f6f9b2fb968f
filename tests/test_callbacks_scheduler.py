"""The deadline scheduler (warning, breach, escalation once each, across restarts and failover),
and the outbox when NATS is down at commit time."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlmodel import func, select

from kcc.callbacks.v1 import callbacks_pb2 as cb
from services.callbacks.app import CallbacksApp
from services.common.natsserver import NatsServer
from services.common.outbox import OutboxEvent
from tests.builders import eventually
from tests.test_callbacks_kit import (
    Clock,
    changes,
    create,
    local,
    published,
    put_snapshots,
    running,
    settings_for,
    stub_for,
    tenant_snapshot,
    token,
)


async def flags(app: CallbacksApp, name: str, md: tuple[tuple[str, str], ...]) -> cb.Callback:
    async with stub_for(app) as stub:
        return await stub.GetCallback(cb.GetCallbackRequest(name=name), metadata=md)  # type: ignore[no-any-return]


async def test_warning_breach_and_escalation_once_each_across_restarts(
    tmp_path: Path, nats_url: str, database_url: str
) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))  # Monday; burgerzaken: 8 working hours, warning at 50 %
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        made = await create(stub, md)
        other = await create(stub, md, department="tenants/gm0268/departments/belastingen")  # 2 working days
        assert made.deadline.ToDatetime().hour == 16  # 17:00 local = 16:00 UTC
        # the test drives the scheduler's time; its own passes run at the clock's 09:00 meanwhile
        await eventually(lambda: app.scheduler.lease.held)
        assert await app.scheduler.run_once(local(2026, 3, 2, 12, 59)) == 0  # nothing due yet
        assert not (await flags(app, made.name, md)).warned
        assert await app.scheduler.run_once(local(2026, 3, 2, 13, 0)) == 1  # exactly half the window
        got = await flags(app, made.name, md)
        assert got.warned and not got.breached
    # restart: the warning is not sent again; at the deadline breach and escalation follow
    async with running(settings, clock) as app:
        await eventually(lambda: app.scheduler.lease.held)
        assert await app.scheduler.run_once(local(2026, 3, 2, 17, 0)) == 1
        got = await flags(app, made.name, md)
        assert got.breached and got.escalated
        assert not (await flags(app, other.name, md)).warned
    async with running(settings, clock) as app:
        await eventually(lambda: app.scheduler.lease.held)
        assert await app.scheduler.run_once(local(2026, 3, 2, 17, 30)) == 0  # nothing is sent twice
        envs = await published(app)
    assert changes(envs, made.name) == ["requested", "warning", "breached", "escalated"]
    (escalated,) = [e for e in envs if e.callback_changed.change == "escalated"]
    assert escalated.callback_changed.escalation_target == "teamleider-burgerzaken"
    assert escalated.callback_changed.status == "REQUESTED"
    assert changes(envs, other.name) == ["requested"]


async def test_standby_scheduler_takes_over_when_the_lease_lapses(
    tmp_path: Path, nats_url: str, database_url: str
) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    async with running(settings, clock) as first, running(settings, clock) as second:
        apps = (first, second)
        await eventually(lambda: any(a.scheduler.lease.held for a in apps))
        holder = next(a for a in apps if a.scheduler.lease.held)
        standby = second if holder is first else first
        assert not await standby.scheduler.lease.acquire()  # exactly one acts
        assert sum(a.scheduler.lease.held for a in apps) == 1
        async with stub_for(standby) as stub:
            made = await create(stub, md)
        # the holder "crashes": its scheduler stops without giving the lease up
        holder.tasks[1].cancel()
        await eventually(lambda: standby.scheduler.lease.held, within=10)
        assert await standby.scheduler.run_once(local(2026, 3, 2, 17, 30)) >= 1
        got = await flags(standby, made.name, md)
        assert got.warned and got.breached
        envs = await published(standby)
    assert changes(envs, made.name) == ["requested", "warning", "breached", "escalated"]


async def test_events_committed_while_nats_is_down_are_published_once_it_is_back(
    tmp_path: Path, nats_server: NatsServer, database_url: str
) -> None:
    settings = settings_for(tmp_path, nats_server.url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    md = token(settings)
    async with running(settings) as app, stub_for(app) as stub:
        nats_server.stop()
        made = await create(stub, md)  # the commit does not need NATS
        pending = await app.db.run(lambda s: s.exec(select(func.count()).select_from(OutboxEvent)).one())
        assert pending == 1
        await eventually(lambda: not app.bus.nc.is_connected)  # the service has seen NATS go
        nats_server.start()
        await eventually(lambda: app.bus.nc.is_connected, within=20)
        for _ in range(200):
            left = await app.db.run(lambda s: s.exec(select(func.count()).select_from(OutboxEvent)).one())
            if left == 0:
                break
            await asyncio.sleep(0.1)
        assert left == 0
        envs = await published(app)
    assert changes(envs, made.name) == ["requested"]


@pytest.mark.long
async def test_standby_scheduler_takes_over_within_15_s_of_a_crash_with_the_production_lease(
    tmp_path: Path, nats_url: str
) -> None:
    """Lease TTL 10 s, renewed every 2.5 s, a standby trying every second: the takeover after a crash
    (no release) is at most ~11 s. SQLite only: the lease does not depend on the database."""
    settings = settings_for(tmp_path, nats_url, f"sqlite:///{tmp_path / 'callbacks.db'}")
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    production = {"lease_ttl": 10.0, "scheduler_interval": 0.2}
    async with running(settings, clock, **production) as first, running(settings, clock, **production) as second:
        apps = (first, second)
        await eventually(lambda: any(a.scheduler.lease.held for a in apps))
        holder = next(a for a in apps if a.scheduler.lease.held)
        standby = second if holder is first else first
        assert holder.scheduler.renew_every == 2.5 and standby.scheduler.standby_every == 1.0
        async with stub_for(standby) as stub:
            made = await create(stub, md)
        clock.now = local(2026, 3, 2, 13, 0)  # the warning is due: the holder sends it
        for _ in range(100):
            if (await flags(standby, made.name, md)).warned:
                break
            await asyncio.sleep(0.1)
        assert (await flags(standby, made.name, md)).warned
        # the holder crashes: every loop stops at once, the lease is not released. Cancelled until
        # each has ended: Python 3.11's wait_for can drop a cancel that meets a result, and a loop
        # whose stop event is not set then goes on (this test hung so once, in a fresh clone).
        while not all(task.done() for task in holder.tasks):
            for task in holder.tasks:
                task.cancel()
            await asyncio.wait(holder.tasks, timeout=0.1)
        crashed = asyncio.get_running_loop().time()
        clock.now = local(2026, 3, 2, 17, 30)  # past the deadline: breach and escalation are due
        await eventually(lambda: standby.scheduler.passes > 0, within=15)
        takeover = asyncio.get_running_loop().time() - crashed
        print(f"scheduler takeover {takeover:.1f} s after the crash (lease 10 s, standby tries every 1 s)")
        assert standby.scheduler.lease.held and takeover < 15
        for _ in range(100):
            got = await flags(standby, made.name, md)
            if got.breached:
                break
            await asyncio.sleep(0.1)
        assert got.breached and got.escalated
        envs = await published(standby)
    assert changes(envs, made.name) == ["requested", "warning", "breached", "escalated"]


class Unreachable:
    """A lease bucket behind a broken connection."""

    async def get(self, key: str) -> None:
        raise ConnectionError("NATS unreachable")

    async def update(self, key: str, value: bytes, last: int) -> None:
        raise ConnectionError("NATS unreachable")


async def test_a_holder_that_cannot_renew_stops_at_its_own_deadline(tmp_path: Path, nats_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, f"sqlite:///{tmp_path / 'callbacks.db'}")
    await put_snapshots(settings, tenant_snapshot())
    async with running(settings, Clock(local(2026, 3, 2, 9, 0)), lease_ttl=1.0) as app:
        lease = app.scheduler.lease
        await eventually(lambda: lease.held)
        lease.kv = Unreachable()  # type: ignore[assignment]
        cut_off = asyncio.get_running_loop().time()
        await eventually(lambda: not lease.held, within=2)
        assert asyncio.get_running_loop().time() - cut_off <= 1.0 + 0.1  # no later than one time to live
        passes = app.scheduler.passes
        assert await app.scheduler.run_once() == 0
        assert app.scheduler.passes == passes  # it does not act without the lease
