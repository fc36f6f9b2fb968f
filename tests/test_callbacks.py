"""Callbacks service over real gRPC, a real nats-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from kcc.callbacks.v1 import callbacks_pb2 as cb
from services.callbacks import service
from services.common import auth
from tests.test_callbacks_kit import (
    ARNHEM,
    BELASTINGEN,
    BURGERZAKEN,
    NIJMEGEN,
    PHONE_E164,
    Clock,
    changes,
    create,
    local,
    new_callback,
    published,
    put_snapshots,
    reason,
    running,
    settings_for,
    stub_for,
    tenant_snapshot,
    token,
)


async def test_create_get_and_requested_event(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 6, 16, 0))  # a Friday afternoon
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        made = await create(stub, md, request_id="r-1", note="wil graag na 14:00 gebeld worden")
        assert made.status == cb.Callback.STATUS_REQUESTED and made.phone_number == PHONE_E164
        # 8 working hours: Friday 16:00-17:00, then Monday 08:30 + 7 h
        assert made.deadline.ToDatetime().replace(tzinfo=None) == local(2026, 3, 9, 15, 30).astimezone(
            tz=None
        ).astimezone(__import__("datetime").UTC).replace(tzinfo=None)
        again = await create(stub, md, request_id="r-1")
        assert again.name == made.name
        got = await stub.GetCallback(cb.GetCallbackRequest(name=made.name), metadata=md)
        assert got.note == "wil graag na 14:00 gebeld worden" and got.citizen_key == made.citizen_key
        envs = await published(app)
        assert [e.callback_changed.change for e in envs] == ["requested"]
        raw = envs[0].SerializeToString()
        assert b"612345678" not in raw and b"14:00" not in raw
        assert envs[0].callback_changed.status == "REQUESTED"
        assert envs[0].callback_changed.department == BURGERZAKEN
        with pytest.raises(grpc.RpcError) as err:
            await create(stub, md, department=f"tenants/{NIJMEGEN}/departments/nope")
        assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION and reason(err.value) == "DEPARTMENT_UNKNOWN"


async def test_an_unknown_department_is_said_so_at_once_and_a_new_one_is_found(
    tmp_path: Path, nats_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the bucket's newest snapshot of the tenant is held, nothing is on its way: an unknown
    department or tenant is answered at once, not after the wait for a snapshot (made a minute here,
    beyond the call's deadline); a snapshot written a moment ago is waited for and found."""
    monkeypatch.setattr(service, "SNAPSHOT_WAIT_SECONDS", 60.0)
    settings = settings_for(tmp_path, nats_url, f"sqlite:///{tmp_path / 'callbacks.db'}")
    await put_snapshots(settings, tenant_snapshot())
    md = token(settings, tenants=(NIJMEGEN, ARNHEM))
    async with running(settings) as app, stub_for(app) as stub:
        for tenant, department, expected in (
            (NIJMEGEN, "sport", "DEPARTMENT_UNKNOWN"),
            (ARNHEM, "burgerzaken", "TENANT_UNKNOWN"),
        ):
            callback = new_callback(department=f"tenants/{tenant}/departments/{department}")
            request = cb.CreateCallbackRequest(parent=f"tenants/{tenant}", callback=callback)
            with pytest.raises(grpc.RpcError) as err:
                await stub.CreateCallback(request, metadata=md, timeout=10)
            assert (err.value.code(), reason(err.value)) == (grpc.StatusCode.FAILED_PRECONDITION, expected)

        sport = tenant_snapshot()
        sport.departments["sport"] = "Sport"
        await put_snapshots(settings, sport)  # the call below may reach the service before the watcher has it
        made = await create(stub, md, department=f"tenants/{NIJMEGEN}/departments/sport")
        assert made.department == f"tenants/{NIJMEGEN}/departments/sport"


async def test_a_retry_after_its_requested_deadline_passed_returns_the_stored_callback(
    tmp_path: Path, nats_url: str, database_url: str
) -> None:
    """A partner whose first answer was lost retries with the same request_id once the deadline it
    asked for has passed: the callback was stored, so the retry gets it; a new request is refused."""
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 6, 10, 0))
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        request = cb.CreateCallbackRequest(parent=f"tenants/{NIJMEGEN}", callback=new_callback(), request_id="r-late")
        request.requested_deadline.FromDatetime(local(2026, 3, 6, 10, 30))
        made = await stub.CreateCallback(request, metadata=md)
        clock.advance(hours=1)
        again = await stub.CreateCallback(request, metadata=md)
        assert again.name == made.name and again.deadline == made.deadline
        request.request_id = "r-new"
        await expect_error(stub.CreateCallback(request, metadata=md), grpc.StatusCode.INVALID_ARGUMENT)


