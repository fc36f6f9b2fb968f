"""Deadlines on the tenant calendar, the watched worklist (resume without loss), purge, stats, usage report."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC
from pathlib import Path

import grpc
import pytest
from sqlmodel import func, select

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.events.v1 import events_pb2
from services import cli
from services.callbacks import deadlines, purge
from services.callbacks.cli import purge_once
from services.callbacks.models import AuditRow, CallbackRow, ChangeRow
from services.common import auth, events
from services.common.calendar import DEFAULT_CALENDAR
from services.common.snapshots import SlaSnapshot
from tests.test_callbacks_kit import (
    BELASTINGEN,
    BURGERZAKEN,
    NIJMEGEN,
    Clock,
    create,
    local,
    put_snapshots,
    running,
    settings_for,
    stub_for,
    tenant_snapshot,
    token,
)

EIGHT_HOURS = SlaSnapshot(callback_working_hours=8, warning_percent=50)


@pytest.mark.parametrize(
    ("created", "sla", "deadline"),
    [
        # Friday 16:00 + 8 working hours: 1 h on Friday, 7 h from Monday 08:30
        (local(2026, 3, 6, 16, 0), EIGHT_HOURS, local(2026, 3, 9, 15, 30)),
        # Koningsdag (Monday 27 April 2026) is skipped too
        (local(2026, 4, 24, 16, 0), EIGHT_HOURS, local(2026, 4, 28, 15, 30)),
        # Christmas: Thursday 24 Dec 16:00 + 16 h -> 1 h, (25, 26, 27 closed), 8.5 h Monday, 6.5 h Tuesday
        (local(2026, 12, 24, 16, 0), SlaSnapshot(callback_working_hours=16), local(2026, 12, 29, 15, 0)),
        # 2 working days from Wednesday before Hemelvaartsdag (Thursday 14 May 2026): Friday, Monday
        (local(2026, 5, 13, 10, 0), SlaSnapshot(callback_working_days=2), local(2026, 5, 18, 10, 0)),
        # created on a Saturday: counting starts Monday 08:30
        (local(2026, 3, 7, 11, 0), EIGHT_HOURS, local(2026, 3, 9, 16, 30)),
    ],
)
def test_deadlines_skip_nights_weekends_and_holidays(created, sla, deadline) -> None:  # type: ignore[no-untyped-def]
    timing = deadlines.compute(DEFAULT_CALENDAR, sla, created)
    assert timing.deadline == deadline
    assert created <= timing.warn_at <= timing.deadline


def test_warning_and_requested_deadline() -> None:
    timing = deadlines.compute(DEFAULT_CALENDAR, EIGHT_HOURS, local(2026, 3, 6, 16, 0))
    assert timing.warn_at == local(2026, 3, 9, 11, 30)  # 4 of the 8 working hours
    earlier = deadlines.compute(DEFAULT_CALENDAR, EIGHT_HOURS, local(2026, 3, 6, 16, 0), local(2026, 3, 6, 16, 30))
    assert earlier.deadline == local(2026, 3, 6, 16, 30) and earlier.warn_at == local(2026, 3, 6, 16, 15)
    later = deadlines.compute(DEFAULT_CALENDAR, EIGHT_HOURS, local(2026, 3, 6, 16, 0), local(2026, 4, 1, 9, 0))
    assert later.deadline == local(2026, 3, 9, 15, 30)  # a later wish does not stretch the norm


async def read(call, within: float = 5.0) -> cb.WatchCallbacksResponse:  # type: ignore[no-untyped-def]
    item = await asyncio.wait_for(call.read(), within)
    assert item is not grpc.aio.EOF
    return item  # type: ignore[no-any-return]


async def test_watch_resumes_without_missing_a_change(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    md = token(settings)
    worker = token(settings, auth.Role.DEPARTMENT_USER, department="burgerzaken", subject="m-1")
    async with running(settings, watch_poll_seconds=5.0) as app, stub_for(app) as stub:
        a = await create(stub, md)
        b = await create(stub, md)
        await create(stub, md, department=BELASTINGEN)
        call = stub.WatchCallbacks(cb.WatchCallbacksRequest(parent=f"tenants/{NIJMEGEN}"), metadata=worker)
        first, second = await read(call), await read(call)
        assert {first.callback.name, second.callback.name} == {a.name, b.name}
        assert first.change == "current" and first.sequence == 0 and second.sequence == 3
        c = await create(stub, md)
        live = await read(call)  # woken by the commit, not by the (5 s) poll
        assert (live.change, live.callback.name, live.sequence) == ("requested", c.name, 4)
        assert live.callback.phone_number  # the owning department sees the number
        call.cancel()
        # while disconnected
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=a.name), metadata=worker)
        await create(stub, md, department=BELASTINGEN)
        await stub.ForwardCallback(cb.ForwardCallbackRequest(name=b.name, department=BELASTINGEN), metadata=worker)
        resumed = stub.WatchCallbacks(
            cb.WatchCallbacksRequest(parent=f"tenants/{NIJMEGEN}", department=BURGERZAKEN, after_sequence=4),
            metadata=worker,
        )
        claimed, forwarded = await read(resumed), await read(resumed)
        assert (claimed.change, claimed.callback.name, claimed.sequence) == ("claimed", a.name, 5)
        assert (forwarded.change, forwarded.callback.name, forwarded.sequence) == ("forwarded", b.name, 7)
        assert forwarded.callback.department == BELASTINGEN  # it left this worklist
        d = await create(stub, md)
        assert (await read(resumed)).callback.name == d.name
        resumed.cancel()
        # the other department's worklist now holds the forwarded callback
        theirs = stub.WatchCallbacks(
            cb.WatchCallbacksRequest(parent=f"tenants/{NIJMEGEN}", department=BELASTINGEN), metadata=md
        )
        names = {(await read(theirs)).callback.name for _ in range(3)}
        assert b.name in names
        theirs.cancel()
        other = token(settings, auth.Role.DEPARTMENT_USER, department="belastingen", subject="b-1")
        denied = stub.WatchCallbacks(
            cb.WatchCallbacksRequest(parent=f"tenants/{NIJMEGEN}", department=BURGERZAKEN), metadata=other
        )
        with pytest.raises(grpc.RpcError) as err:
            await read(denied)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_purge_deletes_closed_callbacks_after_retention(
    tmp_path: Path, nats_url: str, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot(retention_days=30))
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        old_closed = await create(stub, md)
        await stub.CancelCallback(cb.CancelCallbackRequest(name=old_closed.name, reason="dubbel"), metadata=md)
        still_open = await create(stub, md)
        clock.advance(days=20)
        recent_closed = await create(stub, md)
        await stub.CancelCallback(cb.CancelCallbackRequest(name=recent_closed.name), metadata=md)
        clock.advance(days=11)  # the first is closed 31 days ago, the last 11
        assert await purge.purge(app.db, app.snapshots, clock()) == {NIJMEGEN: 1}
        left = await app.db.run(lambda s: sorted(r.id for r in s.exec(select(CallbackRow))))
        assert left == sorted(n.name.rsplit("/", 1)[1] for n in (still_open, recent_closed))
        gone = old_closed.name.rsplit("/", 1)[1]
        for model in (AuditRow, ChangeRow):
            count = await app.db.run(
                lambda s, m=model: s.exec(select(func.count()).select_from(m).where(m.callback_id == gone)).one()
            )
            assert count == 0
        with pytest.raises(grpc.RpcError) as err:
            await stub.GetCallback(cb.GetCallbackRequest(name=old_closed.name), metadata=md)
        assert err.value.code() == grpc.StatusCode.NOT_FOUND
    # `kcc callbacks purge` does the same once, from the command line
    clock.advance(days=30)
    assert await purge_once(settings, clock()) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {"deleted": {NIJMEGEN: 1}, "total": 1}


async def test_stats_gauges_and_usage_report_csv(
    tmp_path: Path, nats_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        made = [await create(stub, md) for _ in range(3)]  # deadline Monday 17:00
        await create(stub, md, department=BELASTINGEN)  # deadline Wednesday
        clock.advance(minutes=30)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=made[0].name, assignee="m"), metadata=md)
        await stub.RecordAttempt(
            cb.RecordAttemptRequest(name=made[0].name, result=cb.RecordAttemptRequest.RESULT_REACHED), metadata=md
        )
        await stub.CompleteCallback(cb.CompleteCallbackRequest(name=made[0].name, outcome="ok"), metadata=md)
        await stub.ForwardCallback(cb.ForwardCallbackRequest(name=made[1].name, department=BELASTINGEN), metadata=md)
        figures = await stub.GetCallbackStats(cb.GetCallbackStatsRequest(parent=f"tenants/{NIJMEGEN}"), metadata=md)
        by = {f.department: f for f in figures.departments}
        assert (by[BURGERZAKEN].open, by[BURGERZAKEN].due_today, by[BURGERZAKEN].overdue) == (1, 1, 0)
        assert by[BURGERZAKEN].completed == 1 and by[BURGERZAKEN].completed_within_deadline == 1.0
        assert by[BURGERZAKEN].median_seconds_to_first_attempt == 1800.0
        assert (by[BELASTINGEN].open, by[BELASTINGEN].due_today) == (2, 1)  # the forwarded one keeps Monday 17:00
        clock.now = local(2026, 3, 2, 17, 30)
        later = await stub.GetCallbackStats(cb.GetCallbackStatsRequest(parent=f"tenants/{NIJMEGEN}"), metadata=md)
        assert {f.department: f.overdue for f in later.departments} == {BURGERZAKEN: 1, BELASTINGEN: 1}
        gauges = {(t, f.department): f for t, f in app._figures()}
        assert gauges[(NIJMEGEN, "burgerzaken")].open == 1
        # routing's contact events of that Monday: two contacts for burgerzaken, one completed
        for change, contact in (("routed", "c1"), ("routed", "c2"), ("completed", "c1")):
            if change == "routed":
                env = events.envelope(
                    NIJMEGEN, contact_routed=events_pb2.ContactRouted(contact=contact, department="burgerzaken")
                )
            else:
                changed = events_pb2.ContactChanged(contact=contact, change=change, queue="burgerzaken")
                env = events.envelope(NIJMEGEN, contact_changed=changed)
            env.occurred_at.FromDatetime(local(2026, 3, 2, 9, 5).astimezone(UTC))
            await app.bus.publish(events.subject(NIJMEGEN, "contact", change), env)
        # the usage report, over gRPC and as CSV from the command line
        request = cb.GetUsageReportRequest(parent=f"tenants/{NIJMEGEN}", start_date="2026-03-01", end_date="2026-03-31")
        for _ in range(200):  # until the contact-usage consumer has counted the three events
            report = await stub.GetUsageReport(request, metadata=md)
            rows = {r.department: r for r in report.rows}  # by the department that holds the callback now
            if rows[BURGERZAKEN].contacts_completed == 1:
                break
            await asyncio.sleep(0.05)
        assert (rows[BURGERZAKEN].created, rows[BURGERZAKEN].completed, rows[BURGERZAKEN].attempts) == (2, 1, 1)
        assert (rows[BURGERZAKEN].contacts_routed, rows[BURGERZAKEN].contacts_completed) == (2, 1)
        belastingen = rows[BELASTINGEN]
        assert (belastingen.created, belastingen.forwarded_in, belastingen.contacts_routed) == (2, 1, 0)
        empty = await stub.GetUsageReport(
            cb.GetUsageReportRequest(parent=f"tenants/{NIJMEGEN}", start_date="2026-04-01", end_date="2026-04-30"),
            metadata=md,
        )
        assert list(empty.rows) == []
        with pytest.raises(grpc.RpcError) as err:
            await stub.GetUsageReport(
                cb.GetUsageReportRequest(parent=f"tenants/{NIJMEGEN}", start_date="2026-04-01", end_date="2026-03-01"),
                metadata=md,
            )
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        out = tmp_path / "usage.csv"
        monkeypatch.setenv("KCC_CALLBACKS_TARGET", f"127.0.0.1:{app.port}")
        monkeypatch.setenv("KCC_TOKEN", md[0][1].removeprefix("Bearer "))
        argv = ["callbacks", "usage-report", "--tenant", NIJMEGEN, "--from", "2026-01-01", "--to", "2026-12-31"]
        assert await asyncio.to_thread(cli.main, [*argv, "--csv", str(out)]) == 0
        table = list(csv.DictReader(out.open(encoding="utf-8")))
        columns = ("tenant", "department", "created", "completed", "contacts_routed", "contacts_completed")
        assert [tuple(r[c] for c in columns) for r in table] == [
            (NIJMEGEN, "belastingen", "2", "0", "0", "0"),
            (NIJMEGEN, "burgerzaken", "2", "1", "2", "1"),
        ]
        assert (
            await asyncio.to_thread(cli.main, ["callbacks", "list", "--tenant", NIJMEGEN, "--status", "CLAIMED"]) == 0
        )


def test_utc_roundtrip() -> None:
    assert local(2026, 3, 2, 9, 0).astimezone(UTC).hour == 8
