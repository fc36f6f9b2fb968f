"""Usage report (doorbelasting): callbacks per department over a range of the tenant's local dates.

`created` counts callbacks created in the range; completed, returned, cancelled and
unreachable count callbacks closed in the range; attempts sums the attempts of the
callbacks closed in the range; forwarded_in counts forwards into the department.
Callbacks count for the department that holds them now (a forwarded one for the department it
was forwarded to). Only retained callbacks count: purged ones are gone. contacts_routed,
contacts_completed and contacts_abandoned count the contacts routed to the department's queue
on the range's days (routing's events, tallied in services/callbacks/contacts.py). The CSV names
tenant and department by their ids, like the rest of a billing spreadsheet.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.callbacks import states
from services.callbacks.changes import department_name
from services.callbacks.contacts import ContactTally
from services.callbacks.models import CallbackRow, ChangeRow, utc
from services.common.calendar import BusinessCalendar
from services.common.errors import invalid_argument

MAX_DAYS = 3 * 366
COLUMNS = (
    "tenant",
    "department",
    "created",
    "completed",
    "completed_within_deadline",
    "returned",
    "cancelled",
    "unreachable",
    "attempts",
    "forwarded_in",
    "contacts_routed",
    "contacts_completed",
    "contacts_abandoned",
)


def parse_range(start: str, end: str) -> tuple[date, date]:
    try:
        first = date.fromisoformat(start)
    except ValueError as exc:
        raise invalid_argument("start_date", "must be a date YYYY-MM-DD") from exc
    try:
        last = date.fromisoformat(end)
    except ValueError as exc:
        raise invalid_argument("end_date", "must be a date YYYY-MM-DD") from exc
    if last < first:
        raise invalid_argument("end_date", "must not be before start_date")
    if (last - first).days > MAX_DAYS:
        raise invalid_argument("end_date", f"the range may span at most {MAX_DAYS} days")
    return first, last


def report(
    session: Session, tenant: str, calendar: BusinessCalendar, first: date, last: date
) -> list[pb.UsageReportRow]:
    tz = ZoneInfo(calendar.timezone)
    lo = utc(datetime.combine(first, time(), tz))
    hi = utc(datetime.combine(last + timedelta(days=1), time(), tz))
    rows: dict[str, pb.UsageReportRow] = {}

    def row(dept: str) -> pb.UsageReportRow:
        if dept not in rows:
            rows[dept] = pb.UsageReportRow(department=department_name(tenant, dept))
        return rows[dept]

    dept_col = col(CallbackRow.department)
    created = col(CallbackRow.create_time)
    for dept, count in session.exec(
        select(dept_col, func.count())
        .where(col(CallbackRow.tenant) == tenant, created >= lo, created < hi)
        .group_by(dept_col)
    ):
        row(dept).created = int(count)
    closed = col(CallbackRow.closed_time)
    within = func.sum(case((closed <= col(CallbackRow.deadline), 1), else_=0))
    closed_stmt = (
        select(dept_col, col(CallbackRow.status), func.count(), within, func.sum(col(CallbackRow.attempts)))  # type: ignore[call-overload]
        .where(col(CallbackRow.tenant) == tenant, closed >= lo, closed < hi)
        .group_by(dept_col, col(CallbackRow.status))
    )
    for dept, status, count, in_time, attempts in session.exec(closed_stmt):
        r = row(dept)
        r.attempts += int(attempts or 0)
        if status == states.COMPLETED:
            r.completed, r.completed_within_deadline = int(count), int(in_time or 0)
        elif status == states.RETURNED:
            r.returned = int(count)
        elif status == states.CANCELLED:
            r.cancelled = int(count)
        elif status == states.UNREACHABLE:
            r.unreachable = int(count)
    when = col(ChangeRow.time)
    for dept, count in session.exec(
        select(col(ChangeRow.department), func.count())
        .where(col(ChangeRow.tenant) == tenant, col(ChangeRow.change) == "forwarded", when >= lo, when < hi)
        .group_by(col(ChangeRow.department))
    ):
        row(dept).forwarded_in = int(count)
    day = col(ContactTally.day)
    for dept, routed, completed, abandoned in session.exec(
        select(
            col(ContactTally.department),
            func.sum(col(ContactTally.routed)),
            func.sum(col(ContactTally.completed)),
            func.sum(col(ContactTally.abandoned)),
        )
        .where(col(ContactTally.tenant) == tenant, day >= first, day <= last)
        .group_by(col(ContactTally.department))
    ):
        if not (routed or completed or abandoned):
            continue  # a tally of repeat contacts only (the accountability report's), no contacts of its own
        r = row(dept)
        r.contacts_routed, r.contacts_completed, r.contacts_abandoned = int(routed), int(completed), int(abandoned)
    return [rows[d] for d in sorted(rows)]


def to_csv(tenant: str, rows: Iterable[pb.UsageReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([tenant, r.department.rsplit("/", 1)[-1], *(getattr(r, c) for c in COLUMNS[2:])])
    return out.getvalue()
