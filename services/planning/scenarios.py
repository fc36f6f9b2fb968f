"""The agents of each scenario, staffed per weekday and interval with Erlang C at the service norm.

- separate: every gemeente its own agents, as many as it needs alone;
- pooled: one pool of agents for all gemeenten, as many as the pool needs;
- overflow: the pool's number split over the gemeenten by their calls, each agent answering its
  own gemeente first and the others' callers once they have waited past the overflow threshold.

Staffing follows the expected calls only: an event peak (services/planning/simulation.Peak)
comes on top, unplanned, to show what each way of working does with it.
"""

from __future__ import annotations

import math

from services.planning.profile import Profile
from services.planning.simulation import Agent, Load
from services.planning.staffing import Demand, Norm, agents_needed, pool

SCENARIOS = ("separate", "pooled", "overflow")
Requirement = list[list[int]]  # agents per weekday and interval


def agents_for(scenario: str, loads: list[Load], profile: Profile, norm: Norm) -> list[Agent]:
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
    tenants = [load.tenant for load in loads]
    if scenario == "separate":
        return [
            agent
            for load in loads
            for agent in _agents(load.tenant, _requirement([load], profile, norm), profile, {load.tenant})
        ]
    together = _requirement(loads, profile, norm)
    if scenario == "pooled":
        return _agents("pool", together, profile, set(tenants))
    shares = _split(together, loads, profile)
    return [
        agent
        for load, requirement in zip(loads, shares, strict=True)
        for agent in _agents(load.tenant, requirement, profile, {load.tenant}, set(tenants) - {load.tenant})
    ]


def _requirement(loads: list[Load], profile: Profile, norm: Norm) -> Requirement:
    """Agents per weekday and interval that the calls of `loads`, answered by one group, need."""
    requirement = []
    for weekday in range(len(profile.weekday_factors)):
        demand = pool([Demand(load.tenant, tuple(load.calls(profile, weekday)), load.aht_seconds) for load in loads])
        requirement.append(
            [agents_needed(calls, profile.interval_seconds, demand.aht_seconds, norm, None) for calls in demand.calls]
        )
    return requirement


def _split(together: Requirement, loads: list[Load], profile: Profile) -> list[Requirement]:
    """The pool's agents per interval over the gemeenten by their workload (largest remainder)."""
    work = [load.calls_per_day * load.aht_seconds for load in loads]
    total = sum(work) or 1.0
    per_load: list[Requirement] = [[[0] * len(profile.shares) for _ in together] for _ in loads]
    for weekday, row in enumerate(together):
        for slot, agents in enumerate(row):
            exact = [agents * w / total for w in work]
            whole = [math.floor(x) for x in exact]
            by_remainder = sorted(range(len(loads)), key=lambda i: whole[i] - exact[i])
            for i in by_remainder[: agents - sum(whole)]:
                whole[i] += 1
            for i, n in enumerate(whole):
                per_load[i][weekday][slot] = n
    return per_load


def _agents(
    prefix: str, requirement: Requirement, profile: Profile, tenants: set[str], overflow: set[str] | None = None
) -> list[Agent]:
    """Agent i works every interval that needs more than i agents; adjacent intervals make one shift."""
    interval, opens = profile.interval_seconds, profile.opens_minute * 60.0
    most = max((max(row, default=0) for row in requirement), default=0)
    agents = []
    for i in range(most):
        shifts = []
        for row in requirement:
            spans: list[tuple[float, float]] = []
            for slot, needed in enumerate(row):
                if needed <= i:
                    continue
                start, end = opens + slot * interval, opens + (slot + 1) * interval
                if spans and spans[-1][1] == start:
                    spans[-1] = (spans[-1][0], end)
                else:
                    spans.append((start, end))
            shifts.append(tuple(spans))
        agents.append(Agent(f"{prefix}-{i + 1}", frozenset(tenants), frozenset(overflow or ()), tuple(shifts)))
    return agents
