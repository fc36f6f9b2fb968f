"""Erlang C against published figures, Erlang A against an exact birth-death computation written
here independently, large pools, the five-gemeenten pooling saving, and the `kcc plan` commands."""

from __future__ import annotations

import json
import math

import pytest

from services.cli import main
from services.planning.erlang import Interval, figures, smallest_agents
from services.planning.staffing import Demand, Norm, plan

PUBLISHED = Interval.of(100, 1800, 180, 20)  # 100 calls in 30 minutes, AHT 180 s, T = 20 s


def test_erlang_c_matches_the_published_figures_for_14_agents() -> None:
    found = figures(14, PUBLISHED)
    assert found.model == "erlang-c"
    assert found.p_wait == pytest.approx(0.1741, abs=5e-5)
    assert found.service_level == pytest.approx(0.8884, abs=5e-5)
    assert found.asa_seconds == pytest.approx(7.84, abs=5e-3)
    assert found.occupancy == pytest.approx(0.714, abs=5e-4)


def test_the_smallest_number_of_agents_reaches_the_target_and_one_fewer_does_not() -> None:
    assert smallest_agents(PUBLISHED, 0.8).agents == 14
    assert figures(13, PUBLISHED).service_level < 0.8 <= figures(14, PUBLISHED).service_level
    assert smallest_agents(PUBLISHED, 0.95).agents == 16
    # a ceiling on occupancy can ask for more agents than the service level does
    assert smallest_agents(PUBLISHED, 0.8, max_occupancy=0.65).agents == 16


def test_too_few_agents_for_the_load_give_no_finite_wait() -> None:
    found = figures(10, PUBLISHED)  # 10 Erlang on 10 agents
    assert (found.p_wait, found.service_level, found.asa_seconds) == (1.0, 0.0, None)


def exact_erlang_a(n: int, lam: float, aht: float, patience: float, t: float) -> dict[str, float]:
    """M/M/n+M the long way: the stationary distribution of the birth-death chain, truncated where
    it is negligible, and for each state an arriving caller may find, the caller's own chain
    (k waiting ahead; ahead ones leave by service or abandonment, the caller by its own patience)
    integrated to time t by uniformization."""
    mu, theta = 1 / aht, 1 / patience
    top = n + 600
    weights = [1.0]
    for j in range(1, top + 1):
        death = min(j, n) * mu + max(j - n, 0) * theta
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    pi = [w / total for w in weights]
    p_wait = sum(pi[n:])
    abandon = theta * sum((j - n) * pi[j] for j in range(n, top + 1)) / lam
    # the caller's chain: k = 0..K waiting ahead; forward at n mu + k theta (from 0: served), gone at theta
    k_max = top - n
    forward = [n * mu + k * theta for k in range(k_max + 1)]
    uniform = max(forward) + theta
    within = [0.0] * (k_max + 1)  # u_m(k): served within m jumps of the uniformized chain, from k
    served = [0.0] * (k_max + 1)  # P(served by time t | k): sum over m of Poisson(m; uniform t) u_m(k)
    log_poisson = -uniform * t
    for m in range(1, int(uniform * t + 12 * math.sqrt(uniform * t) + 30)):
        within = [
            forward[k] / uniform * (1.0 if k == 0 else within[k - 1]) + (1 - (forward[k] + theta) / uniform) * within[k]
            for k in range(k_max + 1)
        ]
        log_poisson += math.log(uniform * t) - math.log(m)
        weight = math.exp(log_poisson)
        served = [served[k] + weight * within[k] for k in range(k_max + 1)]
    service_level = sum(pi[:n]) + sum(pi[n + k] * served[k] for k in range(k_max + 1))
    # ASA: jumps of the uniformized chain until served, each 1/uniform long on average; by first jump,
    # s(k) = f s(k-1) + stay s(k) and g(k) = E[jumps; served] = f (s(k-1) + g(k-1)) + stay (s(k) + g(k))
    s_prev, g_prev, answered, answered_jumps = 1.0, 0.0, sum(pi[:n]), 0.0
    for k in range(k_max + 1):
        f = forward[k] / uniform
        stay = 1 - f - theta / uniform
        s_k = f * s_prev / (1 - stay)
        g_k = (f * (s_prev + g_prev) + stay * s_k) / (1 - stay)
        answered += pi[n + k] * s_k
        answered_jumps += pi[n + k] * g_k
        s_prev, g_prev = s_k, g_k
    asa = answered_jumps / uniform / answered
    return {"p_wait": p_wait, "abandon": abandon, "service_level": service_level, "asa": asa, "answered": answered}


