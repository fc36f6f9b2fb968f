"""Deadlines and warning moments, counted in the tenant's working time (opening hours, Dutch holidays)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.common.calendar import DEFAULT_CALENDAR, BusinessCalendar
from services.common.snapshots import DEFAULT_SLA, SlaSnapshot, TenantSnapshot

_calendars: dict[tuple[str, int], BusinessCalendar] = {}


def calendar_of(snapshot: TenantSnapshot | None) -> BusinessCalendar:
    """The tenant's calendar (cached per snapshot version), or the default office hours."""
    if snapshot is None or not snapshot.calendar:
        return DEFAULT_CALENDAR
    key = (snapshot.tenant, snapshot.version)
    calendar = _calendars.get(key)
    if calendar is None:
        if len(_calendars) > 1000:
            _calendars.clear()
        calendar = _calendars[key] = BusinessCalendar.from_dict(snapshot.calendar)
    return calendar


@dataclass(frozen=True)
class Timing:
    deadline: datetime
    warn_at: datetime


def compute(calendar: BusinessCalendar, sla: SlaSnapshot, now: datetime, requested: datetime | None = None) -> Timing:
    """The policy's window from `now` on the calendar, or `requested` when that is earlier.

    A policy with callback_working_days counts working days (same clock time on the Nth
    working day) and ignores hours; otherwise it counts callback_working_hours; a policy that
    sets neither gets the platform default (16 working hours). The warning falls when
    `warning_percent` (1..100) of the window's working time has passed.
    """
    days, hours = sla.callback_working_days, sla.callback_working_hours
    if days > 0:
        deadline = calendar.add_working_days(now, days)
    else:
        deadline = calendar.add_working_hours(now, hours if hours > 0 else DEFAULT_SLA.callback_working_hours)
    deadline = deadline.astimezone(UTC)
    if requested is not None and requested < deadline:
        deadline = requested.astimezone(UTC)
    return Timing(deadline=deadline, warn_at=warning_moment(calendar, sla.warning_percent, now, deadline))


def warning_moment(calendar: BusinessCalendar, percent: int, start: datetime, deadline: datetime) -> datetime:
    share = min(max(percent, 1), 100) / 100
    window = calendar.working_time_between(start, deadline)
    if window <= timedelta(0):
        return deadline
    return min(calendar.add_working_hours(start, window * share).astimezone(UTC), deadline)


def local_day_bounds(calendar: BusinessCalendar, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the tenant's local calendar day that contains `now`."""
    tz = ZoneInfo(calendar.timezone)
    local = now.astimezone(tz)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    end = (start + timedelta(days=1, hours=2)).replace(hour=0)  # robust across DST days
    return start.astimezone(UTC), end.astimezone(UTC)
