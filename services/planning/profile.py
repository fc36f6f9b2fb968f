"""When calls come: a day's calls per interval and each weekday's calls, for planning and simulation.

The shipped profile (services/data/planning/profile.json) is an assumed gemeente KCC day; a
profile measured from the platform's own contact events replaces it (services/planning/history.py).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from services.common.config import DATA

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@dataclass(frozen=True, slots=True)
class Profile:
    opens_minute: int  # minutes after midnight of the first interval
    interval_minutes: int
    shares: tuple[float, ...]  # of a day's calls, per interval; they add up to 1
    weekday_factors: tuple[float, ...]  # a weekday's calls relative to the average working day, Monday first
    weekday_shares: tuple[tuple[float, ...] | None, ...] = ()  # a weekday's own day shape (None: `shares`)

    @property
    def interval_seconds(self) -> float:
        return self.interval_minutes * 60.0

    def labels(self) -> list[str]:
        """Start time of each interval, e.g. 08:30."""
        starts = (self.opens_minute + i * self.interval_minutes for i in range(len(self.shares)))
        return [f"{m // 60:02d}:{m % 60:02d}" for m in starts]

    def day_shares(self, weekday: int | None = None) -> tuple[float, ...]:
        """The shape of `weekday`'s calls over the day (of the average day without one)."""
        if weekday is None:
            return self.shares
        own = self.weekday_shares[weekday] if weekday < len(self.weekday_shares) else None
        return own or self.shares

    def calls(self, calls_per_day: float, weekday: int | None = None) -> list[float]:
        """Expected calls per interval on a day with `calls_per_day` on average (on `weekday` if given)."""
        factor = 1.0 if weekday is None else self.weekday_factors[weekday]
        return [calls_per_day * factor * share for share in self.day_shares(weekday)]


def checked(profile: Profile) -> Profile:
    if profile.interval_minutes <= 0 or 24 * 60 % profile.interval_minutes:
        raise ValueError("a profile's interval must divide a day, e.g. 15, 30 or 60 minutes")
    for shares in (profile.shares, *(s for s in profile.weekday_shares if s is not None)):
        if len(shares) != len(profile.shares) or any(s < 0 for s in shares) or not math.isclose(sum(shares), 1.0):
            raise ValueError("a profile's shares of the day must be one per interval, 0 or more, adding up to 1")
    if not profile.shares:
        raise ValueError("a profile needs at least one interval")
    if profile.opens_minute + len(profile.shares) * profile.interval_minutes > 24 * 60:
        raise ValueError("a profile's intervals must end by midnight")
    if not profile.weekday_factors or any(f < 0 for f in profile.weekday_factors):
        raise ValueError("a profile needs a factor of 0 or more per working weekday")
    return profile


def default_profile() -> Profile:
    data = json.loads((DATA / "planning" / "profile.json").read_text(encoding="utf-8"))
    hours, minutes = (int(p) for p in data["opens"].split(":"))
    return checked(
        Profile(
            opens_minute=hours * 60 + minutes,
            interval_minutes=int(data["interval_minutes"]),
            shares=tuple(float(s) for s in data["shares"]),
            weekday_factors=tuple(float(f) for f in data["weekday_factors"]),
            weekday_shares=tuple(
                tuple(float(s) for s in data["weekday_shares"][day]) if day in data.get("weekday_shares", {}) else None
                for day in WEEKDAYS[: len(data["weekday_factors"])]
            ),
        )
    )