@pytest.mark.parametrize(
    ("agents", "calls", "patience"),
    [(14, 100, 120.0), (12, 100, 300.0), (9, 100, 60.0), (20, 180, 90.0)],
)
def test_erlang_a_matches_an_exact_birth_death_computation(agents: int, calls: float, patience: float) -> None:
    interval = Interval.of(calls, 1800, 180, 20, patience)
    found = figures(agents, interval)
    exact = exact_erlang_a(agents, calls / 1800, 180, patience, 20)
    assert found.model == "erlang-a"
    assert found.p_wait == pytest.approx(exact["p_wait"], abs=1e-9)
    assert found.abandon == pytest.approx(exact["abandon"], abs=1e-9)
    assert found.service_level == pytest.approx(exact["service_level"], abs=1e-7)
    assert found.asa_seconds == pytest.approx(exact["asa"], abs=1e-6)
    assert 1 - found.abandon == pytest.approx(exact["answered"], abs=1e-9)  # type: ignore[operator]
    assert found.occupancy == pytest.approx(calls / 1800 * (1 - exact["abandon"]) * 180 / agents, abs=1e-9)


def test_erlang_a_with_endless_patience_is_erlang_c() -> None:
    found = figures(14, Interval.of(100, 1800, 180, 20, patience=1e9))
    assert found.service_level == pytest.approx(0.8884, abs=5e-5)
    assert found.p_wait == pytest.approx(0.1741, abs=5e-5)
    assert found.asa_seconds == pytest.approx(7.84, abs=5e-3)


def test_large_pools_stay_exact() -> None:
    """500 agents: the naive a^k / k! overflows a float; log-space sums in the test agree."""
    load, n = 480.0, 500
    interval = Interval(load / 180, 180, 20)
    log_terms = [k * math.log(load) - math.lgamma(k + 1) for k in range(n)]
    log_top = n * math.log(load) - math.lgamma(n + 1) + math.log(n / (n - load))
    peak = max([*log_terms, log_top])
    below = sum(math.exp(x - peak) for x in log_terms)
    top = math.exp(log_top - peak)
    p_wait = top / (below + top)
    found = figures(n, interval)
    assert found.p_wait == pytest.approx(p_wait, rel=1e-9)
    assert found.service_level == pytest.approx(1 - p_wait * math.exp(-(n - load) / 180 * 20), rel=1e-9)
    abandoning = figures(n, Interval(load / 180, 180, 20, 300.0))
    assert 0 < abandoning.abandon < 0.01 and 0 < abandoning.service_level <= 1  # type: ignore[operator]
    huge = Interval(2000 / 180, 180, 20)  # 2,000 Erlang
    agents = smallest_agents(huge, 0.8).agents
    assert 2000 < agents < 2100
    assert figures(agents - 1, huge).service_level < 0.8 <= figures(agents, huge).service_level


def test_many_agents_for_few_calls_is_no_division_by_zero() -> None:
    """Erlang B for 500 agents and 1 call underflows to 0: nobody waits."""
    for patience in (None, 120.0):
        found = figures(500, Interval.of(1, 1800, 180, 20, patience))
        assert (found.service_level, found.p_wait) == (1.0, 0.0)
        assert found.occupancy == pytest.approx(0.1 / 500)


