"""Working-hours arithmetic on a gemeente's business calendar.

Callback deadlines in the KCC are promised in working hours or working days, so they have to
skip nights, weekends, Dutch public holidays and the tenant's own closures, and they have to stay
right when the clocks change. Opening hours are local wall-clock times; every computation maps
those wall-clock times to UTC instants for the date at hand and does its arithmetic on the
instants, never on local times, so a DST switch inside or between periods cannot shift a result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Final, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from services.common.public_holidays import nl_public_holidays

__all__ = ["DEFAULT_CALENDAR", "BusinessCalendar", "OpeningPeriod"]

_K = TypeVar("_K")
_V = TypeVar("_V")

_ONE_DAY: Final = timedelta(days=1)
_ZERO: Final = timedelta(0)
_MICROSECOND: Final = timedelta(microseconds=1)
# A calendar that stays shut this long is treated as never opening again, instead of looping.
_MAX_CLOSED_DAYS: Final = 3 * 366
# Bounds the per-calendar cache of a date's opening instants (a few hundred bytes per date).
_INSTANT_CACHE_LIMIT: Final = 4096
_SNAPSHOT_VERSION: Final = 1
_WEEKDAY_NAMES: Final = (
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
)

_Spans = tuple[tuple[datetime, datetime], ...]


class _FrozenMap(Mapping[_K, _V]):
    """Read-only, hashable mapping: a frozen calendar must not change behind its own caches."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[_K, _V]) -> None:
        self._data: dict[_K, _V] = dict(data)
        self._hash: int | None = None

    def __getitem__(self, key: _K) -> _V:
        return self._data[key]

    def __iter__(self) -> Iterator[_K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return repr(self._data)


def _fmt_time(value: time) -> str:
    if value.second or value.microsecond:
        return value.isoformat()
    return value.isoformat(timespec="minutes")


@dataclass(frozen=True, order=True)
class OpeningPeriod:
    """A stretch of local wall-clock time within one day; a night shift is two periods."""

    start: time
    end: time

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, time):
                raise TypeError(f"opening period {name} must be a datetime.time, got {value!r}")
            if value.tzinfo is not None:
                raise ValueError(
                    f"opening period {name} must be a local wall-clock time without tzinfo "
                    f"(the calendar's timezone applies), got {value!r}"
                )
        if not self.start < self.end:
            raise ValueError(
                f"opening period must start before it ends (and cannot run past midnight), "
                f"got {_fmt_time(self.start)}-{_fmt_time(self.end)}"
            )

    def __str__(self) -> str:
        return f"{_fmt_time(self.start)}-{_fmt_time(self.end)}"


def _normalize_periods(periods: Iterable[OpeningPeriod], where: str) -> tuple[OpeningPeriod, ...]:
    """Sort and check periods once, so the arithmetic can rely on ordered, disjoint periods."""
    if isinstance(periods, OpeningPeriod):
        raise TypeError(f"opening hours for {where} must be a tuple of OpeningPeriod, not one")
    items = tuple(periods)
    for period in items:
        if not isinstance(period, OpeningPeriod):
            raise TypeError(f"opening hours for {where} must be OpeningPeriod, got {period!r}")
    ordered = tuple(sorted(items))
    for before, after in zip(ordered, ordered[1:], strict=False):
        if after.start < before.end:
            raise ValueError(f"opening periods on {where} overlap: {before} and {after}")
    return ordered


def _check_date(value: object, what: str) -> date:
    # datetime is a subclass of date; accepting one would silently drop its time and zone.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime.date (not a datetime), got {value!r}")
    return value