NOT_REACHED = cb.RecordAttemptRequest.RESULT_NOT_REACHED
REACHED = cb.RecordAttemptRequest.RESULT_REACHED
VOICEMAIL = cb.RecordAttemptRequest.RESULT_VOICEMAIL
WRONG_NUMBER = cb.RecordAttemptRequest.RESULT_WRONG_NUMBER


async def expect_error(call: object, code: grpc.StatusCode, why: str = "") -> None:
    with pytest.raises(grpc.RpcError) as err:
        await call  # type: ignore[misc]
    assert err.value.code() == code, err.value.details()
    if why:
        assert reason(err.value) == why


async def test_every_transition_and_the_illegal_ones(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    dept = token(settings, auth.Role.DEPARTMENT_USER, department="burgerzaken", subject="medewerker-1")
    async with running(settings, clock) as app, stub_for(app) as stub:
        # requested -> claimed -> attempted (not reached) -> attempted (reached) -> completed
        first = await create(stub, md)
        await expect_error(
            stub.RecordAttempt(cb.RecordAttemptRequest(name=first.name, result=NOT_REACHED), metadata=dept),
            grpc.StatusCode.FAILED_PRECONDITION,
            "ILLEGAL_TRANSITION",
        )
        await expect_error(
            stub.CompleteCallback(cb.CompleteCallbackRequest(name=first.name), metadata=dept),
            grpc.StatusCode.FAILED_PRECONDITION,
            "ILLEGAL_TRANSITION",
        )
        claimed = await stub.ClaimCallback(cb.ClaimCallbackRequest(name=first.name), metadata=dept)
        assert claimed.status == cb.Callback.STATUS_CLAIMED and claimed.assignee == "medewerker-1"
        again = await stub.ClaimCallback(cb.ClaimCallbackRequest(name=first.name), metadata=dept)
        assert again.status == cb.Callback.STATUS_CLAIMED  # claiming again is harmless
        clock.advance(minutes=30)
        tried = await stub.RecordAttempt(
            cb.RecordAttemptRequest(name=first.name, result=NOT_REACHED, note="voicemail vol"), metadata=dept
        )
        assert tried.status == cb.Callback.STATUS_ATTEMPTED and tried.attempts == 1
        reached = await stub.RecordAttempt(cb.RecordAttemptRequest(name=first.name, result=REACHED), metadata=dept)
        assert reached.status == cb.Callback.STATUS_ATTEMPTED and reached.attempts == 2
        done = await stub.CompleteCallback(
            cb.CompleteCallbackRequest(name=first.name, outcome="uitgelegd", note="afspraak gemaakt"), metadata=dept
        )
        assert done.status == cb.Callback.STATUS_COMPLETED and done.outcome == "uitgelegd"
        assert "voicemail vol" in done.note and "afspraak gemaakt" in done.note
        for call in (
            stub.ClaimCallback(cb.ClaimCallbackRequest(name=first.name), metadata=dept),
            stub.CompleteCallback(cb.CompleteCallbackRequest(name=first.name), metadata=dept),
            stub.CancelCallback(cb.CancelCallbackRequest(name=first.name), metadata=md),
            stub.ForwardCallback(cb.ForwardCallbackRequest(name=first.name, department=BELASTINGEN), metadata=md),
            stub.ReturnCallbackToKcc(cb.ReturnCallbackToKccRequest(name=first.name), metadata=md),
        ):
            await expect_error(call, grpc.StatusCode.FAILED_PRECONDITION, "ILLEGAL_TRANSITION")

        # not reached max_callback_attempts (3) times -> unreachable; wrong number -> unreachable at once
        second = await create(stub, md)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=second.name, assignee="medewerker-1"), metadata=md)
        for _ in range(2):
            await stub.RecordAttempt(cb.RecordAttemptRequest(name=second.name, result=NOT_REACHED), metadata=md)
        gone = await stub.RecordAttempt(cb.RecordAttemptRequest(name=second.name, result=VOICEMAIL), metadata=md)
        assert gone.status == cb.Callback.STATUS_UNREACHABLE and gone.attempts == 3
        third = await create(stub, md)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=third.name, assignee="x"), metadata=md)
        wrong = await stub.RecordAttempt(cb.RecordAttemptRequest(name=third.name, result=WRONG_NUMBER), metadata=md)
        assert wrong.status == cb.Callback.STATUS_UNREACHABLE

        # forward keeps the deadline and unclaims; return and cancel close
        fourth = await create(stub, md)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=fourth.name, assignee="x"), metadata=md)
        await expect_error(
            stub.ClaimCallback(cb.ClaimCallbackRequest(name=fourth.name, assignee="y"), metadata=md),
            grpc.StatusCode.FAILED_PRECONDITION,
            "ALREADY_CLAIMED",
        )
        await expect_error(
            stub.ForwardCallback(
                cb.ForwardCallbackRequest(name=fourth.name, department=f"tenants/{NIJMEGEN}/departments/nope"),
                metadata=md,
            ),
            grpc.StatusCode.FAILED_PRECONDITION,
            "DEPARTMENT_UNKNOWN",
        )
        moved = await stub.ForwardCallback(
            cb.ForwardCallbackRequest(name=fourth.name, department=BELASTINGEN), metadata=dept
        )
        assert moved.department == BELASTINGEN and moved.status == cb.Callback.STATUS_REQUESTED and not moved.assignee
        assert moved.deadline == fourth.deadline
        # the burgerzaken user no longer reaches it
        await expect_error(
            stub.GetCallback(cb.GetCallbackRequest(name=fourth.name), metadata=dept), grpc.StatusCode.NOT_FOUND
        )
        returned = await stub.ReturnCallbackToKcc(
            cb.ReturnCallbackToKccRequest(name=fourth.name, reason="hoort bij de provincie"), metadata=md
        )
        assert returned.status == cb.Callback.STATUS_RETURNED
        fifth = await create(stub, md)
        cancelled = await stub.CancelCallback(cb.CancelCallbackRequest(name=fifth.name, reason="dubbel"), metadata=md)
        assert cancelled.status == cb.Callback.STATUS_CANCELLED

        # the audit trail: who, what, when, without personal data
        audit = await stub.ListAuditEntries(cb.ListAuditEntriesRequest(parent=first.name), metadata=md)
        assert [a.action for a in audit.audit_entries] == [
            "requested",
            "claimed",
            "attempted",
            "attempted",
            "completed",
        ]
        assert audit.audit_entries[1].principal == "department_user:medewerker-1"
        text = str(audit)
        assert "612345678" not in text and "voicemail vol" not in text and "afspraak" not in text
        page = await stub.ListAuditEntries(cb.ListAuditEntriesRequest(parent=first.name, page_size=2), metadata=md)
        assert len(page.audit_entries) == 2 and page.next_page_token
        await expect_error(
            stub.ListAuditEntries(cb.ListAuditEntriesRequest(parent=first.name, page_token="bogus"), metadata=md),
            grpc.StatusCode.INVALID_ARGUMENT,
        )

        # events: one per change, statuses as enum names, never a number or a note
        envs = await published(app)
        assert changes(envs, first.name) == ["requested", "claimed", "attempted", "attempted", "completed"]
        assert [e.callback_changed.status for e in envs if e.callback_changed.callback == first.name][-1] == "COMPLETED"
        assert changes(envs, second.name)[-1] == "unreachable" and changes(envs, fourth.name)[-2:] == [
            "forwarded",
            "returned",
        ]
        for env in envs:
            raw = env.SerializeToString()
            assert b"612345678" not in raw and b"voicemail" not in raw and b"provincie" not in raw


