"""The tenant's local day of an instant: the window of the queue figures.

Figures count the contacts routed today in the tenant's time zone (its business calendar's,
Europe/Amsterdam by default), so a replica that replays the stream after a restart counts what
one that kept running counts. The bounds of each tenant's current day are cached, so routing a
contact costs two comparisons, not a time-zone conversion.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_ZONE = "Europe/Amsterdam"

#: (tenant, epoch seconds) -> the local date's ordinal
DayOf = Callable[[str, float], int]


class LocalDays:
    """`day_of(tenant, at)`; `zone_of(tenant)` names the tenant's zone (it may change with its calendar)."""

    def __init__(self, zone_of: Callable[[str], str]) -> None:
        self.zone_of = zone_of
        self._current: dict[str, tuple[float, float, int, str]] = {}  # tenant -> start, end, ordinal, zone

    def day_of(self, tenant: str, at: float) -> int:
        zone = self.zone_of(tenant)
        start, end, ordinal, cached_zone = self._current.get(tenant, (0.0, 0.0, 0, ""))
        if start <= at < end and zone == cached_zone:
            return ordinal
        tz = ZoneInfo(zone)
        day = datetime.fromtimestamp(at, tz).date()
        first = datetime.combine(day, time(), tz).timestamp()
        after = datetime.combine(day + timedelta(days=1), time(), tz).timestamp()
        self._current[tenant] = (first, after, day.toordinal(), zone)
        return day.toordinal()