def _wall_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Map a local wall-clock time to the first instant at which the clock shows it or later.

    A time skipped by the spring-forward gap maps to the moment of the switch (an office that
    opens at 02:30 on that night opens when the clock jumps to 03:00); a time that occurs twice in
    autumn maps to its first occurrence. The mapping is monotonic, so ordered periods stay ordered.
    """
    naive = datetime.combine(day, wall)
    instant = naive.replace(tzinfo=tz).astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) == naive:
        return instant
    # Inside a gap: fold=0 lands after the switch, fold=1 before it; bisect for the switch itself.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = instant
    if not low.astimezone(tz).replace(tzinfo=None) < naive < high.astimezone(tz).replace(tzinfo=None):
        return instant
    while high - low > _MICROSECOND:
        middle = low + (high - low) // 2
        if middle.astimezone(tz).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return high


def _as_utc(value: object, name: str) -> datetime:
    if not isinstance(value, datetime):
        raise TypeError(f"{name} must be a datetime, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware; a naive datetime is ambiguous around DST switches "
            f"and between tenants, got {value.isoformat()}"
        )
    return value.astimezone(UTC)


def _as_duration(hours: object) -> timedelta:
    if isinstance(hours, timedelta):
        duration = hours
    elif isinstance(hours, bool) or not isinstance(hours, int | float):
        raise TypeError(f"hours must be a number of hours or a timedelta, got {hours!r}")
    elif not math.isfinite(hours):
        raise ValueError(f"hours must be finite, got {hours!r}")
    else:
        try:
            duration = timedelta(hours=hours)
        except OverflowError as exc:
            raise ValueError(f"hours out of range: {hours!r}") from exc
    if duration < _ZERO:
        raise ValueError(f"working time cannot be negative, got {duration}")
    return duration


def _empty_openings() -> Mapping[date, tuple[OpeningPeriod, ...]]:
    return _FrozenMap({})


@dataclass(frozen=True)
class BusinessCalendar:
    """A tenant's opening hours, against which callback deadlines are counted.

    Precedence for a date: a closure shuts the day; otherwise an extra opening replaces whatever
    would apply (weekday hours, or a public holiday: an explicit tenant decision wins); otherwise
    a public holiday (if observed) shuts the day; otherwise the weekday's hours apply.
    Periods are half-open: the office is open at 08:30:00 and closed at 17:00:00.
    """

    weekly_hours: Mapping[int, tuple[OpeningPeriod, ...]]
    closures: frozenset[date] = frozenset()
    extra_openings: Mapping[date, tuple[OpeningPeriod, ...]] = field(default_factory=_empty_openings)
    timezone: str = "Europe/Amsterdam"
    observe_public_holidays: bool = True
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)
    _last_extra_opening: date | None = field(init=False, repr=False, compare=False)
    _instant_cache: dict[date, _Spans] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.timezone, str):
            raise TypeError(f"timezone must be an IANA zone name, got {self.timezone!r}")
        try:
            tz = ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if not isinstance(self.observe_public_holidays, bool):
            raise TypeError(f"observe_public_holidays must be a bool, got {self.observe_public_holidays!r}")
        if not isinstance(self.weekly_hours, Mapping):
            raise TypeError("weekly_hours must map weekday (0 = Monday) to opening periods")
        if not isinstance(self.extra_openings, Mapping):
            raise TypeError("extra_openings must map dates to opening periods")

        weekly: dict[int, tuple[OpeningPeriod, ...]] = {}
        for weekday, periods in self.weekly_hours.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekday must be an int 0..6 (0 = Monday), got {weekday!r}")
            normalized = _normalize_periods(periods, _WEEKDAY_NAMES[weekday])
            if normalized:  # an empty day and a missing day mean the same; compare them equal
                weekly[weekday] = normalized

        if isinstance(self.closures, date | str):
            raise TypeError("closures must be a collection of dates")
        closures = frozenset(_check_date(day, "closure") for day in self.closures)

        extra: dict[date, tuple[OpeningPeriod, ...]] = {}
        for day, periods in self.extra_openings.items():
            _check_date(day, "extra opening date")
            normalized = _normalize_periods(periods, day.isoformat())
            if not normalized:
                raise ValueError(
                    f"extra opening on {day.isoformat()} has no periods; list the date in closures to close the office"
                )
            if day in closures:
                raise ValueError(f"{day.isoformat()} is both a closure and an extra opening; pick one")
            extra[day] = normalized

        object.__setattr__(self, "weekly_hours", _FrozenMap(dict(sorted(weekly.items()))))
        object.__setattr__(self, "closures", closures)
        object.__setattr__(self, "extra_openings", _FrozenMap(dict(sorted(extra.items()))))
        object.__setattr__(self, "_tz", tz)
        object.__setattr__(self, "_last_extra_opening", max(extra) if extra else None)
        object.__setattr__(self, "_instant_cache", {})

    # ----------------------------------------------------------------- day-level questions

    def public_holidays(self, year: int) -> dict[date, str]:
        """The Dutch public holidays (Dutch names) a calendar closes for if it observes them.

        Returned whatever `observe_public_holidays` says, so a UI can show them either way.
        """
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
            raise ValueError(f"year must be an int in 1..9999, got {year!r}")
        return dict(nl_public_holidays(year))

    def periods_on(self, d: date) -> tuple[OpeningPeriod, ...]:
        """Local wall-clock opening periods for a date, after closures, extras and holidays."""
        day = _check_date(d, "d")
        if day in self.closures:
            return ()
        extra = self.extra_openings.get(day)
        if extra is not None:
            return extra
        if self.observe_public_holidays and day in nl_public_holidays(day.year):
            return ()
        return self.weekly_hours.get(day.weekday(), ())

    def is_working_day(self, d: date) -> bool:
        """Whether the office is open at all that day (counted as a day in working-day terms)."""
        return bool(self._spans(_check_date(d, "d")))

    def is_open(self, moment: datetime) -> bool:
        """Whether a moment falls inside an opening period (start included, end excluded)."""
        instant = _as_utc(moment, "moment")
        day = instant.astimezone(self._tz).date()
        return any(start <= instant < end for start, end in self._spans(day))

    # ----------------------------------------------------------------- arithmetic

    def add_working_hours(self, start: datetime, hours: float | timedelta) -> datetime:
        """The moment the given working time is used up, counting from `start`.

        Counting begins at `start` if the office is open then, else at the next opening. A
        deadline that runs out exactly at the end of a period is that period end, not the next
        opening. Zero hours gives the moment counting would begin: `start` itself when open,
        otherwise the next opening (so a zero-hour deadline set on a Saturday is Monday morning,
        i.e. the first moment anyone can act on it). Raises ValueError for negative time and for
        calendars that never open again.
        """
        remaining = _as_duration(hours)
        instant = _as_utc(start, "start")
        return self._localize(self._advance(instant, remaining))

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """A deadline of N working days: same clock time on the Nth following working day.

        Rule: counting begins where `add_working_hours` begins (at `start` if open, else at the
        next opening). The deadline is that begin moment's local clock time on the Nth working
        day after the begin date, clamped into that day's opening hours (before opening: the
        opening; in a break or after closing: the preceding period end). As everywhere in this
        module the earliest equivalent moment is returned, so a deadline landing on an opening
        is reported as the end of the previous open period: Friday 07:00 + 1 working day is
        Friday 17:00 (a full working day after the 08:30 opening), not Monday 08:30. Zero days
        gives the moment counting begins.
        """
        if isinstance(days, bool) or not isinstance(days, int):
            raise TypeError(f"days must be an int, got {days!r}")
        if days < 0:
            raise ValueError(f"working days cannot be negative, got {days}")
        instant = _as_utc(start, "start")
        begin = self._advance(instant, _ZERO)
        if days == 0:
            return self._localize(begin)
        local = begin.astimezone(self._tz)
        wall = local.time() if not local.fold else self._end_of_repeated_hour(begin)
        day = local.date()
        for _ in range(days):
            day = self._next_working_day(day)
        target = self._clamp(day, wall)
        return self._localize(self._advance(instant, self._between(instant, target)))

    def _end_of_repeated_hour(self, instant: datetime) -> time:
        """The wall clock time at which the autumn switch's repeated hour ends (03:00 here).

        A start in the second pass of that hour counts from its end: any earlier clock time
        would put its deadline before that of an earlier start in the first pass.
        """
        lo, hi = instant, instant + timedelta(hours=3)
        while hi - lo > timedelta(seconds=1):
            mid = lo + (hi - lo) / 2
            if mid.astimezone(self._tz).fold:
                lo = mid
            else:
                hi = mid
        return hi.astimezone(self._tz).time().replace(microsecond=0)

    def working_time_between(self, a: datetime, b: datetime) -> timedelta:
        """Opening time elapsed from `a` to `b`; negative when `b` is before `a` (overdue)."""
        first = _as_utc(a, "a")
        second = _as_utc(b, "b")
        if second < first:
            return -self._between(second, first)
        return self._between(first, second)

    # ----------------------------------------------------------------- serialisation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot, so a deadline can be recomputed against the calendar of its day."""
        return {
            "version": _SNAPSHOT_VERSION,
            "timezone": self.timezone,
            "observe_public_holidays": self.observe_public_holidays,
            "weekly_hours": {str(weekday): _periods_to_json(periods) for weekday, periods in self.weekly_hours.items()},
            "closures": sorted(day.isoformat() for day in self.closures),
            "extra_openings": {
                day.isoformat(): _periods_to_json(periods) for day, periods in self.extra_openings.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BusinessCalendar:
        """Rebuild a snapshot from `to_dict`; strict, so a corrupt snapshot fails loudly."""
        if not isinstance(data, Mapping):
            raise ValueError(f"calendar snapshot must be a mapping, got {type(data).__name__}")
        known = {
            "version",
            "timezone",
            "observe_public_holidays",
            "weekly_hours",
            "closures",
            "extra_openings",
        }
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"calendar snapshot has unknown keys: {sorted(unknown)}")
        version = data.get("version", _SNAPSHOT_VERSION)
        if version != _SNAPSHOT_VERSION:
            raise ValueError(f"unsupported calendar snapshot version {version!r}")
        try:
            weekly = {
                _parse_weekday(key): _periods_from_json(value)
                for key, value in _mapping(data.get("weekly_hours", {}), "weekly_hours").items()
            }
            closures = frozenset(_parse_date(value) for value in _list(data.get("closures", []), "closures"))
            extra = {
                _parse_date(key): _periods_from_json(value)
                for key, value in _mapping(data.get("extra_openings", {}), "extra_openings").items()
            }
            return cls(
                weekly_hours=weekly,
                closures=closures,
                extra_openings=extra,
                timezone=data.get("timezone", "Europe/Amsterdam"),
                observe_public_holidays=data.get("observe_public_holidays", True),
            )
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"invalid calendar snapshot: {exc}") from exc

    # ----------------------------------------------------------------- internals

    def _localize(self, instant: datetime) -> datetime:
        return instant.astimezone(self._tz)

    def _spans(self, day: date) -> _Spans:
        """A date's opening periods as UTC instants; cached, this is the hot path."""
        spans = self._instant_cache.get(day)
        if spans is None:
            built: list[tuple[datetime, datetime]] = []
            for period in self.periods_on(day):
                start = _wall_to_utc(day, period.start, self._tz)
                end = _wall_to_utc(day, period.end, self._tz)
                if start < end:  # a period lying wholly in a DST gap does not exist that night
                    built.append((start, end))
            spans = tuple(built)
            if len(self._instant_cache) >= _INSTANT_CACHE_LIMIT:
                self._instant_cache.clear()
            self._instant_cache[day] = spans
        return spans

    def _check_can_open(self, day: date) -> None:
        if not self.weekly_hours and (self._last_extra_opening is None or self._last_extra_opening < day):
            raise ValueError(f"calendar has no opening hours on or after {day.isoformat()}")

    def _next_day(self, day: date) -> date:
        try:
            return day + _ONE_DAY
        except OverflowError as exc:
            raise ValueError("deadline falls beyond the year 9999") from exc

    def _advance(self, instant: datetime, remaining: timedelta) -> datetime:
        day = instant.astimezone(self._tz).date()
        self._check_can_open(day)
        closed_days = 0
        while True:
            spans = self._spans(day)
            for span_start, span_end in spans:
                if span_end <= instant:
                    continue
                begin = span_start if span_start > instant else instant
                available = span_end - begin
                if remaining <= available:
                    return begin + remaining
                remaining -= available
            closed_days = 0 if spans else closed_days + 1
            if closed_days > _MAX_CLOSED_DAYS:
                raise ValueError(
                    f"calendar is closed for more than {_MAX_CLOSED_DAYS} days in a row "
                    f"(up to {day.isoformat()}); refusing to search further"
                )
            day = self._next_day(day)

    def _next_working_day(self, day: date) -> date:
        for _ in range(_MAX_CLOSED_DAYS + 1):
            day = self._next_day(day)
            if self._spans(day):
                return day
        raise ValueError(
            f"calendar is closed for more than {_MAX_CLOSED_DAYS} days in a row "
            f"(up to {day.isoformat()}); refusing to search further"
        )

    def _clamp(self, day: date, wall: time) -> datetime:
        spans = self._spans(day)
        moment = _wall_to_utc(day, wall, self._tz)
        for span_start, span_end in reversed(spans):
            if span_start <= moment:
                return moment if moment < span_end else span_end
        return spans[0][0]

    def _between(self, first: datetime, second: datetime) -> timedelta:
        total = _ZERO
        day = first.astimezone(self._tz).date()
        last = second.astimezone(self._tz).date()
        while day <= last:
            for span_start, span_end in self._spans(day):
                low = span_start if span_start > first else first
                high = span_end if span_end < second else second
                if low < high:
                    total += high - low
            if day == last:
                break
            day += _ONE_DAY
        return total


