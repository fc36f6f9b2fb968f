"""`kcc tenancy calendar ...`: opening hours, special days and public holidays."""

from __future__ import annotations

import argparse
import re
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    UsageError,
    add,
    mask,
    tenant_arg,
)

WEEKDAYS = {
    "ma": 1,
    "mon": 1,
    "di": 2,
    "tue": 2,
    "wo": 3,
    "wed": 3,
    "do": 4,
    "thu": 4,
    "vr": 5,
    "fri": 5,
    "za": 6,
    "sat": 6,
    "zo": 7,
    "sun": 7,
}
DAY_NAMES = ("", "ma", "di", "wo", "do", "vr", "za", "zo")


def add_commands(groups: Any) -> None:
    cal = groups.add_parser("calendar", help="opening hours and holidays").add_subparsers(
        dest="calendar_command", required=True
    )
    p = add(cal, "show", _calendar_show, "show a tenant's business calendar")
    tenant_arg(p)
    p = add(cal, "set-hours", _calendar_set_hours, "set the opening hours of weekdays")
    tenant_arg(p)
    p.add_argument("--days", required=True, help="ISO weekdays: 1-5, 1,3,5, ma-vr or mon-fri")
    hours = p.add_mutually_exclusive_group(required=True)
    hours.add_argument("--hours", help="e.g. 08:30-12:00,13:00-17:00")
    hours.add_argument("--closed", action="store_true")
    p = add(cal, "add-closure", _calendar_add_closure, "close on a date (e.g. a bridge day)")
    tenant_arg(p)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p = add(cal, "add-opening", _calendar_add_opening, "open on a date with special hours (replaces that day)")
    tenant_arg(p)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--hours", required=True, help="e.g. 10:00-14:00")
    p = add(cal, "remove-day", _calendar_remove_day, "remove a closure or special opening")
    tenant_arg(p)
    p.add_argument("--date", required=True)


def _periods(text: str) -> list[pb.OpeningPeriod]:
    periods = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})", part)
        if not match:
            raise UsageError(f"{part!r} is not a period like 08:30-17:00")
        start, end = (v.zfill(5) for v in match.groups())
        periods.append(pb.OpeningPeriod(start=start, end=end))
    if not periods:
        raise UsageError("give at least one period, e.g. 08:30-17:00")
    return periods


def _weekday(text: str) -> int:
    value = WEEKDAYS.get(text.strip().lower()[:3]) or WEEKDAYS.get(text.strip().lower()[:2])
    if value is None and text.strip().isdigit() and 1 <= int(text) <= 7:
        value = int(text)
    if value is None:
        raise UsageError(f"{text!r} is not a weekday (1-7, ma..zo or mon..sun)")
    return value


def _weekdays(text: str) -> list[int]:
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "-" in part:
            first, last = (_weekday(v) for v in part.split("-", 1))
            if last < first:
                raise UsageError(f"{part!r}: the range runs backwards")
            days.update(range(first, last + 1))
        else:
            days.add(_weekday(part))
    return sorted(days)


def _fmt_periods(periods: Any) -> str:
    return ", ".join(f"{p.start}-{p.end}" for p in periods) or "closed"


def _print_calendar(cal: pb.BusinessCalendar) -> None:
    print(f"{cal.name}")
    print(f"  time zone                {cal.time_zone}")
    print(f"  Dutch public holidays    {'closed' if cal.observe_public_holidays else 'not observed'}")
    hours = {d.iso_weekday: d.periods for d in cal.weekly_hours}
    for day in range(1, 8):
        print(f"  {DAY_NAMES[day]}                       {_fmt_periods(hours.get(day, []))}")
    if cal.special_days:
        print("  special days")
        for special in sorted(cal.special_days, key=lambda s: s.date):
            print(f"    {special.date}           {_fmt_periods(special.periods)}")


async def _get_calendar(stub: Stub, md: Metadata, tenant: str) -> pb.BusinessCalendar:
    return await stub.GetBusinessCalendar(
        pb.GetBusinessCalendarRequest(name=f"tenants/{tenant}/businessCalendar"), metadata=md, timeout=TIMEOUT
    )


async def _update_calendar(stub: Stub, md: Metadata, cal: pb.BusinessCalendar, path: str) -> int:
    updated = await stub.UpdateBusinessCalendar(
        pb.UpdateBusinessCalendarRequest(business_calendar=cal, update_mask=mask(path)), metadata=md, timeout=TIMEOUT
    )
    _print_calendar(updated)
    return 0


async def _calendar_show(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    _print_calendar(await _get_calendar(stub, md, args.tenant))
    return 0


async def _calendar_set_hours(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    days = _weekdays(args.days)
    periods = [] if args.closed else _periods(args.hours)
    cal = await _get_calendar(stub, md, args.tenant)
    weekly = {d.iso_weekday: list(d.periods) for d in cal.weekly_hours}
    for day in days:
        weekly[day] = periods
    del cal.weekly_hours[:]
    cal.weekly_hours.extend(pb.WeekdayHours(iso_weekday=d, periods=ps) for d, ps in sorted(weekly.items()) if ps)
    return await _update_calendar(stub, md, cal, "weekly_hours")


async def _calendar_special(
    stub: Stub, md: Metadata, tenant: str, day: str, periods: list[pb.OpeningPeriod] | None
) -> int:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise UsageError(f"{day!r} is not a date like 2026-12-24")
    cal = await _get_calendar(stub, md, tenant)
    kept = [s for s in cal.special_days if s.date != day]
    if periods is not None:
        kept.append(pb.SpecialDay(date=day, periods=periods))
    elif len(kept) == len(cal.special_days):
        raise UsageError(f"{day} is not a special day of tenants/{tenant}")
    del cal.special_days[:]
    cal.special_days.extend(kept)
    return await _update_calendar(stub, md, cal, "special_days")


async def _calendar_add_closure(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, [])


async def _calendar_add_opening(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, _periods(args.hours))


async def _calendar_remove_day(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, None)