def test_an_overloaded_interval_with_patient_callers_stays_finite() -> None:
    """444 Erlang on 5 agents, patience 15 minutes: the queue holds thousands, whose weights overflow a
    float unless scaled; the agents are all busy and the rest of the callers hang up."""
    found = figures(5, Interval(444 / 100, 100, 20, 924.0))
    assert found.occupancy == pytest.approx(1.0, abs=1e-6)
    assert found.abandon == pytest.approx(1 - 5 / 444, abs=1e-6)
    assert 0 <= found.service_level < 0.01 and found.p_wait == pytest.approx(1.0)


FIVE = [("gm0268", 220_000), ("gm0344", 150_000), ("gm0200", 40_000), ("gm0202", 40_000), ("gm0203", 25_000)]


def test_five_gemeenten_need_32_agents_apart_and_24_pooled() -> None:
    demands = [Demand(t, (calls / 250 * 0.12,), 300) for t, calls in FIVE]
    result = plan(demands, ["peak hour"], 3600, Norm(20, 0.8))
    assert result.apart == {"gm0268": [12], "gm0344": [9], "gm0200": [4], "gm0202": [4], "gm0203": [3]}
    assert result.pooled == [24]
    assert result.summary()["saving"] == 8


def last_json(capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])  # type: ignore[no-any-return]


def test_kcc_plan_erlang_prints_the_figures_as_its_last_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["plan", "erlang", "--calls", "100", "--interval-seconds", "1800", "--aht", "180"]
    assert main([*argv, "--answer-seconds", "20", "--target", "0.8"]) == 0
    found = last_json(capsys)
    assert set(found) == {"model", "agents", "service_level", "p_wait", "asa_seconds", "occupancy"}
    assert (found["model"], found["agents"]) == ("erlang-c", 14)
    assert found["p_wait"] == pytest.approx(0.1741, abs=5e-5)
    assert main([*argv, "--agents", "14", "--patience", "120"]) == 0
    found = last_json(capsys)
    assert found["model"] == "erlang-a" and found["agents"] == 14
    assert found["abandon"] == pytest.approx(exact_erlang_a(14, 100 / 1800, 180, 120, 20)["abandon"], abs=1e-6)


def test_kcc_plan_shows_the_pooling_saving(capsys: pytest.CaptureFixture[str]) -> None:
    tenants = [arg for t, calls in FIVE for arg in ("--tenant", f"{t}={calls}")]
    assert main(["plan", *tenants, "--working-days", "250", "--peak-hour-share", "0.12", "--aht", "300"]) == 0
    summary = last_json(capsys)
    assert (summary["apart"], summary["pooled"], summary["saving"]) == (32, 24, 8)
    assert main(["plan", *tenants]) == 0  # a whole day per half hour, from the shipped profile
    day = last_json(capsys)
    assert day["intervals"] == 18 and day["apart"] == 32 and day["pooled"] == 24
    assert 0.2 < day["saving_share"] < 0.35  # type: ignore[operator]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plan", "erlang", "--calls", "-1", "--aht", "180"], "calls must be"),
        (["plan", "erlang", "--calls", "100", "--aht", "0"], "handling time"),
        (["plan", "erlang", "--calls", "100", "--aht", "180", "--target", "1.5"], "target"),
        (["plan", "erlang", "--calls", "100", "--aht", "180", "--agents", "0"], "agents must be"),
        (["plan", "erlang", "--calls", "100", "--aht", "180", "--patience", "-5"], "patience"),
        (["plan", "--tenant", "gm0268"], "GEMEENTE=CALLS_PER_YEAR"),
        (["plan", "--tenant", "gm0268=1", "--tenant", "gm0268=2"], "once"),
        (["plan", "--tenant", "gm0268=1e12"], "calls a year"),
        (["plan"], "name the gemeenten"),
        (["plan", "--from-history", "--tenant", "gm0268=1"], "leave out --tenant"),
    ],
)
def test_bad_input_gets_a_clear_error(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err
