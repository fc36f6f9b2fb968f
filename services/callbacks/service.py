"""CallbackService: the callback lifecycle over gRPC.

Every write is one transaction: the callback row (changed by compare-and-set on its version),
a change-log row, an audit entry and the outbox event commit together; `on_commit` then
wakes the outbox relay and this process's worklist watchers.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import grpc
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from kcc.callbacks.v1 import callbacks_pb2 as pb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from services.callbacks import accountability, convert, deadlines, repository, states, stats, usage, watch
from services.callbacks.changes import ChangeNotifier, Writer, lock_counter, record
from services.callbacks.crypto import Vault
from services.callbacks.models import AuditRow, CallbackRow, CreateRequestRow, utc
from services.callbacks.repository import department_id
from services.common import auth, names, paging, validation
from services.common.citizen import current_key, normalise_phone
from services.common.config import Settings
from services.common.db import Database
from services.common.enums import CHANNELS
from services.common.errors import ApiError, failed_precondition, invalid_argument, permission_denied
from services.common.snapshots import TenantSnapshot

Clock = Callable[[], datetime]
NOTE_MAX = validation.limit("note")
SNAPSHOT_WAIT_SECONDS = 2.0


def system_clock() -> datetime:
    return datetime.now(UTC)


class Snapshots(Protocol):
    def get(self, tenant: str) -> TenantSnapshot | None: ...

    async def caught_up(self, tenant: str, within: float) -> None: ...


@dataclass
class Decision:
    """What a transition writes: new column values, the change (event) name, a PII-free audit detail."""

    values: dict[str, Any]
    change: str
    detail: str = ""
    from_department: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _append_note(vault: Vault, sealed: str, label: str, text: str) -> str:
    if not text:
        return sealed
    if len(text) > NOTE_MAX:
        raise invalid_argument("note", f"longer than {NOTE_MAX} characters")
    old = vault.open(sealed)
    return vault.seal(f"{old}\n[{label}] {text}" if old else f"[{label}] {text}")


class CallbackService(callbacks_pb2_grpc.CallbackServiceServicer):
    def __init__(
        self,
        db: Database,
        settings: Settings,
        snapshots: Snapshots,
        on_commit: Callable[[set[str]], None],
        notifier: ChangeNotifier,
        clock: Clock = system_clock,
        watch_poll_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.writer = Writer(db)
        self.settings = settings
        self.snapshots = snapshots
        self.on_commit = on_commit
        self.notifier = notifier
        self.clock = clock
        self.vault = Vault(settings)
        self.watch_poll_seconds = watch_poll_seconds

    # -- helpers -------------------------------------------------------------------------------

    async def _snapshot(self, tenant: str, department: str) -> TenantSnapshot:
        """The tenant's snapshot with `department`; waits briefly for one that is still on its way."""
        snapshot = self.snapshots.get(tenant)
        if snapshot is not None and department in snapshot.departments:
            return snapshot
        await self.snapshots.caught_up(tenant, SNAPSHOT_WAIT_SECONDS)
        snapshot = self.snapshots.get(tenant)
        if snapshot is not None and department in snapshot.departments:
            return snapshot
        if snapshot is None:
            raise failed_precondition("TENANT_UNKNOWN", f"tenants/{tenant} has no published configuration")
        raise failed_precondition("DEPARTMENT_UNKNOWN", f"tenants/{tenant}/departments/{department} does not exist")

    def _committed(self, tenant: str) -> None:
        self.on_commit({tenant})

    async def _change(
        self, name: str, decide: Callable[[CallbackRow, auth.Principal, datetime], Decision | None]
    ) -> pb.Callback:
        tenant, callback_id = names.parse("name", name, "tenants", "callbacks")
        now = self.clock()

        def work(session: Session) -> tuple[CallbackRow, bool]:
            repository.scope(tenant)
            lock_counter(session, tenant)
            for _ in range(20):
                row = repository.load(session, tenant, callback_id)
                principal = auth.current()
                decision = decide(row, principal, now)
                if decision is None:
                    return row, False
                if repository.compare_and_set(session, row, {**decision.values, "update_time": utc(now)}):
                    record(session, principal, row, decision.change, now, decision.detail, decision.from_department)
                    return row, True
            raise ApiError(grpc.StatusCode.ABORTED, "too many concurrent changes, retry", "CONCURRENT_CHANGE")

        row, changed = await self.writer.run(work)
        if changed:
            self._committed(tenant)
        return convert.callback_msg(row, self.vault)

    # -- create and read -----------------------------------------------------------------------

    async def CreateCallback(self, request: pb.CreateCallbackRequest, context: Any) -> pb.Callback:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        principal = repository.scope(tenant)
        request_id = names.check_request_id(request.request_id)
        given = request.callback
        department = department_id(tenant, given.department, "callback.department")
        principal.require_department(department)
        phone = normalise_phone("callback.phone_number", given.phone_number)
        if len(given.note) > NOTE_MAX:
            raise invalid_argument("callback.note", f"longer than {NOTE_MAX} characters")
        for field_name, value in (
            ("product_uri", given.product_uri),
            ("contact", given.contact),
            ("preferred_times", given.preferred_times),
        ):
            if len(value) > validation.limit(field_name):
                raise invalid_argument(f"callback.{field_name}", f"at most {validation.limit(field_name)} characters")
        if given.contact and names.tenant_of("callback.contact", given.contact) != tenant:
            raise invalid_argument("callback.contact", "must be a contact of the same tenant")
        now = self.clock()
        requested = request.requested_deadline.ToDatetime(UTC) if request.HasField("requested_deadline") else None
        # refused below unless it is a retry of a stored request, whose deadline may have passed since
        past = requested is not None and requested <= now
        snapshot = await self._snapshot(tenant, department)
        product = next((p for p in snapshot.products if p.uri == given.product_uri), None)
        channel = CHANNELS.name(given.channel)
        sla = snapshot.sla_for(channel, department, product.slug if product else "")
        timing = deadlines.compute(deadlines.calendar_of(snapshot), sla, now, None if past else requested)
        sealed_phone = self.vault.seal(phone)
        sealed_note = self.vault.seal(given.note)
        key = current_key(self.settings, phone)

        def work(session: Session) -> tuple[CallbackRow, bool]:
            if request_id:
                seen = session.get(CreateRequestRow, (tenant, request_id))
                if seen is not None:
                    return repository.load(session, tenant, seen.callback_id), False
            if past:
                raise invalid_argument("requested_deadline", "must be in the future")
            row = CallbackRow(
                tenant=tenant,
                id=uuid.uuid4().hex,
                department=department,
                product_uri=given.product_uri,
                contact=given.contact,
                channel=given.channel,
                phone_encrypted=sealed_phone,
                note_encrypted=sealed_note,
                preferred_times=given.preferred_times,
                citizen_key=key,
                status=states.REQUESTED,
                create_time=utc(now),
                update_time=utc(now),
                deadline=utc(timing.deadline),
                warn_at=utc(timing.warn_at),
                max_attempts=max(sla.max_callback_attempts, 1),
                escalation_target=sla.escalation_target,
            )
            session.add(row)
            if request_id:
                session.add(CreateRequestRow(tenant=tenant, request_id=request_id, callback_id=row.id))
            detail = f"department={department} deadline={timing.deadline.isoformat()}"
            if requested is not None and timing.deadline == requested:
                detail += " (requested)"
            record(session, principal, row, "requested", now, detail)
            return row, True

        try:
            row, created = await self.writer.run(work)
        except IntegrityError:  # the same request_id raced us: return what the other one created
            row, created = await self.writer.run(work)
        if created:
            self._committed(tenant)
        return convert.callback_msg(row, self.vault)

    async def GetCallback(self, request: pb.GetCallbackRequest, context: Any) -> pb.Callback:
        tenant, callback_id = names.parse("name", request.name, "tenants", "callbacks")
        row = await self.db.run(lambda s: repository.load(s, tenant, callback_id))
        return convert.callback_msg(row, self.vault)

    async def ListCallbacks(self, request: pb.ListCallbacksRequest, context: Any) -> pb.ListCallbacksResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        department = department_id(tenant, request.department, "department") if request.department else None
        principal = repository.scope(tenant, department)
        if principal.role == auth.Role.DEPARTMENT_USER:
            department = principal.department
        statuses = []
        for value in request.statuses:
            if value == pb.Callback.STATUS_UNSPECIFIED or value not in pb.Callback.Status.values():
                raise invalid_argument("statuses", "must be known statuses")
            statuses.append(convert.status_name(value))
        after = request.deadline_after.ToDatetime(UTC) if request.HasField("deadline_after") else None
        before = request.deadline_before.ToDatetime(UTC) if request.HasField("deadline_before") else None
        size = paging.page_size(request.page_size)
        query = f"{tenant}|{department}|{sorted(statuses)}|{after}|{before}|{request.assignee}"
        offset = paging.decode(request.page_token, query)

        def work(session: Session) -> pb.ListCallbacksResponse:
            repository.scope(tenant, department)
            stmt = select(CallbackRow).where(col(CallbackRow.tenant) == tenant)
            if department is not None:
                stmt = stmt.where(col(CallbackRow.department) == department)
            if statuses:
                stmt = stmt.where(col(CallbackRow.status).in_(statuses))
            if after is not None:
                stmt = stmt.where(col(CallbackRow.deadline) >= utc(after))
            if before is not None:
                stmt = stmt.where(col(CallbackRow.deadline) < utc(before))
            if request.assignee:
                stmt = stmt.where(col(CallbackRow.assignee) == request.assignee)
            stmt = stmt.order_by(col(CallbackRow.deadline), col(CallbackRow.id)).offset(offset).limit(size + 1)
            rows = list(session.exec(stmt))
            return pb.ListCallbacksResponse(
                callbacks=[convert.callback_msg(r, self.vault) for r in rows[:size]],
                next_page_token=paging.next_token(offset, size, len(rows), query),
            )

        return await self.db.run(work)

    async def WatchCallbacks(
        self, request: pb.WatchCallbacksRequest, context: Any
    ) -> AsyncIterator[pb.WatchCallbacksResponse]:
        async for item in watch.watch(self.db, self.notifier, self.vault, request, self.watch_poll_seconds):
            yield item

    # -- lifecycle -----------------------------------------------------------------------------

    async def ClaimCallback(self, request: pb.ClaimCallbackRequest, context: Any) -> pb.Callback:
        requested_assignee = request.assignee.strip()
        if len(requested_assignee) > 128:
            raise invalid_argument("assignee", "longer than 128 characters")

        def decide(row: CallbackRow, principal: auth.Principal, now: datetime) -> Decision | None:
            assignee = requested_assignee or principal.subject
            if row.status in (states.CLAIMED, states.ATTEMPTED):
                if row.assignee == assignee:
                    return None  # claiming again is harmless
                name = repository.callback_name(row.tenant, row.id)
                raise failed_precondition("ALREADY_CLAIMED", f"{name} is claimed by someone else")
            states.target("claim", row.status)
            return Decision({"status": states.CLAIMED, "assignee": assignee}, "claimed", f"assignee={assignee}")

        return await self._change(request.name, decide)

    async def RecordAttempt(self, request: pb.RecordAttemptRequest, context: Any) -> pb.Callback:
        """Reached: ATTEMPTED (complete it next). Not reached or voicemail: ATTEMPTED until the
        policy's max_callback_attempts are used, then UNREACHABLE. Wrong number: UNREACHABLE at once."""
        if request.result == pb.RecordAttemptRequest.RESULT_UNSPECIFIED:
            raise invalid_argument("result", "is required")
        result = pb.RecordAttemptRequest.Result.Name(request.result).removeprefix("RESULT_")
        if len(request.note) > NOTE_MAX:
            raise invalid_argument("note", f"longer than {NOTE_MAX} characters")

        def decide(row: CallbackRow, principal: auth.Principal, now: datetime) -> Decision:
            states.target("attempt", row.status)
            attempts = row.attempts + 1
            values: dict[str, Any] = {
                "attempts": attempts,
                "first_attempt_time": row.first_attempt_time or utc(now),
                "note_encrypted": _append_note(self.vault, row.note_encrypted, f"poging {attempts}", request.note),
            }
            gave_up = request.result == pb.RecordAttemptRequest.RESULT_WRONG_NUMBER or (
                request.result != pb.RecordAttemptRequest.RESULT_REACHED and attempts >= row.max_attempts
            )
            if gave_up:
                values.update(status=states.UNREACHABLE, closed_time=utc(now), outcome="unreachable")
            else:
                values.update(status=states.ATTEMPTED)
            detail = f"result={result} attempt={attempts}/{row.max_attempts}"
            return Decision(values, "unreachable" if gave_up else "attempted", detail)

        return await self._change(request.name, decide)

    async def CompleteCallback(self, request: pb.CompleteCallbackRequest, context: Any) -> pb.Callback:
        if len(request.outcome) > validation.limit("outcome"):
            raise invalid_argument("outcome", f"at most {validation.limit('outcome')} characters")

        def decide(row: CallbackRow, principal: auth.Principal, now: datetime) -> Decision:
            states.target("complete", row.status)
            values = {
                "status": states.COMPLETED,
                "outcome": request.outcome,
                "closed_time": utc(now),
                "note_encrypted": _append_note(self.vault, row.note_encrypted, "afgehandeld", request.note),
            }
            return Decision(values, "completed", f"within_deadline={utc(now) <= row.deadline}".lower())

        return await self._change(request.name, decide)

    async def ForwardCallback(self, request: pb.ForwardCallbackRequest, context: Any) -> pb.Callback:
        """Hands an open callback to another department of the same tenant, unclaimed (REQUESTED).

        Deadline rule: the callback keeps its original deadline (and its warning moment and
        flags): the citizen was promised a time, and passing the callback on does not move it.
        """
        tenant, _ = names.parse("name", request.name, "tenants", "callbacks")
        repository.scope(tenant)
        target = department_id(tenant, request.department, "department")
        await self._snapshot(tenant, target)

        def decide(row: CallbackRow, principal: auth.Principal, now: datetime) -> Decision:
            states.target("forward", row.status)
            if row.department == target:
                raise failed_precondition("SAME_DEPARTMENT", "the callback is already with that department")
            values = {
                "status": states.REQUESTED,
                "department": target,
                "assignee": "",
                "note_encrypted": _append_note(self.vault, row.note_encrypted, "doorgestuurd", request.note),
            }
            return Decision(values, "forwarded", f"from={row.department} to={target}", from_department=row.department)

        return await self._change(request.name, decide)

    async def ReturnCallbackToKcc(self, request: pb.ReturnCallbackToKccRequest, context: Any) -> pb.Callback:
        return await self._close(request.name, "return", states.RETURNED, "returned", "teruggelegd", request.reason)

    async def CancelCallback(self, request: pb.CancelCallbackRequest, context: Any) -> pb.Callback:
        return await self._close(request.name, "cancel", states.CANCELLED, "cancelled", "geannuleerd", request.reason)

    async def _close(self, name: str, action: str, status: str, change: str, label: str, reason: str) -> pb.Callback:
        """The reason is free text, so it goes to the encrypted note, not to the audit detail."""
        if len(reason) > NOTE_MAX:
            raise invalid_argument("reason", f"longer than {NOTE_MAX} characters")

        def decide(row: CallbackRow, principal: auth.Principal, now: datetime) -> Decision:
            states.target(action, row.status)
            values = {
                "status": status,
                "closed_time": utc(now),
                "note_encrypted": _append_note(self.vault, row.note_encrypted, label, reason),
            }
            return Decision(values, change, f"from_status={row.status}")

        return await self._change(name, decide)

    # -- audit, figures ------------------------------------------------------------------------

    async def ListAuditEntries(self, request: pb.ListAuditEntriesRequest, context: Any) -> pb.ListAuditEntriesResponse:
        tenant, callback_id = names.parse("parent", request.parent, "tenants", "callbacks")
        size = paging.page_size(request.page_size)
        offset = paging.decode(request.page_token, f"audit|{request.parent}")

        def work(session: Session) -> pb.ListAuditEntriesResponse:
            repository.load(session, tenant, callback_id)
            stmt = (
                select(AuditRow)
                .where(col(AuditRow.tenant) == tenant, col(AuditRow.callback_id) == callback_id)
                .order_by(col(AuditRow.id))
                .offset(offset)
                .limit(size + 1)
            )
            rows = list(session.exec(stmt))
            return pb.ListAuditEntriesResponse(
                audit_entries=[convert.audit_msg(r) for r in rows[:size]],
                next_page_token=paging.next_token(offset, size, len(rows), f"audit|{request.parent}"),
            )

        return await self.db.run(work)

    async def GetCallbackStats(self, request: pb.GetCallbackStatsRequest, context: Any) -> pb.GetCallbackStatsResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        principal = repository.scope(tenant)
        only = principal.department if principal.role == auth.Role.DEPARTMENT_USER else None
        calendar = deadlines.calendar_of(self.snapshots.get(tenant))
        now = self.clock()

        def work(session: Session) -> list[stats.DepartmentStats]:
            repository.scope(tenant)
            return stats.compute(session, tenant, calendar, now, only)

        figures = await self.db.run(work)
        return pb.GetCallbackStatsResponse(departments=[f.to_message(tenant) for f in figures])

    async def GetUsageReport(self, request: pb.GetUsageReportRequest, context: Any) -> pb.GetUsageReportResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        principal = repository.scope(tenant)
        if principal.role not in (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION):
            raise permission_denied("usage reports are for the platform and the tenant's integration")
        start, end = usage.parse_range(request.start_date, request.end_date)
        calendar = deadlines.calendar_of(self.snapshots.get(tenant))

        def work(session: Session) -> list[pb.UsageReportRow]:
            repository.scope(tenant)
            return usage.report(session, tenant, calendar, start, end)

        rows = await self.db.run(work)
        return pb.GetUsageReportResponse(
            tenant=f"tenants/{tenant}", start_date=start.isoformat(), end_date=end.isoformat(), rows=rows
        )

    async def GetAccountabilityReport(
        self, request: pb.GetAccountabilityReportRequest, context: Any
    ) -> pb.GetAccountabilityReportResponse:
        """The same audience as the usage report: the platform and the tenant's own integration."""
        (tenant,) = names.parse("parent", request.parent, "tenants")
        principal = repository.scope(tenant)
        if principal.role not in (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION):
            raise permission_denied("accountability reports are for the platform and the tenant's integration")
        start, end = usage.parse_range(request.start_date, request.end_date)
        calendar = deadlines.calendar_of(self.snapshots.get(tenant))
        now = self.clock()

        def work(session: Session) -> list[pb.AccountabilityRow]:
            repository.scope(tenant)
            return accountability.report(session, tenant, calendar, start, end, now)

        rows = await self.db.run(work)
        return pb.GetAccountabilityReportResponse(
            tenant=f"tenants/{tenant}", start_date=start.isoformat(), end_date=end.isoformat(), rows=rows
        )
