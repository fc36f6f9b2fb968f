"""Department accountability: callbacks on time and breached, and the repeat contacts they cause.

Runs the callbacks service on a real nats-server and database with a clock on fixed dates;
the repeat contact is a routing event on the stream, counted by the service's own consumer.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import grpc
import pytest

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.events.v1 import events_pb2
from services import cli
from services.common import auth, events
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

MARCH = ("2026-03-01", "2026-03-31")
VERGUNNINGEN = f"tenants/{NIJMEGEN}/departments/vergunningen"


def routed(contact: str, *open_at: str) -> events_pb2.Envelope:
    """A contact routing published, from a citizen with open callbacks at these departments."""
    env = events.envelope(
        NIJMEGEN,
        contact_routed=events_pb2.ContactRouted(
            contact=contact,
            department="algemeen",
            repeat_contact=bool(open_at),
            open_callback_details=[events_pb2.OpenCallback(callback=f"c-{d}", department=d) for d in open_at],
        ),
    )
    env.occurred_at.FromDatetime(local(2026, 3, 2, 10, 0))
    return env


async def test_accountability_per_department_over_grpc_and_as_csv(
    tmp_path: Path,
    nats_url: str,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    md = token(settings)
    clock = Clock(local(2026, 3, 2, 9, 0))  # a Monday
    async with running(settings, clock) as app, stub_for(app) as stub:
        on_time = await create(stub, md, request_id="a")
        await create(stub, md, request_id="b")  # left open: breached once its deadline passes
        await create(stub, md, request_id="c", department=BELASTINGEN)  # two working days: not yet due
        clock.advance(minutes=30)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=on_time.name, assignee="m"), metadata=md)
        await stub.RecordAttempt(
            cb.RecordAttemptRequest(name=on_time.name, result=cb.RecordAttemptRequest.RESULT_REACHED), metadata=md
        )
        await stub.CompleteCallback(cb.CompleteCallbackRequest(name=on_time.name, outcome="ok"), metadata=md)

        clock.now = local(2026, 3, 2, 14, 0)  # past half of burgerzaken's eight working hours
        figures = await stub.GetCallbackStats(cb.GetCallbackStatsRequest(parent=f"tenants/{NIJMEGEN}"), metadata=md)
        assert {f.department: (f.open, f.warning, f.overdue) for f in figures.departments} == {
            BURGERZAKEN: (1, 1, 0),
            BELASTINGEN: (1, 0, 0),
        }

        # Two citizens call again while waiting on burgerzaken (one also on belastingen); one is new.
        # ... and one whose callback at vergunningen dates from before the range
        earlier = routed("r4", VERGUNNINGEN)
        for env in (routed("r1", BURGERZAKEN), routed("r2", BURGERZAKEN, BELASTINGEN), routed("r3"), earlier):
            await app.bus.publish(events.subject(NIJMEGEN, "contact", "routed"), env)

        clock.now = local(2026, 3, 3, 10, 0)  # Tuesday: the open burgerzaken callback is past its deadline
        request = cb.GetAccountabilityReportRequest(
            parent=f"tenants/{NIJMEGEN}", start_date=MARCH[0], end_date=MARCH[1]
        )
        rows: dict[str, cb.AccountabilityRow] = {}

        async def read() -> None:
            report = await stub.GetAccountabilityReport(request, metadata=md)
            rows.clear()
            rows.update({r.department: r for r in report.rows})

        async def counted() -> bool:
            await read()
            return sum(r.repeat_contacts for r in rows.values()) == 4

        for _ in range(100):  # the consumer tallies the events asynchronously; the asserts say what was missing
            if await counted():
                break
            await asyncio.sleep(0.05)
        b, t = rows[BURGERZAKEN], rows[BELASTINGEN]
        assert (b.requested, b.on_time, b.breached, b.repeat_contacts) == (2, 1, 1, 2)
        assert b.median_seconds_to_first_attempt == 1800.0
        assert (t.requested, t.on_time, t.breached, t.repeat_contacts) == (1, 0, 0, 1)
        v = rows[VERGUNNINGEN]
        assert (v.requested, v.on_time, v.breached, v.repeat_contacts) == (0, 0, 0, 1)
        usage = await stub.GetUsageReport(
            cb.GetUsageReportRequest(parent=f"tenants/{NIJMEGEN}", start_date=MARCH[0], end_date=MARCH[1]), metadata=md
        )
        assert VERGUNNINGEN not in {r.department for r in usage.rows}, "a repeat tally is no contact of its own"

        april = cb.GetAccountabilityReportRequest(
            parent=f"tenants/{NIJMEGEN}", start_date="2026-04-01", end_date="2026-04-30"
        )
        assert list((await stub.GetAccountabilityReport(april, metadata=md)).rows) == []
        with pytest.raises(grpc.RpcError) as err:
            backwards = cb.GetAccountabilityReportRequest(
                parent=f"tenants/{NIJMEGEN}", start_date="2026-04-01", end_date="2026-03-01"
            )
            await stub.GetAccountabilityReport(backwards, metadata=md)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        department = token(settings, auth.Role.DEPARTMENT_USER, department="burgerzaken", subject="bz")
        with pytest.raises(grpc.RpcError) as err:
            await stub.GetAccountabilityReport(request, metadata=department)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED

        monkeypatch.setenv("KCC_CALLBACKS_TARGET", f"127.0.0.1:{app.port}")
        monkeypatch.setenv("KCC_TOKEN", md[0][1].removeprefix("Bearer "))
        capsys.readouterr()
        argv = ["callbacks", "accountability", "--tenant", NIJMEGEN, "--from", MARCH[0], "--to", MARCH[1], "--csv"]
        assert await asyncio.to_thread(cli.main, argv) == 0
        table = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert [
            (r["department"], r["requested"], r["on_time"], r["breached"], r["repeat_contacts"]) for r in table
        ] == [(BELASTINGEN, "1", "0", "0", "1"), (BURGERZAKEN, "2", "1", "1", "2"), (VERGUNNINGEN, "0", "0", "0", "1")]
        assert {r["tenant"] for r in table} == {NIJMEGEN}
