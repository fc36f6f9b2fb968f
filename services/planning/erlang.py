"""Erlang C and Erlang A: the figures of one interval for K agents, and the smallest K for a target.

Erlang C (M/M/K) assumes callers wait for ever; Erlang A (M/M/K+M, Garnett-Mandelbaum-Reiman)
gives them exponential patience, so an understaffed interval loses callers instead of growing
a queue without end. Both are computed without factorials or powers that overflow: Erlang B by
its recursion, the queue states of Erlang A as ratios of the state with all agents busy, and
the incomplete beta function in log space, so pools of hundreds of agents stay exact.

`service_level` is the fraction of ALL offered calls answered within the target (an abandoned
call is not answered); `asa_seconds` the mean wait of the answered calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Queue states of Erlang A are summed until a term adds less than this to the total.
TAIL_EPSILON = 1e-17
# Erlang B below this: all agents busy at once never happens as far as a float can tell.
TINY = 1e-250
# Sums of Erlang A's states are scaled down together past this, so an overloaded interval cannot overflow.
HUGE = 1e200
# More agents than any contact centre has: a typing error, refused rather than computed for minutes.
MAX_AGENTS = 100_000
# More waiting callers than this in one state: patience too long for an overloaded interval.
MAX_QUEUE_STATES = 2_000_000


@dataclass(frozen=True, slots=True)
class Interval:
    """What one interval asks of the agents: arrivals per second, handling and patience in seconds."""

    arrival_rate: float
    aht_seconds: float
    answer_seconds: float
    patience_seconds: float | None = None  # None: Erlang C

    @classmethod
    def of(
        cls, calls: float, interval_seconds: float, aht: float, answer_seconds: float, patience: float | None = None
    ) -> Interval:
        if interval_seconds <= 0:
            raise ValueError("the interval must be longer than 0 seconds")
        return cls(calls / interval_seconds, aht, answer_seconds, patience).checked()

    def checked(self) -> Interval:
        if not (math.isfinite(self.arrival_rate) and self.arrival_rate >= 0):
            raise ValueError("calls must be a number of 0 or more")
        if not (math.isfinite(self.aht_seconds) and self.aht_seconds > 0):
            raise ValueError("the average handling time must be more than 0 seconds")
        if not (math.isfinite(self.answer_seconds) and self.answer_seconds >= 0):
            raise ValueError("the answer target must be 0 seconds or more")
        if self.patience_seconds is not None and not (
            math.isfinite(self.patience_seconds) and self.patience_seconds > 0
        ):
            raise ValueError("patience must be more than 0 seconds")
        return self

    @property
    def load(self) -> float:
        """Offered load in Erlangs: the agents kept busy if every call were answered."""
        return self.arrival_rate * self.aht_seconds


@dataclass(frozen=True, slots=True)
class Figures:
    model: str
    agents: int
    service_level: float
    p_wait: float
    asa_seconds: float | None  # None: the queue grows without end (Erlang C, load >= agents)
    occupancy: float
    abandon: float | None = None  # Erlang A only

    def as_dict(self) -> dict[str, object]:
        figures: dict[str, object] = {
            "model": self.model,
            "agents": self.agents,
            "service_level": round(self.service_level, 6),
            "p_wait": round(self.p_wait, 6),
            "asa_seconds": None if self.asa_seconds is None else round(self.asa_seconds, 4),
            "occupancy": round(self.occupancy, 6),
        }
        if self.abandon is not None:
            figures["abandon"] = round(self.abandon, 6)
        return figures


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of K agents and no queue, by the recursion B(k) = aB(k-1) / (k + aB(k-1))."""
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def figures(agents: int, interval: Interval) -> Figures:
    """Erlang A when the interval has a patience, Erlang C when it has none."""
    if not 1 <= agents <= MAX_AGENTS:
        raise ValueError(f"agents must be between 1 and {MAX_AGENTS:,}")
    if interval.patience_seconds is None:
        return erlang_c(agents, interval)
    return erlang_a(agents, interval)


def erlang_c(agents: int, interval: Interval) -> Figures:
    a, n = interval.load, agents
    if a >= n:  # the queue grows without end
        return Figures("erlang-c", n, 0.0, 1.0, None, 1.0)
    b = erlang_b(n, a)
    p_wait = n * b / (n - a * (1 - b))
    drain = (n - a) / interval.aht_seconds  # the rate at which a waiting queue empties
    service_level = 1 - p_wait * math.exp(-drain * interval.answer_seconds)
    asa = p_wait / drain if interval.arrival_rate else 0.0
    return Figures("erlang-c", n, service_level, p_wait, asa, a / n)


