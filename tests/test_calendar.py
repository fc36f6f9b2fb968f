"""Working-hours arithmetic on the business calendar, with hand-computed answers on fixed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.common.calendar import (
    DEFAULT_CALENDAR,
    BusinessCalendar,
    OpeningPeriod,
    _wall_to_utc,
)
from services.common.public_holidays import curate_nl_holidays

AMS = ZoneInfo("Europe/Amsterdam")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def utc(moment: datetime) -> datetime:
    # Aware datetimes sharing a tzinfo compare by wall clock, ignoring fold; compare instants.
    return moment.astimezone(UTC)


def period(start: str, end: str) -> OpeningPeriod:
    return OpeningPeriod(time.fromisoformat(start), time.fromisoformat(end))


OFFICE = (period("08:30", "17:00"),)
SPLIT = (period("08:30", "12:00"), period("13:00", "17:00"))

# Weekdays with a lunch break, plus one Saturday opening during a four-day event in town.
TWO_PERIODS = BusinessCalendar(
    weekly_hours={weekday: SPLIT for weekday in range(5)},
    extra_openings={date(2026, 6, 13): (period("10:00", "14:00"),)},
)

# Open on Sunday nights only, to cross both DST switches inside a period.
SUNDAY_NIGHT = BusinessCalendar(
    weekly_hours={6: (period("00:00", "06:00"),)},
    observe_public_holidays=False,
)

# Periods with edges inside the spring gap (02:00-03:00) and the autumn repeat (02:00-03:00).
DST_EDGES = BusinessCalendar(
    weekly_hours={
        6: (period("00:00", "02:15"), period("02:30", "02:45"), period("02:50", "06:00")),
        2: SPLIT,
    },
    observe_public_holidays=False,
)


# --------------------------------------------------------------------------- known answers


def test_known_answer_friday_before_koningsdag() -> None:
    # Fri 24 Apr 2026 16:00-17:00 = 1h; Sat, Sun closed; Mon 27 Apr is Koningsdag;
    # Tue 28 Apr 08:30-17:00 = 8.5h (9.5h used); Wed 29 Apr 08:30 + 6.5h = 15:00.
    result = DEFAULT_CALENDAR.add_working_hours(at("2026-04-24T16:00:00+02:00"), 16)
    assert result == at("2026-04-29T15:00:00+02:00")
    assert result.isoformat() == "2026-04-29T15:00:00+02:00"
    assert result.tzinfo == AMS


def test_weekend_crossing_plain() -> None:
    # Fri 12 Jun 2026 16:00 + 2h: 1h on Friday, 1h on Monday 15 Jun.
    assert DEFAULT_CALENDAR.add_working_hours(at("2026-06-12T16:00:00+02:00"), 2) == at("2026-06-15T09:30:00+02:00")
    assert DEFAULT_CALENDAR.add_working_hours(at("2026-06-12T16:00:00+02:00"), timedelta(minutes=90)) == at(
        "2026-06-15T09:00:00+02:00"
    )
    assert DEFAULT_CALENDAR.add_working_hours(at("2026-06-12T16:00:00+02:00"), 1.5) == at("2026-06-15T09:00:00+02:00")


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        # Goede Vrijdag 3 Apr and Tweede Paasdag 6 Apr 2026 are closed.
        ("2026-04-02T16:00:00+02:00", 2, "2026-04-07T09:30:00+02:00"),
        # Hemelvaartsdag Thu 14 May 2026.
        ("2026-05-13T16:00:00+02:00", 2, "2026-05-15T09:30:00+02:00"),
        # Tweede Pinksterdag Mon 25 May 2026.
        ("2026-05-22T16:00:00+02:00", 2, "2026-05-26T09:30:00+02:00"),
        # Christmas 2025 on Thu/Fri: Wed 24 Dec to Mon 29 Dec.
        ("2025-12-24T16:00:00+01:00", 2, "2025-12-29T09:30:00+01:00"),
        # Christmas 2026 on Fri/Sat, then the weekend, Nieuwjaarsdag 2027 on a Friday.
        ("2026-12-24T16:00:00+01:00", 2, "2026-12-28T09:30:00+01:00"),
        ("2026-12-31T16:00:00+01:00", 2, "2027-01-04T09:30:00+01:00"),
        # Bevrijdingsdag Mon 5 May 2025 is a lustrum: closed.
        ("2025-05-02T16:00:00+02:00", 2, "2025-05-06T09:30:00+02:00"),
        # Bevrijdingsdag Tue 5 May 2026 is not: open.
        ("2026-05-04T16:00:00+02:00", 2, "2026-05-05T09:30:00+02:00"),
        # A whole working week: Mon 08:30 + 42.5h ends at Friday closing, not Monday opening.
        ("2026-06-08T08:30:00+02:00", 42.5, "2026-06-12T17:00:00+02:00"),
    ],
)
def test_holiday_crossings(start: str, hours: float, expected: str) -> None:
    assert DEFAULT_CALENDAR.add_working_hours(at(start), hours) == at(expected)


def test_bevrijdingsdag_only_in_lustrum_years() -> None:
    assert not DEFAULT_CALENDAR.is_working_day(date(2025, 5, 5))
    assert DEFAULT_CALENDAR.is_working_day(date(2026, 5, 5))
    assert DEFAULT_CALENDAR.is_working_day(date(2031, 5, 5))  # a Monday, not a lustrum
    assert date(2030, 5, 5) in DEFAULT_CALENDAR.public_holidays(2030)
    assert date(2026, 5, 5) not in DEFAULT_CALENDAR.public_holidays(2026)


def test_public_holidays_exact_sets() -> None:
    assert DEFAULT_CALENDAR.public_holidays(2025) == {
        date(2025, 1, 1): "Nieuwjaarsdag",
        date(2025, 4, 18): "Goede Vrijdag",
        date(2025, 4, 20): "Eerste Paasdag",
        date(2025, 4, 21): "Tweede Paasdag",
        date(2025, 4, 26): "Koningsdag",  # 27 April 2025 is a Sunday
        date(2025, 5, 5): "Bevrijdingsdag",
        date(2025, 5, 29): "Hemelvaartsdag",
        date(2025, 6, 8): "Eerste Pinksterdag",
        date(2025, 6, 9): "Tweede Pinksterdag",
        date(2025, 12, 25): "Eerste Kerstdag",
        date(2025, 12, 26): "Tweede Kerstdag",
    }
    assert DEFAULT_CALENDAR.public_holidays(2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 3): "Goede Vrijdag",
        date(2026, 4, 5): "Eerste Paasdag",
        date(2026, 4, 6): "Tweede Paasdag",
        date(2026, 4, 27): "Koningsdag",
        date(2026, 5, 14): "Hemelvaartsdag",
        date(2026, 5, 24): "Eerste Pinksterdag",
        date(2026, 5, 25): "Tweede Pinksterdag",
        date(2026, 12, 25): "Eerste Kerstdag",
        date(2026, 12, 26): "Tweede Kerstdag",
    }
    holidays_2030 = DEFAULT_CALENDAR.public_holidays(2030)
    assert len(holidays_2030) == 11
    assert holidays_2030[date(2030, 4, 19)] == "Goede Vrijdag"
    assert holidays_2030[date(2030, 5, 5)] == "Bevrijdingsdag"


def test_holiday_on_the_same_day_keeps_both_names() -> None:
    # 5 May 2005 was both Hemelvaartsdag and (lustrum) Bevrijdingsdag.
    assert DEFAULT_CALENDAR.public_holidays(2005)[date(2005, 5, 5)] == ("Hemelvaartsdag; Bevrijdingsdag")


def test_public_holidays_returns_a_copy() -> None:
    table = DEFAULT_CALENDAR.public_holidays(2026)
    table.clear()
    assert DEFAULT_CALENDAR.public_holidays(2026)


def test_curation_pins_the_rule_whatever_the_package_says() -> None:
    # A package version that lists Bevrijdingsdag every year, drops Goede Vrijdag and adds an
    # optional day must still yield exactly the KCC closure set.
    raw_2026 = {
        date(2026, 1, 1): "New Year's Day",
        date(2026, 4, 5): "Easter Sunday",
        date(2026, 4, 6): "Easter Monday",
        date(2026, 5, 5): "Liberation Day",
        date(2026, 12, 5): "Sinterklaas",
    }
    assert curate_nl_holidays(2026, raw_2026) == {
        date(2026, 1, 1): "Nieuwjaarsdag",
        date(2026, 4, 3): "Goede Vrijdag",
        date(2026, 4, 5): "Eerste Paasdag",
        date(2026, 4, 6): "Tweede Paasdag",
    }
    # A lustrum year without Bevrijdingsdag in the package gets it added.
    raw_2025 = {date(2025, 1, 1): "New Year's Day", date(2025, 4, 20): "Easter Sunday"}
    assert curate_nl_holidays(2025, raw_2025) == {
        date(2025, 1, 1): "Nieuwjaarsdag",
        date(2025, 4, 18): "Goede Vrijdag",
        date(2025, 4, 20): "Eerste Paasdag",
        date(2025, 5, 5): "Bevrijdingsdag",
    }
    # Years the package does not cover get nothing rather than a half-made list.
    assert curate_nl_holidays(1950, {}) == {}


def test_koningsdag_and_holidays_not_observed() -> None:
    assert not DEFAULT_CALENDAR.is_working_day(date(2026, 4, 27))
    assert DEFAULT_CALENDAR.periods_on(date(2026, 4, 27)) == ()
    secular = BusinessCalendar(weekly_hours={0: OFFICE}, observe_public_holidays=False)
    assert secular.is_working_day(date(2026, 4, 27))
    assert secular.public_holidays(2026) == DEFAULT_CALENDAR.public_holidays(2026)


# --------------------------------------------------------------------------- periods and starts


def test_periods_on() -> None:
    assert DEFAULT_CALENDAR.periods_on(date(2026, 6, 12)) == OFFICE
    assert DEFAULT_CALENDAR.periods_on(date(2026, 6, 13)) == ()
    assert TWO_PERIODS.periods_on(date(2026, 6, 12)) == SPLIT
    assert TWO_PERIODS.periods_on(date(2026, 6, 13)) == (period("10:00", "14:00"),)


@pytest.mark.parametrize(
    ("start", "hours", "expected"),
    [
        ("2026-06-08T07:00:00+02:00", 1, "2026-06-08T09:30:00+02:00"),  # before opening
        ("2026-06-08T11:30:00+02:00", 1, "2026-06-08T13:30:00+02:00"),  # across lunch
        ("2026-06-08T11:00:00+02:00", 1, "2026-06-08T12:00:00+02:00"),  # ends at a period end
        ("2026-06-08T12:30:00+02:00", 1, "2026-06-08T14:00:00+02:00"),  # starts in lunch
        ("2026-06-08T12:00:00+02:00", 1, "2026-06-08T14:00:00+02:00"),  # starts at period end
        ("2026-06-08T18:00:00+02:00", 1, "2026-06-09T09:30:00+02:00"),  # after closing
        ("2026-06-08T08:30:00+02:00", 7.5, "2026-06-08T17:00:00+02:00"),  # exactly one day
        ("2026-06-08T08:30:00+02:00", 8, "2026-06-09T09:00:00+02:00"),
        # Friday 12 Jun 16:00: 1h, then the Saturday event opening 10:00-14:00.
        ("2026-06-12T16:00:00+02:00", 2, "2026-06-13T11:00:00+02:00"),
        ("2026-06-12T16:00:00+02:00", 5, "2026-06-13T14:00:00+02:00"),
        ("2026-06-12T16:00:00+02:00", 6, "2026-06-15T09:30:00+02:00"),
    ],
)
def test_two_periods(start: str, hours: float, expected: str) -> None:
    assert TWO_PERIODS.add_working_hours(at(start), hours) == at(expected)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        ("2026-06-08T11:00:00+02:00", "2026-06-08T11:00:00+02:00"),  # open: itself
        ("2026-06-08T12:00:00+02:00", "2026-06-08T13:00:00+02:00"),  # period end: next opening
        ("2026-06-08T12:30:00+02:00", "2026-06-08T13:00:00+02:00"),  # lunch
        ("2026-06-08T07:00:00+02:00", "2026-06-08T08:30:00+02:00"),
        ("2026-06-14T10:00:00+02:00", "2026-06-15T08:30:00+02:00"),  # Sunday
    ],
)
def test_zero_hours_is_when_counting_begins(start: str, expected: str) -> None:
    assert TWO_PERIODS.add_working_hours(at(start), 0) == at(expected)
    assert TWO_PERIODS.add_working_hours(at(start), timedelta(0)) == at(expected)


def test_is_open_half_open_periods() -> None:
    assert TWO_PERIODS.is_open(at("2026-06-08T08:30:00+02:00"))
    assert TWO_PERIODS.is_open(at("2026-06-08T11:59:59.999999+02:00"))
    assert not TWO_PERIODS.is_open(at("2026-06-08T12:00:00+02:00"))
    assert not TWO_PERIODS.is_open(at("2026-06-08T12:30:00+02:00"))
    assert TWO_PERIODS.is_open(at("2026-06-08T13:00:00+02:00"))
    assert not TWO_PERIODS.is_open(at("2026-06-08T17:00:00+02:00"))
    assert not TWO_PERIODS.is_open(at("2026-06-14T10:00:00+02:00"))
    # Any zone works as input: 06:30Z is 08:30 in Amsterdam in summer.
    assert TWO_PERIODS.is_open(at("2026-06-08T06:30:00+00:00"))
    assert not TWO_PERIODS.is_open(at("2026-06-08T06:29:59+00:00"))


def test_input_in_another_zone_gives_result_in_calendar_zone() -> None:
    result = DEFAULT_CALENDAR.add_working_hours(at("2026-04-24T14:00:00+00:00"), 16)
    assert result == at("2026-04-29T15:00:00+02:00")
    assert result.utcoffset() == timedelta(hours=2)


def test_closures_and_extra_openings() -> None:
    calendar = BusinessCalendar(
        weekly_hours={weekday: OFFICE for weekday in range(5)},
        closures=frozenset({date(2026, 6, 12)}),  # Friday: staff day out
        extra_openings={
            date(2026, 6, 17): (period("12:00", "20:00"),),  # Wednesday: late opening only
            date(2026, 4, 27): (period("10:00", "12:00"),),  # opens on Koningsdag on purpose
        },
    )
    assert not calendar.is_working_day(date(2026, 6, 12))
    assert calendar.add_working_hours(at("2026-06-11T16:00:00+02:00"), 2) == at("2026-06-15T09:30:00+02:00")
    assert calendar.periods_on(date(2026, 6, 17)) == (period("12:00", "20:00"),)
    assert not calendar.is_open(at("2026-06-17T09:00:00+02:00"))
    assert calendar.add_working_hours(at("2026-06-17T09:00:00+02:00"), 1) == at("2026-06-17T13:00:00+02:00")
    assert calendar.add_working_hours(at("2026-06-16T16:00:00+02:00"), 8) == at("2026-06-17T19:00:00+02:00")
    assert calendar.is_working_day(date(2026, 4, 27))
    assert calendar.add_working_hours(at("2026-04-24T16:00:00+02:00"), 2) == at("2026-04-27T11:00:00+02:00")


# --------------------------------------------------------------------------- summer time


def test_ordinary_offsets_before_and_after_the_switches() -> None:
    # Spring: Fri 27 Mar 2026 is CET (+01:00), Mon 30 Mar is CEST (+02:00).
    result = DEFAULT_CALENDAR.add_working_hours(at("2026-03-27T16:00:00+01:00"), 2)
    assert result == at("2026-03-30T09:30:00+02:00")
    assert result.utcoffset() == timedelta(hours=2)
    # Autumn: Fri 23 Oct 2026 is CEST, Mon 26 Oct is CET.
    result = DEFAULT_CALENDAR.add_working_hours(at("2026-10-23T16:00:00+02:00"), 2)
    assert result == at("2026-10-26T09:30:00+01:00")
    assert result.utcoffset() == timedelta(hours=1)
    # Working time over the weekend is still exactly the two hours the office was open.
    assert DEFAULT_CALENDAR.working_time_between(
        at("2026-03-27T16:00:00+01:00"), at("2026-03-30T09:30:00+02:00")
    ) == timedelta(hours=2)


def test_spring_forward_inside_a_period() -> None:
    # Sun 29 Mar 2026: 02:00 CET jumps to 03:00 CEST, so 00:00-06:00 lasts five hours.
    start = at("2026-03-29T00:00:00+01:00")
    assert SUNDAY_NIGHT.add_working_hours(start, 1) == at("2026-03-29T01:00:00+01:00")
    assert SUNDAY_NIGHT.add_working_hours(start, 2) == at("2026-03-29T03:00:00+02:00")
    assert SUNDAY_NIGHT.add_working_hours(start, 2.5) == at("2026-03-29T03:30:00+02:00")
    assert SUNDAY_NIGHT.add_working_hours(start, 5) == at("2026-03-29T06:00:00+02:00")
    assert SUNDAY_NIGHT.add_working_hours(start, 6) == at("2026-04-05T01:00:00+02:00")
    assert SUNDAY_NIGHT.working_time_between(start, at("2026-03-29T12:00:00+02:00")) == timedelta(hours=5)
    assert not SUNDAY_NIGHT.is_open(at("2026-03-29T06:00:00+02:00"))
    assert SUNDAY_NIGHT.is_open(at("2026-03-29T05:59:59+02:00"))


def test_fall_back_inside_a_period() -> None:
    # Sun 25 Oct 2026: 03:00 CEST falls back to 02:00 CET, so 00:00-06:00 lasts seven hours.
    # Python never calls an ambiguous local time equal to another zone's datetime, so these
    # comparisons go through UTC.
    start = at("2026-10-25T00:00:00+02:00")
    first_0230 = SUNDAY_NIGHT.add_working_hours(start, 2.5)
    assert utc(first_0230) == utc(at("2026-10-25T02:30:00+02:00"))
    assert (first_0230.fold, first_0230.utcoffset()) == (0, timedelta(hours=2))
    three = SUNDAY_NIGHT.add_working_hours(start, 3)
    assert utc(three) == utc(at("2026-10-25T02:00:00+01:00"))  # the second 02:00
    assert (three.fold, three.utcoffset()) == (1, timedelta(hours=1))
    second_0230 = SUNDAY_NIGHT.add_working_hours(start, 3.5)
    assert utc(second_0230) == utc(at("2026-10-25T02:30:00+01:00"))
    assert second_0230.isoformat() == "2026-10-25T02:30:00+01:00"
    assert SUNDAY_NIGHT.add_working_hours(start, 7) == at("2026-10-25T06:00:00+01:00")
    assert SUNDAY_NIGHT.add_working_hours(start, timedelta(hours=7, microseconds=1)) == at(
        "2026-11-01T00:00:00.000001+01:00"
    )
    assert SUNDAY_NIGHT.working_time_between(
        at("2026-10-24T12:00:00+02:00"), at("2026-10-25T12:00:00+01:00")
    ) == timedelta(hours=7)
    assert SUNDAY_NIGHT.working_time_between(first_0230, second_0230) == timedelta(hours=1)


def test_wall_clock_mapping_in_gap_and_repeat() -> None:
    # A wall time skipped in spring maps to the switch itself; a repeated one to its first time.
    assert _wall_to_utc(date(2026, 3, 29), time(2, 30), AMS) == at("2026-03-29T01:00:00+00:00")
    assert _wall_to_utc(date(2026, 3, 29), time(3, 0), AMS) == at("2026-03-29T01:00:00+00:00")
    assert _wall_to_utc(date(2026, 3, 29), time(1, 59), AMS) == at("2026-03-29T00:59:00+00:00")
    assert _wall_to_utc(date(2026, 10, 25), time(2, 30), AMS) == at("2026-10-25T00:30:00+00:00")


def test_period_edges_inside_the_switch_hours() -> None:
    # Spring: 02:30-02:45 does not exist; 00:00-02:15 ends at the switch; 02:50-06:00 starts at it.
    assert DST_EDGES.working_time_between(
        at("2026-03-29T00:00:00+01:00"), at("2026-03-29T12:00:00+02:00")
    ) == timedelta(hours=2) + timedelta(hours=3)
    # Autumn: all three periods exist, the repeated hour counts once more after 02:50.
    assert DST_EDGES.working_time_between(
        at("2026-10-25T00:00:00+02:00"), at("2026-10-25T12:00:00+01:00")
    ) == timedelta(hours=2, minutes=15) + timedelta(minutes=15) + timedelta(hours=3, minutes=10) + timedelta(hours=1)
    # The day before the autumn switch stays ordinary.
    assert DST_EDGES.working_time_between(
        at("2026-10-18T00:00:00+02:00"), at("2026-10-18T12:00:00+02:00")
    ) == timedelta(hours=5, minutes=40)


# --------------------------------------------------------------------------- working days


@pytest.mark.parametrize(
    ("calendar", "start", "days", "expected"),
    [
        # Same clock time on the next working day; Koningsdag is skipped.
        (DEFAULT_CALENDAR, "2026-04-24T10:00:00+02:00", 1, "2026-04-28T10:00:00+02:00"),
        (DEFAULT_CALENDAR, "2026-04-24T16:00:00+02:00", 3, "2026-04-30T16:00:00+02:00"),
        # After closing: counting starts Tuesday 08:30, one day later is Tuesday's closing.
        (DEFAULT_CALENDAR, "2026-04-24T20:00:00+02:00", 1, "2026-04-28T17:00:00+02:00"),
        (DEFAULT_CALENDAR, "2026-04-25T10:00:00+02:00", 1, "2026-04-28T17:00:00+02:00"),
        # Before opening: the whole Friday counts, so one working day is Friday's closing.
        (DEFAULT_CALENDAR, "2026-04-24T07:00:00+02:00", 1, "2026-04-24T17:00:00+02:00"),
        (DEFAULT_CALENDAR, "2026-06-08T08:30:00+02:00", 5, "2026-06-12T17:00:00+02:00"),
        (DEFAULT_CALENDAR, "2026-06-08T08:31:00+02:00", 5, "2026-06-15T08:31:00+02:00"),
        # Zero days: when counting begins.
        (DEFAULT_CALENDAR, "2026-04-24T20:00:00+02:00", 0, "2026-04-28T08:30:00+02:00"),
        (DEFAULT_CALENDAR, "2026-04-24T10:00:00+02:00", 0, "2026-04-24T10:00:00+02:00"),
        # Across the spring switch: same wall-clock time, new offset.
        (DEFAULT_CALENDAR, "2026-03-27T10:00:00+01:00", 1, "2026-03-30T10:00:00+02:00"),
        (DEFAULT_CALENDAR, "2026-10-23T10:00:00+02:00", 1, "2026-10-26T10:00:00+01:00"),
        # Easter: Thu 2 Apr + 1 working day is Tue 7 Apr.
        (DEFAULT_CALENDAR, "2026-04-02T11:00:00+02:00", 1, "2026-04-07T11:00:00+02:00"),
        # Lunch start: counting begins 13:00, the next day at 13:00 is reported as 12:00.
        (TWO_PERIODS, "2026-06-08T12:30:00+02:00", 1, "2026-06-09T12:00:00+02:00"),
        (TWO_PERIODS, "2026-06-08T14:00:00+02:00", 1, "2026-06-09T14:00:00+02:00"),
        # Friday 16:00 + 1: Saturday's event opening closes at 14:00, so clamp to it.
        (TWO_PERIODS, "2026-06-12T16:00:00+02:00", 1, "2026-06-13T14:00:00+02:00"),
        (TWO_PERIODS, "2026-06-12T11:00:00+02:00", 1, "2026-06-13T11:00:00+02:00"),
        (TWO_PERIODS, "2026-06-12T16:00:00+02:00", 2, "2026-06-15T16:00:00+02:00"),
    ],
)
def test_add_working_days(calendar: BusinessCalendar, start: str, days: int, expected: str) -> None:
    assert calendar.add_working_days(at(start), days) == at(expected)


def test_add_working_days_gives_a_full_day_of_working_time() -> None:
    start = at("2026-04-24T16:00:00+02:00")
    deadline = DEFAULT_CALENDAR.add_working_days(start, 2)
    assert DEFAULT_CALENDAR.working_time_between(start, deadline) == timedelta(hours=17)


# --------------------------------------------------------------------------- working time


def test_working_time_between() -> None:
    a = at("2026-04-24T16:00:00+02:00")
    b = at("2026-04-29T15:00:00+02:00")
    assert DEFAULT_CALENDAR.working_time_between(a, b) == timedelta(hours=16)
    assert DEFAULT_CALENDAR.working_time_between(b, a) == -timedelta(hours=16)
    assert DEFAULT_CALENDAR.working_time_between(a, a) == timedelta(0)
    sat = at("2026-04-25T10:00:00+02:00")
    assert DEFAULT_CALENDAR.working_time_between(sat, at("2026-04-26T10:00:00+02:00")) == (timedelta(0))
    assert TWO_PERIODS.working_time_between(
        at("2026-06-08T11:00:00+02:00"), at("2026-06-08T14:00:00+02:00")
    ) == timedelta(hours=2)


INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2027, 12, 31),
    timezones=st.sampled_from([UTC, AMS]),
)
DURATIONS = st.integers(min_value=0, max_value=120 * 3600 * 10**6).map(lambda us: timedelta(microseconds=us))
CALENDARS = st.sampled_from([DEFAULT_CALENDAR, TWO_PERIODS, SUNDAY_NIGHT, DST_EDGES])


@settings(deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, duration=DURATIONS)
def test_working_time_between_inverts_add_working_hours(
    calendar: BusinessCalendar, start: datetime, duration: timedelta
) -> None:
    end = calendar.add_working_hours(start, duration)
    assert utc(end) >= utc(start)
    assert end.tzinfo == AMS
    assert calendar.working_time_between(start, end) == duration
    assert calendar.working_time_between(end, start) == -duration


@settings(deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, other=INSTANTS)
def test_add_working_hours_finds_the_earliest_equivalent_moment(
    calendar: BusinessCalendar, start: datetime, other: datetime
) -> None:
    if utc(other) < utc(start):
        start, other = other, start
    elapsed = calendar.working_time_between(start, other)
    earliest = calendar.add_working_hours(start, elapsed)
    assert utc(earliest) <= utc(other) or elapsed == timedelta(0)
    assert calendar.working_time_between(start, earliest) == elapsed
    if elapsed > timedelta(0):
        assert calendar.working_time_between(earliest, other) == timedelta(0)


@settings(deadline=None)
@given(calendar=CALENDARS, start=INSTANTS, first=DURATIONS, second=DURATIONS)
def test_add_working_hours_composes(
    calendar: BusinessCalendar, start: datetime, first: timedelta, second: timedelta
) -> None:
    second += timedelta(microseconds=1)  # zero would jump to the next opening, by design
    middle = calendar.add_working_hours(start, first)
    assert utc(calendar.add_working_hours(middle, second)) == utc(calendar.add_working_hours(start, first + second))


@settings(deadline=None)
@given(
    calendar=CALENDARS,
    start=INSTANTS,
    later=st.integers(0, 14 * 24 * 3600),
    days=st.integers(0, 12),
)
def test_add_working_days_is_monotonic(calendar: BusinessCalendar, start: datetime, later: int, days: int) -> None:
    other = utc(start) + timedelta(seconds=later)
    early = utc(calendar.add_working_days(start, days))
    assert early <= utc(calendar.add_working_days(other, days))
    assert early >= utc(calendar.add_working_hours(start, 0))
    if days:
        assert calendar.working_time_between(start, early) > timedelta(0)


def test_add_working_days_from_the_repeated_autumn_hour_counts_from_its_end() -> None:
    # 26 October 2025, 02:28 in the second pass (CET) is later than 02:59 in the first (CEST)
    second_pass = datetime(2025, 10, 26, 1, 28, tzinfo=UTC)
    first_pass = datetime(2025, 10, 26, 0, 59, tzinfo=UTC)
    late = SUNDAY_NIGHT.add_working_days(second_pass, 1)
    assert late == datetime.fromisoformat("2025-11-02T03:00:00+01:00")
    assert SUNDAY_NIGHT.add_working_days(first_pass, 1) == datetime.fromisoformat("2025-11-02T02:59:00+01:00")