async def test_concurrent_claims_have_exactly_one_winner(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    md = token(settings)
    async with running(settings) as app, stub_for(app) as stub:
        for i in range(8):
            made = await create(stub, md)
            results = await asyncio.gather(
                *(
                    stub.ClaimCallback(cb.ClaimCallbackRequest(name=made.name, assignee=f"m-{i}-{j}"), metadata=md)
                    for j in range(3)
                ),
                return_exceptions=True,
            )
            winners = [r for r in results if isinstance(r, cb.Callback)]
            losers = [r for r in results if isinstance(r, grpc.RpcError)]
            assert len(winners) == 1 and len(losers) == 2, results
            assert all(reason(e) == "ALREADY_CLAIMED" for e in losers)
            final = await stub.GetCallback(cb.GetCallbackRequest(name=made.name), metadata=md)
            assert final.assignee == winners[0].assignee
        envs = await published(app)
        assert changes(envs).count("claimed") == 8


async def test_a_tenant_never_sees_another_tenants_callback(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot(), tenant_snapshot(ARNHEM))
    nijmegen, arnhem = token(settings), token(settings, tenants=(ARNHEM,), subject="arnhem")
    async with running(settings) as app, stub_for(app) as stub:
        made = await create(stub, nijmegen)
        await create(stub, arnhem, tenant=ARNHEM, department=f"tenants/{ARNHEM}/departments/burgerzaken")
        missing = f"tenants/{NIJMEGEN}/callbacks/doesnotexist"
        for call in (
            stub.GetCallback(cb.GetCallbackRequest(name=made.name), metadata=arnhem),
            stub.GetCallback(cb.GetCallbackRequest(name=missing), metadata=arnhem),
            stub.ClaimCallback(cb.ClaimCallbackRequest(name=made.name), metadata=arnhem),
            stub.CancelCallback(cb.CancelCallbackRequest(name=made.name), metadata=arnhem),
            stub.ListCallbacks(cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}"), metadata=arnhem),
            stub.ListAuditEntries(cb.ListAuditEntriesRequest(parent=made.name), metadata=arnhem),
            stub.GetCallbackStats(cb.GetCallbackStatsRequest(parent=f"tenants/{NIJMEGEN}"), metadata=arnhem),
            create(stub, arnhem),
        ):
            await expect_error(call, grpc.StatusCode.PERMISSION_DENIED)
        await expect_error(
            stub.GetCallback(cb.GetCallbackRequest(name=missing), metadata=nijmegen), grpc.StatusCode.NOT_FOUND
        )
        own = await stub.ListCallbacks(cb.ListCallbacksRequest(parent=f"tenants/{ARNHEM}"), metadata=arnhem)
        assert len(own.callbacks) == 1 and own.callbacks[0].name.startswith(f"tenants/{ARNHEM}/")
        # department users see their own department only
        belasting = token(settings, auth.Role.DEPARTMENT_USER, department="belastingen", subject="b-1")
        await expect_error(
            stub.ListCallbacks(
                cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}", department=BURGERZAKEN), metadata=belasting
            ),
            grpc.StatusCode.PERMISSION_DENIED,
        )
        mine = await stub.ListCallbacks(cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}"), metadata=belasting)
        assert list(mine.callbacks) == []
        # another department's callback answers as a guessed id does, so ids cannot be probed
        guessed = f"tenants/{NIJMEGEN}/callbacks/{'0' * 32}"
        for name in (made.name, guessed):
            for call in (
                stub.GetCallback(cb.GetCallbackRequest(name=name), metadata=belasting),
                stub.ClaimCallback(cb.ClaimCallbackRequest(name=name, assignee="b-1"), metadata=belasting),
                stub.ListAuditEntries(cb.ListAuditEntriesRequest(parent=name), metadata=belasting),
            ):
                await expect_error(call, grpc.StatusCode.NOT_FOUND, "NOT_FOUND")