def erlang_a(agents: int, interval: Interval) -> Figures:
    """M/M/K+M. States above K are ratios q_k = P(K+k)/P(K) = prod_i lambda / (K mu + i theta); a call
    that finds k waiting is answered after k+1 stages of rates K mu + j theta (j = k+1..1, its
    own patience included), each passed with probability (K mu + (j-1) theta) / (K mu + j theta).
    The time through those stages is below T with probability I_x(k+1, K mu/theta + 1),
    x = 1 - exp(-theta T), as exp(-theta * time) is a product of Beta(K mu/theta + j, 1) variables."""
    assert interval.patience_seconds is not None
    lam, n = interval.arrival_rate, agents
    mu, theta = 1 / interval.aht_seconds, 1 / interval.patience_seconds
    if lam == 0:
        return Figures("erlang-a", n, 1.0, 0.0, 0.0, 0.0, 0.0)
    blocking = erlang_b(n, interval.load)
    if blocking < TINY:  # all K busy less often than a float can tell: nobody waits
        return Figures("erlang-a", n, 1.0, 0.0, 0.0, interval.load / n, 0.0)
    x = -math.expm1(-theta * interval.answer_seconds)
    b = n * mu / theta + 1
    # Sums over the states, relative to P(K) and rescaled together whenever they grow large:
    # fewer than K busy; the queue states k = 0, 1, ... (k = 0: all K busy, nobody waiting).
    idle = 1 / blocking - 1  # sum of P(j)/P(K) for j < K
    q, queued, mean_queue = 1.0, 1.0, 0.0  # q_k, sum of q_k, sum of k q_k
    answered = ans_wait = within = 0.0  # sums of q_k s_{k+1}, q_k m_{k+1}, q_k s_{k+1} I_x(k+1, b)
    s, m = 1.0, 0.0  # P(answered), E[wait; answered] for the stage count j
    incomplete = -math.expm1(b * math.log1p(-x)) if x < 1 else 1.0  # I_x(1, b)
    log_beta_term = math.lgamma(1 + b) - math.lgamma(2) - math.lgamma(b) + b * math.log1p(-x) if x < 1 else 0.0
    k = 0
    while True:
        j = k + 1
        rate = n * mu + j * theta
        passed = (n * mu + (j - 1) * theta) / rate
        s, m = passed * s, passed * (s / rate + m)
        answered += q * s
        ans_wait += q * m
        within += q * s * incomplete
        # I_x(j+1, b) = I_x(j, b) - Gamma(j+b) / (Gamma(j+1) Gamma(b)) x^j (1-x)^b
        if 0 < x < 1:
            incomplete = max(incomplete - math.exp(log_beta_term + j * math.log(x)), 0.0)
            log_beta_term += math.log(j + b) - math.log(j + 1)
        elif x == 0:
            incomplete = 0.0
        k += 1
        q *= lam / (n * mu + k * theta)
        queued += q
        mean_queue += k * q
        if q > HUGE:  # an overloaded interval with patient callers: keep the sums within a float
            idle, q, queued, mean_queue = idle / HUGE, q / HUGE, queued / HUGE, mean_queue / HUGE
            answered, ans_wait, within = answered / HUGE, ans_wait / HUGE, within / HUGE
        if q < TAIL_EPSILON * (idle + queued) and lam < n * mu + k * theta:
            break
        if k > MAX_QUEUE_STATES:
            raise ValueError("the queue would grow past 2,000,000 waiting: patience too long for this load")
    total = idle + queued
    p_wait = queued / total
    abandon = theta * (mean_queue / total) / lam
    answered_share = idle / total + answered / total
    asa = (ans_wait / total) / answered_share if answered_share > 0 else 0.0
    service_level = idle / total + within / total
    occupancy = lam * (1 - abandon) * interval.aht_seconds / n
    return Figures("erlang-a", n, min(service_level, 1.0), p_wait, asa, min(occupancy, 1.0), abandon)


def smallest_agents(interval: Interval, target: float, max_occupancy: float | None = None) -> Figures:
    """The fewest agents whose service level reaches `target` (and occupancy stays at or under
    `max_occupancy`); service level rises with every agent added, so the first one found is it."""
    if not 0 < target < 1:
        raise ValueError("the target must be a fraction between 0 and 1, e.g. 0.8")
    if max_occupancy is not None and not 0 < max_occupancy <= 1:
        raise ValueError("the maximum occupancy must be a fraction above 0 and at most 1, e.g. 0.85")
    a = interval.load
    start = max(1, math.floor(a) + 1 if interval.patience_seconds is None else 1)
    limit = min(math.ceil(a + 40 * math.sqrt(a) + 100), MAX_AGENTS)
    if max_occupancy is not None:
        start = max(start, math.ceil(a / max_occupancy))
        limit = max(limit, start + 100)
    for agents in range(start, limit + 1):
        found = figures(agents, interval)
        if found.service_level >= target and (max_occupancy is None or found.occupancy <= max_occupancy):
            return found
    raise ValueError(f"no number of agents up to {limit} reaches a service level of {target}")
