"""A roster from a CSV file, so `kcc simulate --roster` runs the agents a KCC really has.

One row per shift: `agent,tenants,overflow,weekdays,start,end`, e.g.
`anna,gm0268,gm0202 gm0200,monday tuesday,08:00,12:30`. Gemeenten and weekdays are separated by
spaces; `weekdays` may be `all`. An agent's shifts on one weekday may not overlap.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict

from services.planning.profile import WEEKDAYS
from services.planning.simulation import Agent

COLUMNS = ("agent", "tenants", "overflow", "weekdays", "start", "end")


def _seconds(text: str, where: str) -> float:
    hours, sep, minutes = text.strip().partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and int(minutes) < 60 and int(hours) <= 24):
        raise ValueError(f"{where}: a time is HH:MM, e.g. 08:30")
    return int(hours) * 3600.0 + int(minutes) * 60.0


def read_roster(text: str, tenants: set[str], weekdays: int = 5) -> list[Agent]:
    """The agents of the roster; every gemeente it names must be one that is simulated."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"the roster's header must be {','.join(COLUMNS)}")
    homes: dict[str, frozenset[str]] = {}
    overflow: dict[str, frozenset[str]] = {}
    shifts: dict[str, list[list[tuple[float, float]]]] = defaultdict(lambda: [[] for _ in range(weekdays)])
    for line, row in enumerate(reader, start=2):
        where = f"roster line {line}"
        name = (row["agent"] or "").strip()
        own, extra = frozenset((row["tenants"] or "").split()), frozenset((row["overflow"] or "").split())
        if not name or not own:
            raise ValueError(f"{where}: an agent needs a name and at least one gemeente")
        unknown = (own | extra) - tenants
        if unknown:
            raise ValueError(f"{where}: not simulated: {', '.join(sorted(unknown))}")
        if homes.setdefault(name, own) != own or overflow.setdefault(name, extra) != extra:
            raise ValueError(f"{where}: {name} has other gemeenten on another line")
        days = (row["weekdays"] or "").lower().split()
        if days == ["all"]:
            days = list(WEEKDAYS[:weekdays])
        if not days or any(d not in WEEKDAYS[:weekdays] for d in days):
            raise ValueError(f"{where}: weekdays are {' '.join(WEEKDAYS[:weekdays])} or all")
        start, end = _seconds(row["start"] or "", where), _seconds(row["end"] or "", where)
        if not start < end:
            raise ValueError(f"{where}: a shift ends after it starts")
        for day in days:
            spans = shifts[name][WEEKDAYS.index(day)]
            if any(start < e and s < end for s, e in spans):
                raise ValueError(f"{where}: {name} already works then on {day}")
            spans.append((start, end))
    if not homes:
        raise ValueError("the roster has no agents")
    return [Agent(name, homes[name], overflow[name], tuple(_merged(day) for day in shifts[name])) for name in homes]


def _merged(spans: list[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Shifts that follow on each other without a break are one: the agent stays logged on."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)
