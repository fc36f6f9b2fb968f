"""Department accountability: what each department causes over a range of the tenant's local dates.

Callbacks that lie at a department come back as repeat contacts, so the report a KCC takes to
the departments puts them side by side: callbacks requested (created in the range, counted for
the department holding them now), completed on time, breached (closed after the deadline, or
still open past it), the median time to the first attempt, and the contacts routed in the range
from citizens with an open callback at that department (tallied in services/callbacks/contacts.py).
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func
from sqlmodel import Session, col, select

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.callbacks import states
from services.callbacks.changes import department_name
from services.callbacks.contacts import ContactTally
from services.callbacks.models import CallbackRow, utc
from services.common.calendar import BusinessCalendar

COLUMNS = (
    "tenant",
    "department",
    "requested",
    "on_time",
    "breached",
    "median_seconds_to_first_attempt",
    "repeat_contacts",
)


def report(
    session: Session, tenant: str, calendar: BusinessCalendar, first: date, last: date, now: datetime
) -> list[pb.AccountabilityRow]:
    tz = ZoneInfo(calendar.timezone)
    lo = utc(datetime.combine(first, time(), tz))
    hi = utc(datetime.combine(last + timedelta(days=1), time(), tz))
    at = utc(now)
    rows: dict[str, pb.AccountabilityRow] = {}
    waits: dict[str, list[float]] = defaultdict(list)

    def row(dept: str) -> pb.AccountabilityRow:
        if dept not in rows:
            rows[dept] = pb.AccountabilityRow(department=department_name(tenant, dept))
        return rows[dept]

    created = col(CallbackRow.create_time)
    stmt = select(  # type: ignore[call-overload]
        col(CallbackRow.department),
        col(CallbackRow.status),
        col(CallbackRow.deadline),
        col(CallbackRow.closed_time),
        created,
        col(CallbackRow.first_attempt_time),
    ).where(col(CallbackRow.tenant) == tenant, created >= lo, created < hi)
    for dept, status, deadline, closed, made, first_attempt in session.exec(stmt):
        r = row(dept)
        r.requested += 1
        deadline = utc(deadline)
        if status == states.COMPLETED and closed is not None and utc(closed) <= deadline:
            r.on_time += 1
        elif (closed is not None and utc(closed) > deadline) or (closed is None and deadline < at):
            r.breached += 1
        if first_attempt is not None:
            waits[dept].append((utc(first_attempt) - utc(made)).total_seconds())
    for dept, values in waits.items():
        row(dept).median_seconds_to_first_attempt = float(statistics.median(values))
    repeats = (
        select(col(ContactTally.department), func.sum(col(ContactTally.repeat_contacts)))
        .where(col(ContactTally.tenant) == tenant, col(ContactTally.day) >= first, col(ContactTally.day) <= last)
        .group_by(col(ContactTally.department))
    )
    for dept, count in session.exec(repeats):
        if count:
            row(dept).repeat_contacts = int(count)
    return [rows[d] for d in sorted(rows)]


def to_csv(tenant: str, rows: Iterable[pb.AccountabilityRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow([tenant, *(getattr(r, c) for c in COLUMNS[1:])])
    return out.getvalue()
