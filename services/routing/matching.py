"""The in-memory heart of routing: queues of waiting contacts, agents, offers and the figures.

Pure and synchronous so it can be tested without servers; the service feeds it
events (its own, replayed from JetStream on start) and acts on what it decides.
Rules: within a queue, higher priority first, then longest waiting; the offer goes
to the longest-idle eligible agent; an agent of another tenant's pool becomes
eligible once the contact has waited past the overflow threshold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from statistics import fmean

# Abandons within this many seconds are short abandons (misdials, IVR drop-outs):
# counted apart and left out of the service level and the abandonment rate.
SHORT_ABANDON_SECONDS = 5.0
OFFER_TIMEOUT_SECONDS = 15.0


@dataclass(slots=True)
class AgentState:
    name: str
    tenants: frozenset[str]
    overflow_tenants: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()  # empty: all departments
    languages: frozenset[str] = frozenset()  # empty: any language
    channels: frozenset[str] = frozenset()  # empty: every channel
    capacity: dict[str, int] = field(default_factory=dict)  # per channel; default 1
    display_name: str = ""
    state: str = "OFFLINE"
    state_since: float = 0.0
    idle_since: float = 0.0
    connected: bool = False
    active: dict[str, str] = field(default_factory=dict)  # contact -> channel
    offer: str = ""  # contact currently offered to this agent

    def free_on(self, channel: str) -> bool:
        used = sum(1 for c in self.active.values() if c == channel)
        return used < self.capacity.get(channel, 1) and not any(c != channel for c in self.active.values())

    def home(self, tenant: str) -> bool:
        return tenant in self.tenants


@dataclass(slots=True)
class ContactState:
    name: str
    tenant: str
    queue: str
    department: str
    channel: str
    priority: int
    enqueued_at: float
    overflow_after: float
    answer_target_seconds: int
    product_uri: str = ""
    language: str = ""
    state: str = "QUEUED"
    agent: str = ""
    offer_expires: float = 0.0
    declined_by: set[str] = field(default_factory=set)
    overflowed: bool = False
    repeat_contact: bool = False
    answered_at: float = 0.0
    citizen_key: str = ""


@dataclass(frozen=True)
class Offer:
    contact: str
    agent: str
    expires_at: float
    overflow: bool


@dataclass(slots=True)
class QueueFigures:
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    offered: int = 0
    overflowed: int = 0
    repeat_contacts: int = 0
    answer_waits: list[float] = field(default_factory=list)
    target_seconds: int = 20
    target_percent: int = 80


class Router:
    def __init__(self, offer_timeout: float = OFFER_TIMEOUT_SECONDS) -> None:
        self.offer_timeout = offer_timeout
        self.contacts: dict[str, ContactState] = {}  # every contact of the replay window, finished ones too
        # the waiting ones by (tenant, queue), so matching and figures never scan all contacts
        self.queued: dict[tuple[str, str], dict[str, ContactState]] = defaultdict(dict)
        self.offered: set[str] = set()  # contacts with an offer out, so time-outs need no full scan
        self.agents: dict[str, AgentState] = {}
        self.figures: dict[tuple[str, str], QueueFigures] = defaultdict(QueueFigures)

    # Contacts ---------------------------------------------------------------

    def enqueue(self, contact: ContactState) -> bool:
        """Adds a contact; False when it was already known (a replayed or retried route)."""
        if contact.name in self.contacts:
            return False
        self.contacts[contact.name] = contact
        if contact.state == "QUEUED":
            self.queued[(contact.tenant, contact.queue)][contact.name] = contact
        fig = self.figures[(contact.tenant, contact.queue)]
        fig.target_seconds = contact.answer_target_seconds
        fig.offered += 1
        if contact.repeat_contact:
            fig.repeat_contacts += 1
        return True

    def waiting(self) -> list[ContactState]:
        return sorted((c for q in self.queued.values() for c in q.values()), key=_matching_order)

    def _set_state(self, contact: ContactState, state: str) -> None:
        """Every contact state change goes here, so the index of waiting contacts stays true."""
        waiting = self.queued[(contact.tenant, contact.queue)]
        if state == "QUEUED":
            waiting[contact.name] = contact
        else:
            waiting.pop(contact.name, None)
        contact.state = state

    def abandon(self, name: str, now: float) -> ContactState | None:
        contact = self.contacts.get(name)
        if contact is None or contact.state not in ("QUEUED", "OFFERED"):
            return contact
        if contact.state == "OFFERED":
            self._clear_offer(contact)
        self._set_state(contact, "ABANDONED")
        fig = self.figures[(contact.tenant, contact.queue)]
        if now - contact.enqueued_at < SHORT_ABANDON_SECONDS:
            fig.short_abandoned += 1
        else:
            fig.abandoned += 1
        return contact

    # Agents -----------------------------------------------------------------

    def upsert_agent(self, agent: AgentState) -> None:
        existing = self.agents.get(agent.name)
        if existing is not None:
            agent.state, agent.state_since, agent.idle_since = existing.state, existing.state_since, existing.idle_since
            agent.connected, agent.active, agent.offer = existing.connected, existing.active, existing.offer
        self.agents[agent.name] = agent

    def set_state(self, name: str, state: str, now: float) -> AgentState:
        agent = self.agents[name]
        if agent.state != state:
            agent.state, agent.state_since = state, now
            if state == "AVAILABLE":
                agent.idle_since = now
        if state != "AVAILABLE" and agent.offer:
            self._requeue(self.contacts[agent.offer], agent)
        return agent

    # Offers -----------------------------------------------------------------

    def match(self, now: float) -> list[Offer]:
        """Makes every offer that can be made now; each agent holds at most one offer."""
        offers: list[Offer] = []
        idle = [a for a in self.agents.values() if a.connected and a.state == "AVAILABLE" and not a.offer]
        if not idle:
            return offers  # the common case under load: nothing to sort
        # only queues that some idle agent could serve at all (home pool or overflow)
        reachable = [
            c
            for (tenant, _queue), waiting in self.queued.items()
            if waiting and any(a.home(tenant) or tenant in a.overflow_tenants for a in idle)
            for c in waiting.values()
        ]
        for contact in sorted(reachable, key=_matching_order):
            if not idle:
                break
            overflow_open = now - contact.enqueued_at >= contact.overflow_after
            candidates = [a for a in idle if self._eligible(a, contact, overflow_open)]
            if not candidates:
                continue
            home = [a for a in candidates if a.home(contact.tenant)]
            agent = min(home or candidates, key=lambda a: a.idle_since)
            idle.remove(agent)
            overflow = not agent.home(contact.tenant)
            self._set_state(contact, "OFFERED")
            contact.agent = agent.name
            contact.offer_expires = now + self.offer_timeout
            if overflow and not contact.overflowed:
                contact.overflowed = True
                self.figures[(contact.tenant, contact.queue)].overflowed += 1
            agent.offer = contact.name
            self.offered.add(contact.name)
            offers.append(Offer(contact.name, agent.name, contact.offer_expires, overflow))
        return offers

    def _eligible(self, agent: AgentState, contact: ContactState, overflow_open: bool) -> bool:
        return (
            agent.connected
            and agent.state == "AVAILABLE"
            and not agent.offer
            and agent.name not in contact.declined_by
            and (agent.home(contact.tenant) or (overflow_open and contact.tenant in agent.overflow_tenants))
            and (not agent.departments or contact.department in agent.departments)
            and (not agent.channels or contact.channel in agent.channels)
            and (not agent.languages or not contact.language or contact.language in agent.languages)
            and agent.free_on(contact.channel)
        )

    def eligible_agents(self, tenant: str, queue: str) -> tuple[int, int]:
        """(available now, eligible at all) agents for a queue, by home pool."""
        department = queue
        agents = list(self.agents.values())
        eligible = [a for a in agents if a.home(tenant) and (not a.departments or department in a.departments)]
        return sum(1 for a in eligible if a.connected and a.state == "AVAILABLE"), len(eligible)

    def accept(self, agent_name: str, contact_name: str, now: float) -> ContactState:
        contact = self.contacts[contact_name]
        agent = self.agents[agent_name]
        agent.offer = ""
        self.offered.discard(contact.name)
        agent.active[contact.name] = contact.channel
        self._set_state(contact, "CONNECTED")
        contact.answered_at = now
        fig = self.figures[(contact.tenant, contact.queue)]
        wait = now - contact.enqueued_at
        fig.answered += 1
        fig.answer_waits.append(wait)
        if wait <= contact.answer_target_seconds:
            fig.answered_within += 1
        if not any(agent.free_on(ch) for ch in (agent.channels or {contact.channel})):
            agent.state, agent.state_since = "BUSY", now
        return contact

    def reject(self, agent_name: str, contact_name: str) -> ContactState:
        contact = self.contacts[contact_name]
        contact.declined_by.add(agent_name)
        self._requeue(contact, self.agents[agent_name])
        return contact

    def expire_offers(self, now: float) -> list[Offer]:
        """Offers past their time-out: the contact goes back, the agent is made not ready."""
        expired = []
        for contact in [self.contacts[n] for n in self.offered]:
            if contact.state == "OFFERED" and contact.offer_expires <= now:
                agent = self.agents[contact.agent]
                expired.append(Offer(contact.name, agent.name, contact.offer_expires, False))
                contact.declined_by.add(agent.name)
                self._requeue(contact, agent)
                agent.state, agent.state_since = "BREAK", now
        return expired

    def complete(self, agent_name: str, contact_name: str, now: float) -> ContactState:
        contact = self.contacts[contact_name]
        agent = self.agents[agent_name]
        agent.active.pop(contact_name, None)
        self._set_state(contact, "COMPLETED")
        if agent.state == "BUSY":
            agent.state, agent.state_since = "AVAILABLE", now
        agent.idle_since = now
        return contact

    def forget_finished(self, before: float) -> None:
        """Drops finished contacts older than `before`; the figures keep their counts."""
        for name in [
            n for n, c in self.contacts.items() if c.state in ("COMPLETED", "ABANDONED") and c.enqueued_at < before
        ]:
            del self.contacts[name]

    def _requeue(self, contact: ContactState, agent: AgentState) -> None:
        agent.offer = ""
        self.offered.discard(contact.name)
        self._set_state(contact, "QUEUED")
        contact.agent, contact.offer_expires = "", 0.0

    def _clear_offer(self, contact: ContactState) -> None:
        self.offered.discard(contact.name)
        agent = self.agents.get(contact.agent)
        if agent is not None and agent.offer == contact.name:
            agent.offer = ""

    # Figures ----------------------------------------------------------------

    def queue_figures(self, tenant: str, now: float) -> list[dict[str, float | int | str]]:
        """Also read by the metrics exporter's thread: dicts are copied (one C call each, so under the
        GIL) before they are iterated, never iterated while the event loop may change them."""
        queues = {q for (t, q) in list(self.figures) if t == tenant}
        result: list[dict[str, float | int | str]] = []
        for queue in sorted(queues):
            fig = self.figures[(tenant, queue)]
            waiting = list(self.queued.get((tenant, queue), {}).values())
            counted = fig.answered + fig.abandoned
            available, eligible = self.eligible_agents(tenant, queue)
            result.append(
                {
                    "queue": queue,
                    "waiting": len(waiting),
                    "longest_wait_seconds": max((now - c.enqueued_at for c in waiting), default=0.0),
                    "offered": fig.offered,
                    "answered": fig.answered,
                    "answered_within_target": fig.answered_within,
                    "service_level": fig.answered_within / counted if counted else 1.0,
                    "average_speed_of_answer_seconds": fmean(fig.answer_waits) if fig.answer_waits else 0.0,
                    "abandoned": fig.abandoned,
                    "short_abandoned": fig.short_abandoned,
                    "abandonment_rate": fig.abandoned / counted if counted else 0.0,
                    "agents_available": available,
                    "agents_eligible": eligible,
                    "overflowed": fig.overflowed,
                    "repeat_contacts": fig.repeat_contacts,
                    "target_seconds": fig.target_seconds,
                    "target_percent": fig.target_percent,
                }
            )
        return result


def _matching_order(contact: ContactState) -> tuple[int, float]:
    """Higher priority first, then longest waiting."""
    return (-contact.priority, contact.enqueued_at)