def _periods_to_json(periods: tuple[OpeningPeriod, ...]) -> list[dict[str, str]]:
    return [{"start": p.start.isoformat(), "end": p.end.isoformat()} for p in periods]


def _mapping(value: object, what: str) -> Mapping[Any, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be an object, got {value!r}")
    return value


def _list(value: object, what: str) -> list[Any]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"{what} must be a list, got {value!r}")
    return list(value)


def _parse_weekday(key: object) -> int:
    if isinstance(key, str) and key.isdigit():
        return int(key)
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    raise ValueError(f"weekday key must be '0'..'6', got {key!r}")


def _parse_date(value: object) -> date:
    if not isinstance(value, str):
        raise TypeError(f"date must be an ISO string, got {value!r}")
    return date.fromisoformat(value)


def _parse_time(value: object) -> time:
    if not isinstance(value, str):
        raise TypeError(f"time must be an ISO string, got {value!r}")
    return time.fromisoformat(value)


def _periods_from_json(value: object) -> tuple[OpeningPeriod, ...]:
    return tuple(
        OpeningPeriod(
            start=_parse_time(_mapping(item, "opening period")["start"]),
            end=_parse_time(_mapping(item, "opening period")["end"]),
        )
        for item in _list(value, "opening periods")
    )


_OFFICE_HOURS: Final = (OpeningPeriod(time(8, 30), time(17, 0)),)

DEFAULT_CALENDAR: Final = BusinessCalendar(
    weekly_hours={weekday: _OFFICE_HOURS for weekday in range(5)},
)
"""Monday to Friday 08:30-17:00, Europe/Amsterdam, closed on the Dutch public holidays."""
