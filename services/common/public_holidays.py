"""The Dutch public holidays a KCC closes for, by year, whatever the `holidays` package version says.

Business calendars (services/common/calendar.py) skip these days when they observe public holidays.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from functools import lru_cache
from types import MappingProxyType
from typing import Final

import holidays

# Dutch names for the holidays the KCC closes for, keyed by the package's en_US names. Anything
# the package reports that is not listed here (now or in a future version) is not a closure day.
NL_HOLIDAY_NAMES: Final[Mapping[str, str]] = {
    "New Year's Day": "Nieuwjaarsdag",
    "Good Friday": "Goede Vrijdag",
    "Easter Sunday": "Eerste Paasdag",
    "Easter Monday": "Tweede Paasdag",
    "King's Day": "Koningsdag",
    "Queen's Day": "Koninginnedag",
    "Liberation Day": "Bevrijdingsdag",
    "Ascension Day": "Hemelvaartsdag",
    "Pentecost": "Eerste Pinksterdag",
    "Pentecost Monday": "Tweede Pinksterdag",
    "Christmas Day": "Eerste Kerstdag",
    "Second Day of Christmas": "Tweede Kerstdag",
}


def curate_nl_holidays(year: int, raw: Mapping[date, str]) -> dict[date, str]:
    """Pin the closure days to the KCC rule, whatever the installed `holidays` version reports.

    The rule: Nieuwjaarsdag, Goede Vrijdag, both Easter days, Koningsdag, Bevrijdingsdag in
    lustrum years only, Hemelvaartsdag, both Whitsun days and both Christmas days. Goede Vrijdag
    is derived from Easter Sunday and Bevrijdingsdag from the lustrum rule, because those are the
    two days on which package versions and categories have disagreed. Years the package does not
    cover (before 1966) get no holidays at all rather than a half-made list.
    """
    if not raw:
        return {}
    names: dict[date, list[str]] = {}
    for day, label in raw.items():
        if day.year != year:
            continue
        for part in label.split(";"):
            dutch = NL_HOLIDAY_NAMES.get(part.strip())
            if dutch is not None and dutch not in names.setdefault(day, []):
                names[day].append(dutch)

    easter = [day for day, found in names.items() if "Eerste Paasdag" in found]
    if easter:
        good_friday = names.setdefault(easter[0] - timedelta(days=2), [])
        if "Goede Vrijdag" not in good_friday:
            good_friday.append("Goede Vrijdag")

    liberation = names.setdefault(date(year, 5, 5), [])
    if year % 5 == 0:
        if "Bevrijdingsdag" not in liberation:
            liberation.append("Bevrijdingsdag")
    elif "Bevrijdingsdag" in liberation:
        liberation.remove("Bevrijdingsdag")

    return {day: "; ".join(found) for day, found in sorted(names.items()) if found}


@lru_cache(maxsize=512)
def nl_public_holidays(year: int) -> Mapping[date, str]:
    """Cached per year: a table costs ~0.3 ms to build (~50 ms for the first, loading NL)."""
    raw = holidays.country_holidays("NL", years=year, language="en_US")
    return MappingProxyType(curate_nl_holidays(year, raw))  # shared by the cache: read-only
