"""Worklist figures per department: open, due today, warning, overdue, time to first attempt, deadlines met.

`open`, `due_today`, `warning` (past the warning point, not yet the deadline) and `overdue`
describe the worklist now (due today: the deadline falls on the tenant's current local day).
The performance figures (median time to first attempt, share completed within the deadline,
completed) cover callbacks created in the last `WINDOW` (30 days), so they describe recent
work rather than the whole retention period.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.callbacks import states
from services.callbacks.changes import department_name
from services.callbacks.deadlines import local_day_bounds
from services.callbacks.models import CallbackRow, utc
from services.common.calendar import BusinessCalendar

WINDOW = timedelta(days=30)


@dataclass
class DepartmentStats:
    department: str
    open: int = 0
    due_today: int = 0
    overdue: int = 0
    median_seconds_to_first_attempt: float = 0.0
    completed_within_deadline: float = 0.0
    completed: int = 0
    warning: int = 0

    def to_message(self, tenant: str) -> pb.DepartmentCallbackStats:
        return pb.DepartmentCallbackStats(
            department=department_name(tenant, self.department),
            open=self.open,
            due_today=self.due_today,
            overdue=self.overdue,
            median_seconds_to_first_attempt=self.median_seconds_to_first_attempt,
            completed_within_deadline=self.completed_within_deadline,
            completed=self.completed,
            warning=self.warning,
        )


def compute(
    session: Session, tenant: str, calendar: BusinessCalendar, now: datetime, department: str | None = None
) -> list[DepartmentStats]:
    """Figures per department of one tenant (only `department` if given), sorted by department."""
    figures: dict[str, DepartmentStats] = {}

    def of(dept: str) -> DepartmentStats:
        return figures.setdefault(dept, DepartmentStats(dept))

    day_start, day_end = (utc(t) for t in local_day_bounds(calendar, now))
    at = utc(now)
    deadline = col(CallbackRow.deadline)
    dept_col = col(CallbackRow.department)
    where = [col(CallbackRow.tenant) == tenant]
    if department is not None:
        where.append(dept_col == department)
    open_stmt = (
        select(  # type: ignore[call-overload]
            dept_col,
            func.count(),
            func.sum(case((deadline < at, 1), else_=0)),
            func.sum(case(((deadline >= day_start) & (deadline < day_end), 1), else_=0)),
            func.sum(case(((col(CallbackRow.warn_at) <= at) & (deadline >= at), 1), else_=0)),
        )
        .where(*where, col(CallbackRow.status).in_(states.OPEN))
        .group_by(dept_col)
    )
    for dept, count, overdue, due, warning in session.exec(open_stmt):
        fig = of(dept)
        fig.open, fig.overdue, fig.due_today = int(count), int(overdue or 0), int(due or 0)
        fig.warning = int(warning or 0)
    since = at - WINDOW
    recent = [*where, col(CallbackRow.create_time) >= since]
    done_stmt = (
        select(dept_col, func.count(), func.sum(case((col(CallbackRow.closed_time) <= deadline, 1), else_=0)))
        .where(*recent, col(CallbackRow.status) == states.COMPLETED)
        .group_by(dept_col)
    )
    for dept, count, within in session.exec(done_stmt):
        fig = of(dept)
        fig.completed = int(count)
        fig.completed_within_deadline = int(within or 0) / int(count) if count else 0.0
    waits: dict[str, list[float]] = defaultdict(list)
    first_stmt = select(dept_col, col(CallbackRow.create_time), col(CallbackRow.first_attempt_time)).where(
        *recent, col(CallbackRow.first_attempt_time).is_not(None)
    )
    for dept, created, first in session.exec(first_stmt):
        if first is None:
            continue
        waits[dept].append((first - created).total_seconds())
    for dept, values in waits.items():
        of(dept).median_seconds_to_first_attempt = float(statistics.median(values))
    return [figures[d] for d in sorted(figures)]


def tenants_with_callbacks(session: Session) -> list[str]:
    return [t for t in session.exec(select(col(CallbackRow.tenant)).distinct())]
