"""Business calendars as API messages (kcc.tenancy.v1.BusinessCalendar) and back.

Shared so that a client (e.g. `kcc calendar add --tenant`) can use a tenant's calendar
without importing the tenancy service; tenancy's convert.py uses the same functions.
"""

from __future__ import annotations

from datetime import date, time

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.calendar import BusinessCalendar, OpeningPeriod
from services.common.errors import invalid_argument


def _period(field: str, p: pb.OpeningPeriod) -> OpeningPeriod:
    try:
        return OpeningPeriod(time.fromisoformat(p.start), time.fromisoformat(p.end))
    except (ValueError, TypeError) as exc:
        raise invalid_argument(field, f"opening period {p.start}-{p.end}: {exc}") from exc


def calendar_from_msg(msg: pb.BusinessCalendar) -> BusinessCalendar:
    """Raises ApiError(INVALID_ARGUMENT) naming the field for a calendar that cannot be built."""
    weekly: dict[int, tuple[OpeningPeriod, ...]] = {}
    for day in msg.weekly_hours:
        if not 1 <= day.iso_weekday <= 7:
            raise invalid_argument("business_calendar.weekly_hours.iso_weekday", "must be 1..7")
        weekly[day.iso_weekday - 1] = tuple(_period("business_calendar.weekly_hours.periods", p) for p in day.periods)
    closures: set[date] = set()
    extra: dict[date, tuple[OpeningPeriod, ...]] = {}
    for special in msg.special_days:
        try:
            day_date = date.fromisoformat(special.date)
        except ValueError as exc:
            raise invalid_argument("business_calendar.special_days.date", str(exc)) from exc
        if special.periods:
            extra[day_date] = tuple(_period("business_calendar.special_days.periods", p) for p in special.periods)
        else:
            closures.add(day_date)
    try:
        return BusinessCalendar(
            weekly_hours=weekly,
            closures=frozenset(closures),
            extra_openings=extra,
            timezone=msg.time_zone or "Europe/Amsterdam",
            observe_public_holidays=msg.observe_public_holidays,
        )
    except (ValueError, TypeError) as exc:
        raise invalid_argument("business_calendar", str(exc)) from exc


def calendar_msg(tenant: str, cal: BusinessCalendar) -> pb.BusinessCalendar:
    def periods(ps: tuple[OpeningPeriod, ...]) -> list[pb.OpeningPeriod]:
        return [pb.OpeningPeriod(start=p.start.strftime("%H:%M"), end=p.end.strftime("%H:%M")) for p in ps]

    return pb.BusinessCalendar(
        name=f"tenants/{tenant}/businessCalendar",
        time_zone=cal.timezone,
        weekly_hours=[
            pb.WeekdayHours(iso_weekday=d + 1, periods=periods(ps)) for d, ps in sorted(cal.weekly_hours.items())
        ],
        special_days=[pb.SpecialDay(date=d.isoformat()) for d in sorted(cal.closures)]
        + [pb.SpecialDay(date=d.isoformat(), periods=periods(ps)) for d, ps in sorted(cal.extra_openings.items())],
        observe_public_holidays=cal.observe_public_holidays,
    )
