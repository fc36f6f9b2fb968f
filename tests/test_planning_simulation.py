"""The simulation through routing's own Router: agreement with Erlang A, routing's rules, the
scenarios with their CSV and charts, an event peak, and each weekday's day shape."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from services.cli import main
from services.planning.erlang import Interval, figures
from services.planning.profile import Profile, checked, default_profile
from services.planning.simulation import Agent, Load, Peak, Simulation
from services.planning.staffing import Demand, Norm, plan
from services.routing import matching

ONE_POOL_DAY = Profile(opens_minute=8 * 60, interval_minutes=480, shares=(1.0,), weekday_factors=(1.0,) * 5)
PROFILE = default_profile()
ALL_DAY = (((8 * 3600.0, 16 * 3600.0),),) * 5  # one shift a day, every weekday


def one_pool(agents: int, seed: int = 7, days: int = 30) -> Simulation:
    """100 calls per half hour, exponential handling (mean 180 s) and patience (mean 120 s), all day."""
    load = Load("gm0268", 1600, 180, 120, handling_sigma=None, answer_seconds=20)
    staff = [Agent(f"a{i}", frozenset({"gm0268"}), shifts=ALL_DAY) for i in range(agents)]
    return Simulation([load], staff, ONE_POOL_DAY, days=days, seed=seed)


def test_a_single_pool_agrees_with_erlang_a_within_a_percentage_point() -> None:
    result = one_pool(14).run()
    total = result.total()
    expected = figures(14, Interval.of(100, 1800, 180, 20, 120))
    assert total.offered > 45_000
    assert total.answered_within / total.offered == pytest.approx(expected.service_level, abs=0.01)
    assert total.abandoned / total.offered == pytest.approx(expected.abandon, abs=0.01)
    assert result.busy_seconds / result.agent_seconds == pytest.approx(expected.occupancy, abs=0.01)


def test_the_simulation_decides_with_routings_own_match(monkeypatch: pytest.MonkeyPatch) -> None:
    """No copy of the rules: a change in matching.Router.match shows in the simulation."""
    calls = []
    real = matching.Router.match

    def counting(self: matching.Router, now: float) -> list[matching.Offer]:
        calls.append(now)
        return real(self, now)

    monkeypatch.setattr(matching.Router, "match", counting)
    result = one_pool(14, days=1).run()
    assert result.total().answered > 0 and len(calls) >= result.total().answered
    assert calls == sorted(calls)  # virtual time only moves forward

    monkeypatch.setattr(matching.Router, "match", lambda self, now: [])
    silent = one_pool(14, days=1).run().total()
    assert silent.answered == 0 and silent.abandoned == silent.offered


def test_overflow_agents_answer_another_gemeente_only_after_its_threshold() -> None:
    """Agents of gm0344 with gm0268 as overflow; gm0268 has no agents of its own."""
    loads = [
        Load("gm0268", 300, 180, 600, None, 20, overflow_after=45.0),
        Load("gm0344", 100, 180, 600, None, 20, overflow_after=45.0),
    ]
    staff = [Agent(f"b{i}", frozenset({"gm0344"}), frozenset({"gm0268"}), ALL_DAY) for i in range(6)]
    result = Simulation(loads, staff, ONE_POOL_DAY, days=3, seed=2).run()
    helped, own = result.total("gm0268"), result.total("gm0344")
    assert helped.answered > 0 and helped.overflowed == helped.answered
    assert helped.answered_within == 0  # none answered before waiting 45 s > 20 s
    assert own.overflowed == 0 and own.answered_within > 0


def test_an_event_peak_adds_calls_on_its_days_only() -> None:
    load = Load("gm0268", 800, 180, 120, None, 20)
    staff = [Agent(f"a{i}", frozenset({"gm0268"}), shifts=ALL_DAY) for i in range(8)]
    result = Simulation([load], staff, ONE_POOL_DAY, 6, 3, (Peak("gm0268", 1, 4, 3.0),)).run()
    per_day = [sum(t.offered for (_t, d, _s), t in result.tallies.items() if d == day) for day in range(6)]
    quiet, busy = per_day[0] + per_day[5], sum(per_day[1:5])
    assert busy / 4 > 2.5 * quiet / 2


def test_kcc_simulate_writes_csv_and_charts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tenants = ["gm0268=220000", "gm0344=150000", "gm0200=40000", "gm0202=40000", "gm0203=25000"]
    argv = ["simulate", *(a for t in tenants for a in ("--tenant", t)), "--days", "2", "--seed", "5"]
    assert main([*argv, "--event", "gm0268:1:1:2", "--out", str(tmp_path)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    scenarios = report["scenarios"]
    assert set(scenarios) == {"separate", "pooled", "overflow"}
    # the staffing is the plan's (Monday and Tuesday); agents stay on to finish calls, so a little more
    planned = {"separate": 0.0, "pooled": 0.0}
    for weekday in (0, 1):
        demands = [
            Demand(t, tuple(PROFILE.calls(int(c) / 250, weekday)), 300) for t, c in (a.split("=") for a in tenants)
        ]
        day = plan(demands, PROFILE.labels(), PROFILE.interval_seconds, Norm(20, 0.8)).summary()
        planned["separate"] += day["agent_hours_apart"]  # type: ignore[operator]
        planned["pooled"] += day["agent_hours_pooled"]  # type: ignore[operator]
    for scenario in planned:
        assert planned[scenario] <= scenarios[scenario]["agent_hours"] < 1.05 * planned[scenario]
    assert scenarios["pooled"]["agent_hours"] < 0.8 * scenarios["separate"]["agent_hours"]
    assert scenarios["overflow"]["overflowed"] > 0 and scenarios["pooled"]["overflowed"] == 0
    with (tmp_path / "intervals.csv").open(encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["scenario"] for r in rows} == set(scenarios)
    assert {r["tenant"] for r in rows} == {t.split("=")[0] for t in tenants}
    assert sum(int(r["offered"]) for r in rows if r["scenario"] == "pooled") == scenarios["pooled"]["calls"]
    for row in rows:
        assert 0 <= float(row["service_level"]) <= 1 and 0 <= float(row["occupancy"]) <= 1
    for chart in ("service_level.png", "agents.png"):
        assert (tmp_path / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    written = ("intervals.csv", "service_level.png", "agents.png")
    assert sorted(report["written"]) == sorted(str(tmp_path / name) for name in written)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--event", "gm9999:0:1:2"], "not simulated"),
        (["--event", "gm0268:x"], "GEMEENTE:FIRST_DAY:DAYS:FACTOR"),
        (["--days", "0"], "--days"),
        (["--aht", "-1"], "more than 0"),
        (["--days", "5000", "--working-days", "0.1"], "simulate at most"),
    ],
)
def test_kcc_simulate_refuses_bad_input(extra: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--tenant", "gm0268=1000", *extra]) == 2
    assert message in capsys.readouterr().err


def test_arrivals_follow_each_weekdays_own_day_shape() -> None:
    """The shipped profile's Friday is busier in the morning than Monday."""
    load = Load("gm0268", 4000, 180, 30, None, 20)
    result = Simulation([load], [], PROFILE, days=5, seed=4).run()
    morning = {day: sum(t.offered for (_t, d, s), t in result.tallies.items() if d == day and s < 4) for day in (0, 4)}
    whole = {day: sum(t.offered for (_t, d, _s), t in result.tallies.items() if d == day) for day in (0, 4)}
    assert morning[4] / whole[4] == pytest.approx(sum(PROFILE.day_shares(4)[:4]), abs=0.02)
    assert morning[0] / whole[0] == pytest.approx(sum(PROFILE.day_shares(0)[:4]), abs=0.02)
    assert whole[4] == pytest.approx(4000 * 0.8, rel=0.05) and whole[0] == pytest.approx(4000 * 1.2, rel=0.05)


