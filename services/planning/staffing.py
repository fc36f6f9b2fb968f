"""Agents per interval for each gemeente apart and for all of them as one pool, and the saving.

Pooling saves because one pool's random peaks and troughs partly cancel: the agents a pool needs
grow with its load plus a margin that grows only with the square root of the load.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.planning.erlang import Interval, smallest_agents


@dataclass(frozen=True, slots=True)
class Demand:
    """One gemeente's expected calls per interval, with its handling time and its callers' patience."""

    tenant: str
    calls: tuple[float, ...]
    aht_seconds: float
    patience_seconds: float | None = None  # None: plan with Erlang C


@dataclass(frozen=True, slots=True)
class Norm:
    """The service norm: `target` of calls answered within `answer_seconds`."""

    answer_seconds: float
    target: float
    max_occupancy: float | None = None


@dataclass(frozen=True)
class Plan:
    labels: list[str]
    interval_seconds: float
    apart: dict[str, list[int]]  # agents per interval, per gemeente planned alone
    pooled: list[int]

    def apart_total(self) -> list[int]:
        return [sum(agents) for agents in zip(*self.apart.values(), strict=True)]

    def summary(self) -> dict[str, object]:
        """Peak agents and agent-hours, apart and pooled, and what the pool saves."""
        hours = self.interval_seconds / 3600
        apart, pooled = self.apart_total(), self.pooled
        return {
            "intervals": len(self.labels),
            "interval_seconds": self.interval_seconds,
            "tenants": {tenant: max(agents) for tenant, agents in self.apart.items()},
            "apart": max(apart),
            "pooled": max(pooled),
            "saving": max(apart) - max(pooled),
            "agent_hours_apart": round(sum(apart) * hours, 2),
            "agent_hours_pooled": round(sum(pooled) * hours, 2),
            "saving_share": round(1 - sum(pooled) / sum(apart), 4) if sum(apart) else 0.0,
        }


def agents_needed(calls: float, interval_seconds: float, aht: float, norm: Norm, patience: float | None) -> int:
    """The fewest agents that reach the norm for `calls` in the interval; none when nobody calls."""
    if calls <= 0:
        return 0
    interval = Interval.of(calls, interval_seconds, aht, norm.answer_seconds, patience)
    return smallest_agents(interval, norm.target, norm.max_occupancy).agents


def pool(demands: list[Demand]) -> Demand:
    """All gemeenten as one: calls added, handling time and patience weighted by calls."""
    if not demands:
        raise ValueError("planning needs at least one gemeente")
    total = sum(sum(d.calls) for d in demands) or 1.0
    calls = tuple(sum(per) for per in zip(*(d.calls for d in demands), strict=True))
    aht = sum(d.aht_seconds * sum(d.calls) for d in demands) / total
    patience = None
    if all(d.patience_seconds is not None for d in demands):
        patience = sum((d.patience_seconds or 0.0) * sum(d.calls) for d in demands) / total
    return Demand("pool", calls, aht or demands[0].aht_seconds, patience)


def plan(demands: list[Demand], labels: list[str], interval_seconds: float, norm: Norm) -> Plan:
    if any(len(d.calls) != len(labels) for d in demands):
        raise ValueError("every gemeente needs calls for each interval")
    if len({d.tenant for d in demands}) != len(demands):
        raise ValueError("each gemeente may be named once")
    apart = {
        d.tenant: [agents_needed(c, interval_seconds, d.aht_seconds, norm, d.patience_seconds) for c in d.calls]
        for d in demands
    }
    together = pool(demands)
    pooled = [
        agents_needed(c, interval_seconds, together.aht_seconds, norm, together.patience_seconds)
        for c in together.calls
    ]
    return Plan(labels, interval_seconds, apart, pooled)
