"""A discrete-event simulation of the KCC in virtual time that drives routing's own Router.

Calls arrive, agents log on and off, callers hang up; after every event that can make an offer
possible (a call, a call past its overflow threshold, an agent free) the router's own `match(now)`
decides who gets which waiting call, as the live matcher asks it (services/routing/leader.py);
each decision is applied through `offer` and `accept`, and calls end through `complete` and
`abandon`, the methods routing applies its events with. The clock is the simulation's, passed as
`now`: no rule is copied here, so a change in matching.py changes what this simulation shows.
Agents answer an offer at once, so no offer times out.

Arrivals are Poisson with a rate per interval (calls per day x weekday factor x the interval's
share of the day); handling times lognormal (or exponential), patience exponential. Day d of the
run is a working day with weekday d mod 5; virtual time is seconds since the start of day 0.
"""

from __future__ import annotations

import heapq
import math
import random
from collections import defaultdict
from dataclasses import dataclass, field

from services.planning.profile import Profile
from services.routing.matching import AgentState, ContactState, Router

DAY = 86400.0
# A waiting caller at closing time is still answered: agents log off once nobody they serve waits,
# looking again this often.
LOG_OFF_RETRY_SECONDS = 60.0
QUEUE = "kcc"

# event kinds, in the order they are handled at the same instant (agents log on before the first calls)
_DAY, _SHIFT_ON, _DONE, _ABANDON, _ARRIVE, _WAKE, _SHIFT_OFF = range(7)
# after these an offer may be possible: a call came or crossed its overflow threshold, an agent came free
_MAY_MATCH = frozenset({_SHIFT_ON, _DONE, _ARRIVE, _WAKE})


@dataclass(frozen=True, slots=True)
class Load:
    """One gemeente's calls and how they behave."""

    tenant: str
    calls_per_day: float  # an average working day
    aht_seconds: float
    patience_seconds: float | None = None  # None: nobody hangs up
    handling_sigma: float | None = 0.6  # shape of the lognormal handling time; None: exponential
    answer_seconds: float = 20.0
    overflow_after: float = 20.0  # seconds before agents with this gemeente as overflow may answer (live: the target)
    shares: tuple[float, ...] = ()  # its own day shape (measured); empty: the profile's

    def calls(self, profile: Profile, weekday: int) -> list[float]:
        """Expected calls per interval of the profile on `weekday`."""
        if not self.shares:
            return profile.calls(self.calls_per_day, weekday)
        return [self.calls_per_day * profile.weekday_factors[weekday] * share for share in self.shares]


@dataclass(frozen=True, slots=True)
class Peak:
    """Extra calls for one gemeente on some days, e.g. a four-day event: calls x factor."""

    tenant: str
    first_day: int
    days: int
    factor: float


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent with home gemeenten, overflow gemeenten and a shift: (start, end) seconds of the day per weekday."""

    name: str
    tenants: frozenset[str]
    overflow_tenants: frozenset[str] = frozenset()
    shifts: tuple[tuple[tuple[float, float], ...], ...] = ()  # indexed by weekday


@dataclass(slots=True)
class Tally:
    """One gemeente's calls in one interval of one day, and the agent time of its home agents."""

    offered: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    overflowed: int = 0
    wait_seconds: float = 0.0
    busy_seconds: float = 0.0
    staffed_seconds: float = 0.0


@dataclass
class Result:
    profile: Profile
    days: int
    tallies: dict[tuple[str, int, int], Tally] = field(default_factory=lambda: defaultdict(Tally))
    calls: int = 0
    events: int = 0
    agent_seconds: float = 0.0  # all agents' logged-on time, each counted once
    busy_seconds: float = 0.0
    logged_on: dict[int, float] = field(default_factory=lambda: defaultdict(float))  # interval -> agent seconds

    def tenants(self) -> list[str]:
        return sorted({t for t, _d, _s in self.tallies})

    def total(self, tenant: str | None = None) -> Tally:
        """All intervals of all days added up, for one gemeente or (busy and staffed time aside) all."""
        out = Tally()
        for (t, _d, _s), tally in self.tallies.items():
            if tenant is None or t == tenant:
                _add(out, tally)
        return out


def _add(into: Tally, tally: Tally) -> None:
    into.offered += tally.offered
    into.answered += tally.answered
    into.answered_within += tally.answered_within
    into.abandoned += tally.abandoned
    into.overflowed += tally.overflowed
    into.wait_seconds += tally.wait_seconds
    into.busy_seconds += tally.busy_seconds
    into.staffed_seconds += tally.staffed_seconds