def test_a_profile_with_a_weekday_shape_of_the_wrong_length_is_refused() -> None:
    with pytest.raises(ValueError, match="one per interval"):
        checked(Profile(480, 240, (0.5, 0.5), (1.0,) * 5, ((1.0,), None, None, None, None)))


ROSTER = """agent,tenants,overflow,weekdays,start,end
anna,gm0268,gm0202,all,08:00,12:30
anna,gm0268,gm0202,all,12:30,17:00
bob,gm0202,,monday tuesday,08:00,17:00
"""


def test_kcc_simulate_runs_a_roster_of_agents_with_shifts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    argv = ["simulate", "--tenant", "gm0268=20000", "--tenant", "gm0202=10000", "--days", "2", "--roster", str(roster)]
    assert main(argv) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    (only,) = report["scenarios"].values()
    assert list(report["scenarios"]) == ["roster"]
    # two agents, 9 hours a day for two days (anna's two shifts are one), plus calls finished after 17:00
    assert 36 <= only["agent_hours"] < 37
    assert only["overflowed"] > 0  # anna takes Arnhem's callers once they waited past 20 s


@pytest.mark.parametrize(
    ("roster", "message"),
    [
        ("agent,tenants\n", "header"),
        (ROSTER + "carla,gm9999,,all,08:00,12:00\n", "not simulated"),
        (ROSTER + "bob,gm0202,,monday,12:00,13:00\n", "already works"),
        (ROSTER + "dirk,gm0268,,zondag,08:00,12:00\n", "weekdays are"),
        (ROSTER + "dirk,gm0268,,all,8h,12:00\n", "HH:MM"),
        (ROSTER + "dirk,gm0268,,all,12:00,08:00\n", "ends after it starts"),
        (ROSTER + "anna,gm0202,,friday,08:00,09:00\n", "other gemeenten"),
    ],
)
def test_a_bad_roster_gets_a_clear_error(
    roster: str, message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(roster, encoding="utf-8")
    argv = ["simulate", "--tenant", "gm0268=20000", "--tenant", "gm0202=10000", "--roster", str(path)]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_the_shipped_day_has_12_percent_of_its_calls_in_the_peak_hour() -> None:
    """The README's worked example assumes it; each weekday's day adds up to 1."""
    hours = [a + b for a, b in zip(PROFILE.shares, PROFILE.shares[1:], strict=False)]
    assert max(hours) == pytest.approx(0.12) and PROFILE.labels()[hours.index(max(hours))] == "09:00"
    for weekday in range(5):
        assert sum(PROFILE.day_shares(weekday)) == pytest.approx(1.0)