async def test_list_filters_and_pages(tmp_path: Path, nats_url: str, database_url: str) -> None:
    settings = settings_for(tmp_path, nats_url, database_url)
    await put_snapshots(settings, tenant_snapshot())
    clock = Clock(local(2026, 3, 2, 9, 0))
    md = token(settings)
    async with running(settings, clock) as app, stub_for(app) as stub:
        names = []
        for _ in range(5):
            names.append((await create(stub, md)).name)
            clock.advance(minutes=10)
        await create(stub, md, department=BELASTINGEN)
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=names[0], assignee="a"), metadata=md)
        seen, page_token = [], ""
        while True:
            page = await stub.ListCallbacks(
                cb.ListCallbacksRequest(
                    parent=f"tenants/{NIJMEGEN}", department=BURGERZAKEN, page_size=2, page_token=page_token
                ),
                metadata=md,
            )
            seen += [c.name for c in page.callbacks]
            page_token = page.next_page_token
            if not page_token:
                break
        assert seen == names  # by deadline
        claimed = await stub.ListCallbacks(
            cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}", statuses=[cb.Callback.STATUS_CLAIMED]), metadata=md
        )
        assert [c.name for c in claimed.callbacks] == [names[0]]
        by_assignee = await stub.ListCallbacks(
            cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}", assignee="a"), metadata=md
        )
        assert [c.name for c in by_assignee.callbacks] == [names[0]]
        window = cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}", department=BURGERZAKEN)
        window.deadline_after.FromDatetime(local(2026, 3, 2, 17, 5))
        window.deadline_before.FromDatetime(local(2026, 3, 3, 9, 30))  # Mon 17:00 left out
        assert len((await stub.ListCallbacks(window, metadata=md)).callbacks) == 4
        await expect_error(
            stub.ListCallbacks(cb.ListCallbacksRequest(parent=f"tenants/{NIJMEGEN}", page_token="x"), metadata=md),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        await expect_error(
            stub.ListCallbacks(cb.ListCallbacksRequest(parent="tenants/nijmegen"), metadata=md),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
