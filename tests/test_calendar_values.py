"""The business calendar refuses what it cannot mean (naive times, bad amounts, overlapping or
empty hours), is a value (immutable, hashable) and survives its snapshot form unchanged."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, date, datetime, time, timedelta

import pytest

from services.common.calendar import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    OpeningPeriod,
)
from tests.test_calendar import DST_EDGES, OFFICE, SPLIT, SUNDAY_NIGHT, TWO_PERIODS, at, period

# --------------------------------------------------------------------------- validation


def test_naive_inputs_are_rejected() -> None:
    naive = datetime(2026, 4, 24, 16, 0)
    aware = at("2026-04-24T16:00:00+02:00")
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT_CALENDAR.add_working_hours(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT_CALENDAR.add_working_days(naive, 1)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT_CALENDAR.is_open(naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT_CALENDAR.working_time_between(aware, naive)
    with pytest.raises(ValueError, match="timezone-aware"):
        DEFAULT_CALENDAR.working_time_between(naive, aware)


def test_bad_amounts_are_rejected() -> None:
    start = at("2026-04-24T16:00:00+02:00")
    with pytest.raises(ValueError, match="negative"):
        DEFAULT_CALENDAR.add_working_hours(start, -1)
    with pytest.raises(ValueError, match="negative"):
        DEFAULT_CALENDAR.add_working_hours(start, timedelta(seconds=-1))
    with pytest.raises(ValueError, match="finite"):
        DEFAULT_CALENDAR.add_working_hours(start, float("nan"))
    with pytest.raises(ValueError, match="negative"):
        DEFAULT_CALENDAR.add_working_days(start, -1)
    with pytest.raises(TypeError):
        DEFAULT_CALENDAR.add_working_days(start, 1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        DEFAULT_CALENDAR.add_working_hours(start, True)
    with pytest.raises(TypeError):
        DEFAULT_CALENDAR.is_working_day(start)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: period("17:00", "08:30"), "start before it ends"),
        (lambda: period("08:30", "08:30"), "start before it ends"),
        (
            lambda: OpeningPeriod(time(8, 30, tzinfo=UTC), time(17, 0)),
            "wall-clock",
        ),
        (
            lambda: BusinessCalendar(weekly_hours={0: (period("08:30", "12:00"), period("11:00", "13:00"))}),
            "overlap",
        ),
        (lambda: BusinessCalendar(weekly_hours={7: OFFICE}), "weekday"),
        (lambda: BusinessCalendar(weekly_hours={-1: OFFICE}), "weekday"),
        (
            lambda: BusinessCalendar(
                weekly_hours={0: OFFICE},
                closures=frozenset({date(2026, 6, 13)}),
                extra_openings={date(2026, 6, 13): OFFICE},
            ),
            "both a closure and an extra opening",
        ),
        (
            lambda: BusinessCalendar(weekly_hours={}, extra_openings={date(2026, 6, 13): ()}),
            "no periods",
        ),
        (
            lambda: BusinessCalendar(
                weekly_hours={},
                extra_openings={date(2026, 6, 13): (period("10:00", "12:00"), period("11:30", "14:00"))},
            ),
            "overlap",
        ),
        (lambda: BusinessCalendar(weekly_hours={}, timezone="Europe/Amsterdm"), "time zone"),
    ],
)
def test_validation_errors(build: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build()  # type: ignore[operator]


def test_adjacent_periods_are_not_an_overlap() -> None:
    calendar = BusinessCalendar(weekly_hours={0: (period("13:00", "17:00"), period("08:30", "13:00"))})
    assert calendar.periods_on(date(2026, 6, 8)) == (
        period("08:30", "13:00"),
        period("13:00", "17:00"),
    )
    assert calendar.add_working_hours(at("2026-06-08T12:00:00+02:00"), 2) == at("2026-06-08T14:00:00+02:00")


def test_calendar_without_opening_hours_fails_fast() -> None:
    start = at("2026-04-24T16:00:00+02:00")
    never = BusinessCalendar(weekly_hours={})
    with pytest.raises(ValueError, match="no opening hours"):
        never.add_working_hours(start, 1)
    with pytest.raises(ValueError, match="no opening hours"):
        never.add_working_days(start, 1)
    assert never.working_time_between(start, start + timedelta(days=30)) == timedelta(0)
    # Only a past extra opening: still nothing ahead.
    past = BusinessCalendar(weekly_hours={}, extra_openings={date(2026, 1, 3): OFFICE})
    with pytest.raises(ValueError, match="no opening hours"):
        past.add_working_hours(start, 1)
    # One future extra opening, then nothing: the first hours fit, more do not.
    once = BusinessCalendar(weekly_hours={}, extra_openings={date(2026, 6, 13): OFFICE})
    assert once.add_working_hours(start, 1) == at("2026-06-13T09:30:00+02:00")
    with pytest.raises(ValueError, match="closed for more than"):
        once.add_working_hours(start, 9)
    with pytest.raises(ValueError, match="closed for more than"):
        once.add_working_days(start, 2)


def test_weekly_hours_closed_by_closures_for_years_is_bounded() -> None:
    sundays = frozenset(date(2026, 4, 26) + timedelta(weeks=n) for n in range(200))
    calendar = BusinessCalendar(weekly_hours={6: OFFICE}, closures=sundays)
    with pytest.raises(ValueError, match="closed for more than"):
        calendar.add_working_hours(at("2026-04-24T16:00:00+02:00"), 1)


# --------------------------------------------------------------------------- value semantics


def test_calendar_is_immutable_and_hashable() -> None:
    hours = {0: OFFICE}
    calendar = BusinessCalendar(weekly_hours=hours)
    hours[1] = OFFICE  # changing the caller's dict afterwards must not change the calendar
    assert 1 not in calendar.weekly_hours
    with pytest.raises(TypeError):
        calendar.weekly_hours[1] = OFFICE  # type: ignore[index]
    same = BusinessCalendar(weekly_hours={0: OFFICE, 3: ()})
    assert calendar == same
    assert hash(calendar) == hash(same)
    assert len({calendar, same, DEFAULT_CALENDAR}) == 2
    assert pickle.loads(pickle.dumps(TWO_PERIODS)) == TWO_PERIODS


def test_default_calendar_hours() -> None:
    assert dict(DEFAULT_CALENDAR.weekly_hours) == {weekday: OFFICE for weekday in range(5)}
    assert DEFAULT_CALENDAR.timezone == "Europe/Amsterdam"
    assert DEFAULT_CALENDAR.observe_public_holidays


# --------------------------------------------------------------------------- serialisation


@pytest.mark.parametrize("calendar", [DEFAULT_CALENDAR, TWO_PERIODS, SUNDAY_NIGHT, DST_EDGES], ids=repr)
def test_serialisation_round_trip(calendar: BusinessCalendar) -> None:
    snapshot = json.loads(json.dumps(calendar.to_dict()))
    restored = BusinessCalendar.from_dict(snapshot)
    assert restored == calendar
    assert restored.to_dict() == calendar.to_dict()


def test_serialisation_format() -> None:
    calendar = BusinessCalendar(
        weekly_hours={0: SPLIT},
        closures=frozenset({date(2026, 6, 12), date(2026, 1, 2)}),
        extra_openings={date(2026, 6, 13): (OpeningPeriod(time(10), time(14, 0, 0, 500)),)},
        observe_public_holidays=False,
    )
    assert calendar.to_dict() == {
        "version": 1,
        "timezone": "Europe/Amsterdam",
        "observe_public_holidays": False,
        "weekly_hours": {
            "0": [
                {"start": "08:30:00", "end": "12:00:00"},
                {"start": "13:00:00", "end": "17:00:00"},
            ]
        },
        "closures": ["2026-01-02", "2026-06-12"],
        "extra_openings": {"2026-06-13": [{"start": "10:00:00", "end": "14:00:00.000500"}]},
    }
    assert BusinessCalendar.from_dict(calendar.to_dict()) == calendar


@pytest.mark.parametrize(
    "snapshot",
    [
        {"version": 2, "weekly_hours": {}},
        {"weekly_hours": {"0": [{"start": "17:00", "end": "08:30"}]}},
        {"weekly_hours": {"9": [{"start": "08:30", "end": "17:00"}]}},
        {"weekly_hours": {"0": [{"start": "08:30"}]}},
        {"weekly_hours": {"0": "08:30-17:00"}},
        {"weekly_hours": {}, "closures": ["2026-13-01"]},
        {"weekly_hours": {}, "timezone": "Mars/Olympus"},
        {"weekly_hours": {}, "colour": "blue"},
    ],
)
def test_bad_snapshots_are_rejected(snapshot: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        BusinessCalendar.from_dict(snapshot)