class Simulation:
    def __init__(
        self,
        loads: list[Load],
        agents: list[Agent],
        profile: Profile,
        days: int,
        seed: int = 1,
        peaks: tuple[Peak, ...] = (),
    ) -> None:
        if days < 1:
            raise ValueError("simulate at least one day")
        if not loads:
            raise ValueError("simulate at least one gemeente")
        if any(load.shares and len(load.shares) != len(profile.shares) for load in loads):
            raise ValueError("a gemeente's own day shape needs one share per interval of the profile")
        self.loads = {load.tenant: load for load in loads}
        self.agents = {agent.name: agent for agent in agents}
        self.profile, self.days, self.peaks = profile, days, peaks
        self.random = random.Random(seed)
        self.router = Router()
        self.result = Result(profile, days)
        self._events: list[tuple[float, int, int, str]] = []  # time, kind, order, name
        self._order = 0
        self._arrived: dict[str, tuple[str, int, int, float]] = {}  # contact -> tenant, day, slot, time
        self._on_since: dict[str, float] = {}
        self._answered_at: dict[str, float] = {}
        self._serving: dict[str, str] = {}  # agent -> contact
        self._leaving: set[str] = set()  # shift over, finishing the call in hand
        self._next_contact = 0
        for agent in agents:
            self.router.upsert_agent(AgentState(agent.name, agent.tenants, agent.overflow_tenants))

    # -- running --------------------------------------------------------------------------------

    def run(self) -> Result:
        for day in range(self.days):
            self._push(day * DAY, _DAY, str(day))
        events = self._events
        while events:
            now, kind, _order, name = heapq.heappop(events)
            self.result.events += 1
            if kind == _DAY:
                self._start_day(int(name), now)
            elif kind == _ARRIVE:
                self._arrive(name, now)
            elif kind == _DONE:
                self._done(name, now)
            elif kind == _ABANDON:
                self._abandon(name, now)
            elif kind == _SHIFT_ON:
                self.router.connect(name, name, now)
                if name in self._leaving:
                    self._leaving.discard(name)  # back before the last call ended: one span
                else:
                    self._on_since[name] = now
            elif kind == _SHIFT_OFF:
                self._log_off(name, now)
            if kind in _MAY_MATCH:
                self._decide(now)
        return self.result

    def _push(self, at: float, kind: int, name: str) -> None:
        self._order += 1
        heapq.heappush(self._events, (at, kind, self._order, name))

    def _decide(self, now: float) -> None:
        """What the live matcher does on each pass, with the simulation's clock."""
        router = self.router
        for offer in router.match(now):
            if router.offer(offer.contact, offer.agent, now) and router.accept(offer.agent, offer.contact, now):
                self._answer(offer.contact, offer.agent, offer.overflow, now)

    # -- the day's arrivals and shifts ----------------------------------------------------------

    def _start_day(self, day: int, start: float) -> None:
        self.router.forget_finished(start - DAY)
        profile, weekday = self.profile, day % len(self.profile.weekday_factors)
        interval = profile.interval_seconds
        opens = start + profile.opens_minute * 60.0
        for tenant, load in self.loads.items():
            factor = self._peak_factor(tenant, day)
            for slot, calls in enumerate(load.calls(profile, weekday)):
                rate = calls * factor / interval
                if rate <= 0:
                    continue
                at, end = opens + slot * interval, opens + (slot + 1) * interval
                while True:
                    at += self.random.expovariate(rate)
                    if at >= end:
                        break
                    self._next_contact += 1
                    name = f"c{self._next_contact}"
                    self._arrived[name] = (tenant, day, slot, at)
                    self._push(at, _ARRIVE, name)
        for agent in self.agents.values():
            for on, off in agent.shifts[weekday] if weekday < len(agent.shifts) else ():
                self._push(start + on, _SHIFT_ON, agent.name)
                self._push(start + off, _SHIFT_OFF, agent.name)

    def _peak_factor(self, tenant: str, day: int) -> float:
        factor = 1.0
        for peak in self.peaks:
            if peak.tenant == tenant and peak.first_day <= day < peak.first_day + peak.days:
                factor *= peak.factor
        return factor

    # -- calls ----------------------------------------------------------------------------------

    def _arrive(self, name: str, now: float) -> None:
        tenant, day, slot, _at = self._arrived[name]
        load = self.loads[tenant]
        self.result.calls += 1
        self._tally(tenant, day, slot).offered += 1
        self.router.enqueue(
            ContactState(
                name=name,
                tenant=tenant,
                queue=QUEUE,
                department="",
                channel="PHONE",
                priority=0,
                enqueued_at=now,
                overflow_after=load.overflow_after,
                answer_target_seconds=int(load.answer_seconds),
            )
        )
        if load.patience_seconds is not None:
            self._push(now + self.random.expovariate(1 / load.patience_seconds), _ABANDON, name)
        if any(tenant in a.overflow_tenants for a in self.agents.values()):
            self._push(now + load.overflow_after, _WAKE, name)

    def _answer(self, name: str, agent: str, overflow: bool, now: float) -> None:
        tenant, day, slot, arrived = self._arrived[name]
        load, tally = self.loads[tenant], self._tally(tenant, day, slot)
        wait = now - arrived
        tally.answered += 1
        tally.wait_seconds += wait
        tally.answered_within += wait <= load.answer_seconds
        tally.overflowed += overflow
        self._answered_at[agent] = now
        self._serving[agent] = name
        if load.handling_sigma:
            sigma = load.handling_sigma
            handling = self.random.lognormvariate(math.log(load.aht_seconds) - sigma * sigma / 2, sigma)
        else:
            handling = self.random.expovariate(1 / load.aht_seconds)
        self._push(now + handling, _DONE, agent)

    def _done(self, agent: str, now: float) -> None:
        contact = self._serving.pop(agent)
        self.router.complete(agent, contact, now)
        self._agent_time(agent, self._answered_at.pop(agent), now, busy=True)
        self._arrived.pop(contact, None)
        if agent in self._leaving:
            self._leaving.discard(agent)
            self._agent_time(agent, self._on_since.pop(agent), now, busy=False)

    def _abandon(self, name: str, now: float) -> None:
        contact = self.router.contacts.get(name)
        if contact is None or contact.state != "QUEUED":
            return  # answered before the caller would have hung up
        self.router.abandon(name, now)
        tenant, day, slot, _at = self._arrived.pop(name)
        self._tally(tenant, day, slot).abandoned += 1

    def _log_off(self, agent: str, now: float) -> None:
        day = now // DAY
        profile = self.profile
        closing = day * DAY + (profile.opens_minute + len(profile.shares) * profile.interval_minutes) * 60
        last_chance = (day + 1) * DAY - LOG_OFF_RETRY_SECONDS
        if closing <= now < last_chance and self._still_needed(self.router.agents[agent]):
            self._push(now + LOG_OFF_RETRY_SECONDS, _SHIFT_OFF, agent)
            return
        self.router.disconnect(agent, agent, now)
        if agent in self._serving:
            self._leaving.add(agent)  # logged on until the call in hand ends
            return
        on = self._on_since.pop(agent, None)
        if on is not None:
            self._agent_time(agent, on, now, busy=False)

    def _still_needed(self, agent: AgentState) -> bool:
        """Callers of its gemeenten still wait after closing time."""
        return any(waiting and tenant in agent.tenants for (tenant, _q), waiting in self.router.queued.items())

    # -- figures --------------------------------------------------------------------------------

    def _tally(self, tenant: str, day: int, slot: int) -> Tally:
        return self.result.tallies[(tenant, day, slot)]

    def _agent_time(self, agent: str, start: float, end: float, busy: bool) -> None:
        """Adds an agent's busy or staffed span to the intervals it covers, for each of its home gemeenten."""
        profile = self.profile
        interval, slots = profile.interval_seconds, len(profile.shares)
        homes = self.agents[agent].tenants & self.loads.keys()
        if busy:
            self.result.busy_seconds += end - start
        else:
            self.result.agent_seconds += end - start
        while start < end:
            day = int(start // DAY)
            opens = day * DAY + profile.opens_minute * 60.0
            slot = min(max(int((start - opens) // interval), 0), slots - 1)
            slot_end = opens + (slot + 1) * interval if slot < slots - 1 else (day + 1) * DAY
            piece_end = min(end, slot_end)
            if not busy:
                self.result.logged_on[slot] += piece_end - start
            for tenant in homes:
                tally = self._tally(tenant, day, slot)
                if busy:
                    tally.busy_seconds += piece_end - start
                else:
                    tally.staffed_seconds += piece_end - start
            start = piece_end
