"""Business calendars as API messages (kcc.tenancy.v1.BusinessCalendar) and back.

Shared so that a client (e.g. `kcc calendar add --tenant`) can use a tenant's calendar
without importing the tenancy service; tenancy's convert.py uses the same functions.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.calendar import BusinessCalendar, OpeningPeriod
from services.common.errors import invalid_argument


def _periods(field: str, given: Iterable[pb.OpeningPeriod]) -> tuple[OpeningPeriod, ...]:
    """A day's periods; a bad one is named by its index (`...periods[1]`), never by its value."""
    periods = []
    for i, p in enumerate(given):
        try:
            periods.append(OpeningPeriod(time.fromisoformat(p.start), time.fromisoformat(p.end)))
        except (ValueError, TypeError) as exc:
            raise invalid_argument(f"{field}[{i}]", "must run forward from HH:MM to HH:MM within one day") from exc
    ordered = sorted(periods)
    if any(after.start < before.end for before, after in zip(ordered, ordered[1:], strict=False)):
        raise invalid_argument(field, "must not overlap")
    return tuple(periods)


def calendar_from_msg(msg: pb.BusinessCalendar) -> BusinessCalendar:
    """Raises ApiError(INVALID_ARGUMENT) naming the field, with its list index, for a calendar that cannot be built."""
    weekly: dict[int, tuple[OpeningPeriod, ...]] = {}
    for i, day in enumerate(msg.weekly_hours):
        field = f"business_calendar.weekly_hours[{i}]"
        if not 1 <= day.iso_weekday <= 7:
            raise invalid_argument(f"{field}.iso_weekday", "must be 1..7")
        if day.iso_weekday - 1 in weekly:
            raise invalid_argument(f"{field}.iso_weekday", "appears twice")
        weekly[day.iso_weekday - 1] = _periods(f"{field}.periods", day.periods)
    closures: set[date] = set()
    extra: dict[date, tuple[OpeningPeriod, ...]] = {}
    for i, special in enumerate(msg.special_days):
        field = f"business_calendar.special_days[{i}]"
        try:
            day_date = date.fromisoformat(special.date)
        except ValueError as exc:
            raise invalid_argument(f"{field}.date", "must be a date YYYY-MM-DD") from exc
        if day_date in closures or day_date in extra:
            raise invalid_argument(f"{field}.date", "appears twice")
        if special.periods:
            extra[day_date] = _periods(f"{field}.periods", special.periods)
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
        raise invalid_argument(
            "business_calendar.time_zone", "must be an IANA time zone such as Europe/Amsterdam"
        ) from exc


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
