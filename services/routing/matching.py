"""The in-memory heart of routing: queues of waiting contacts, agents, offers and the figures.

Pure and synchronous so it can be tested without servers: the matcher decides from it,
and services/routing/state.py applies each event of the stream to it.
Rules: within a queue, higher priority first, then longest waiting; the offer goes
to the longest-idle eligible agent; an agent of another tenant's pool becomes
eligible once the contact has waited past the overflow threshold.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from services.routing.days import DEFAULT_ZONE, DayOf, LocalDays
from services.routing.repeats import OpenCallback

# Abandons within this many seconds are short abandons (misdials, IVR drop-outs):
# counted apart and left out of the service level and the abandonment rate.
SHORT_ABANDON_SECONDS = 5.0
OFFER_TIMEOUT_SECONDS = 15.0
FINISHED = frozenset({"COMPLETED", "ABANDONED"})  # contact states nothing changes any more


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
    session: str = ""  # the desktop stream that is connected
    replica: str = ""  # the routing replica that holds it
    connected_at: float = 0.0  # when that stream opened: a replica starting later replays from there

    def free_on(self, channel: str) -> bool:
        used = sum(1 for c in self.active.values() if c == channel)
        return used < self.capacity.get(channel, 1) and not any(c != channel for c in self.active.values())

    def home(self, tenant: str) -> bool:
        return tenant in self.tenants


@dataclass(frozen=True, slots=True)
class Candidate:
    uri: str
    name: str
    score: float


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
    # As routed, so a retry and GetContact answer from the stream, not today's catalogue.
    product_name: str = ""
    handling: int = 0
    recognised: bool = False
    candidates: tuple[Candidate, ...] = ()
    refer_to: str = ""  # the body the question is for when it is not the gemeente's
    question_words: tuple[str, ...] = ()  # the question as kept for agents' corrections (corrections.py)
    question_hash: str = ""
    open_callbacks: tuple[OpenCallback, ...] = ()
    day: int = 0  # the tenant's local day it was routed on: the figures of that day count it


@dataclass(frozen=True)
class Offer:
    contact: str
    agent: str
    expires_at: float
    overflow: bool


@dataclass(slots=True)
class QueueFigures:
    """One queue's counts for one day (the tenant's local day the contacts were routed on):
    running sums only, so they stay the same size however many contacts the day brings."""

    day: int = 0
    answered: int = 0
    answered_within: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    offered: int = 0
    overflowed: int = 0
    repeat_contacts: int = 0
    answer_wait_total: float = 0.0
    target_seconds: int = 20
    target_percent: int = 80
    referrals: dict[str, int] = field(default_factory=dict)  # body -> contacts referred there


class Router:
    """The state, and the rules that change it.

    `match` and `expired_offers` only decide (the leader publishes their decisions); every
    other method applies one event and checks that it still holds, so a decision that lost a
    race in the stream (a withdrawn contact, an agent who went on break) changes nothing, the
    same on every replica.
    """

    def __init__(self, offer_timeout: float = OFFER_TIMEOUT_SECONDS, day_of: DayOf | None = None) -> None:
        self.offer_timeout = offer_timeout
        self.day_of = day_of or LocalDays(lambda _tenant: DEFAULT_ZONE).day_of
        self.contacts: dict[str, ContactState] = {}  # every contact of the replay window, finished ones too
        # the waiting ones by (tenant, queue), so matching and figures never scan all contacts
        self.queued: dict[tuple[str, str], dict[str, ContactState]] = defaultdict(dict)
        self.offered: set[str] = set()  # contacts with an offer out, so time-outs need no full scan
        self.agents: dict[str, AgentState] = {}
        self.figures: dict[tuple[str, str], QueueFigures] = defaultdict(QueueFigures)
        # (agent's home tenant, queue) -> (day, contacts of other tenants offered to its pool)
        self.overflow_in: dict[tuple[str, str], tuple[int, int]] = {}

    # Contacts ---------------------------------------------------------------

    def enqueue(self, contact: ContactState) -> bool:
        """Adds a contact; False when it was already known (a replayed or retried route)."""
        if contact.name in self.contacts:
            return False
        self.contacts[contact.name] = contact
        if contact.state == "QUEUED":
            self.queued[(contact.tenant, contact.queue)][contact.name] = contact
        contact.day = self.day_of(contact.tenant, contact.enqueued_at)
        key = (contact.tenant, contact.queue)
        fig = self.figures[key]
        if contact.day > fig.day:  # the first contact of a new day starts its figures
            fig = self.figures[key] = QueueFigures(contact.day, target_percent=fig.target_percent)
        fig.target_seconds = contact.answer_target_seconds
        if fig.day == contact.day:
            fig.offered += 1
            fig.repeat_contacts += contact.repeat_contact
            if contact.refer_to:
                fig.referrals[contact.refer_to] = fig.referrals.get(contact.refer_to, 0) + 1
        return True

    def _counted(self, contact: ContactState) -> QueueFigures | None:
        """The figures that count the contact: those of its queue, while they are of its day."""
        fig = self.figures[(contact.tenant, contact.queue)]
        return fig if fig.day == contact.day else None

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

    def abandon(self, name: str, now: float) -> str:
        """The caller hung up; returns the agent whose offer this revokes ("" if none)."""
        contact = self.contacts.get(name)
        if contact is None or contact.state not in ("QUEUED", "OFFERED"):
            return ""
        revoked = ""
        if contact.state == "OFFERED":
            revoked = contact.agent
            self._clear_offer(contact)
        self._set_state(contact, "ABANDONED")
        fig = self._counted(contact)
        if fig is not None and now - contact.enqueued_at < SHORT_ABANDON_SECONDS:
            fig.short_abandoned += 1
        elif fig is not None:
            fig.abandoned += 1
        return revoked

    def forget_finished(self, before: float) -> None:
        """Drops finished contacts routed before `before`; the figures keep their counts. Contacts are
        held in routing order, so only the old head of the dict is read, not the whole day."""
        finished = []
        for name, contact in self.contacts.items():
            if contact.enqueued_at >= before:
                break
            if contact.state in FINISHED:
                finished.append(name)
        for name in finished:
            del self.contacts[name]

    # Agents -----------------------------------------------------------------

    def upsert_agent(self, agent: AgentState) -> None:
        existing = self.agents.get(agent.name)
        if existing is not None:
            agent.state, agent.state_since, agent.idle_since = existing.state, existing.state_since, existing.idle_since
            agent.connected, agent.active, agent.offer = existing.connected, existing.active, existing.offer
            agent.session, agent.replica, agent.connected_at = existing.session, existing.replica, existing.connected_at
        self.agents[agent.name] = agent

    def connect(self, name: str, session: str, now: float, replica: str = "") -> str:
        """A desktop stream opened: the agent is AVAILABLE. Returns the session it replaces ("" if none)."""
        agent = self.agents.get(name)
        if agent is None:
            return ""
        replaced = agent.session if agent.connected and agent.session != session else ""
        agent.connected, agent.session, agent.replica, agent.connected_at = True, session, replica, now
        self.set_state(name, "AVAILABLE", now)
        return replaced

    def disconnect(self, name: str, session: str, now: float) -> str:
        """The desktop stream of `session` closed (an older session's close changes nothing).
        Returns the contact whose offer this revokes ("" if none)."""
        agent = self.agents.get(name)
        if agent is None or not agent.connected or agent.session != session:
            return ""
        agent.connected = False
        return self.set_state(name, "OFFLINE", now)

    def set_state(self, name: str, state: str, now: float) -> str:
        """Returns the contact whose offer this revokes ("" if none); AVAILABLE needs a desktop."""
        agent = self.agents.get(name)
        if agent is None or (state == "AVAILABLE" and not agent.connected):
            return ""
        if agent.state != state:
            agent.state, agent.state_since = state, now
            if state == "AVAILABLE":
                agent.idle_since = now
        revoked = ""
        if state != "AVAILABLE" and agent.offer:
            revoked = agent.offer
            self._requeue(self.contacts[agent.offer], agent)
        return revoked

    # Offers: decisions ------------------------------------------------------

    def match(self, now: float) -> list[Offer]:
        """The offers that can be made now, each agent at most one; changes nothing."""
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
            offers.append(Offer(contact.name, agent.name, now + self.offer_timeout, not agent.home(contact.tenant)))
        return offers

    def expired_offers(self, now: float) -> list[Offer]:
        """Offers past their time-out; changes nothing."""
        return [
            Offer(c.name, c.agent, c.offer_expires, False)
            for c in (self.contacts[n] for n in self.offered)
            if c.state == "OFFERED" and c.offer_expires <= now
        ]

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

    # Offers: applied --------------------------------------------------------

    def offer(self, contact_name: str, agent_name: str, now: float) -> bool:
        """Applies an offer if the contact still waits and the agent is still free for it."""
        contact = self.contacts.get(contact_name)
        agent = self.agents.get(agent_name)
        if (
            contact is None
            or agent is None
            or contact.state != "QUEUED"
            or not agent.connected
            or agent.state != "AVAILABLE"
            or agent.offer
            or agent.name in contact.declined_by
            or not agent.free_on(contact.channel)
        ):
            return False
        self._set_state(contact, "OFFERED")
        contact.agent = agent.name
        contact.offer_expires = now + self.offer_timeout
        if not agent.home(contact.tenant) and not contact.overflowed:
            contact.overflowed = True
            fig = self._counted(contact)
            if fig is not None:
                fig.overflowed += 1
            for home in agent.tenants:
                day = self.day_of(home, now)
                counted_day, count = self.overflow_in.get((home, contact.queue), (day, 0))
                self.overflow_in[(home, contact.queue)] = (day, count + 1 if counted_day == day else 1)
        agent.offer = contact.name
        self.offered.add(contact.name)
        return True

    def _holds_offer(self, contact: ContactState | None, agent_name: str) -> bool:
        return contact is not None and contact.state == "OFFERED" and contact.agent == agent_name

    def accept(self, agent_name: str, contact_name: str, now: float) -> bool:
        contact = self.contacts.get(contact_name)
        if not self._holds_offer(contact, agent_name):
            return False
        assert contact is not None
        agent = self.agents[agent_name]
        agent.offer = ""
        self.offered.discard(contact.name)
        agent.active[contact.name] = contact.channel
        self._set_state(contact, "CONNECTED")
        contact.answered_at = now
        fig = self._counted(contact)
        wait = now - contact.enqueued_at
        if fig is not None:
            fig.answered += 1
            fig.answer_wait_total += wait
            fig.answered_within += wait <= contact.answer_target_seconds
        if not any(agent.free_on(ch) for ch in (agent.channels or {contact.channel})):
            agent.state, agent.state_since = "BUSY", now
        return True

    def reject(self, agent_name: str, contact_name: str) -> bool:
        contact = self.contacts.get(contact_name)
        if not self._holds_offer(contact, agent_name):
            return False
        assert contact is not None
        contact.declined_by.add(agent_name)
        self._requeue(contact, self.agents[agent_name])
        return True

    def expire_offer(self, contact_name: str, agent_name: str, now: float) -> bool:
        """The offer timed out: the contact goes back, the agent is made not ready."""
        contact = self.contacts.get(contact_name)
        if not self._holds_offer(contact, agent_name):
            return False
        assert contact is not None
        agent = self.agents[agent_name]
        contact.declined_by.add(agent.name)
        self._requeue(contact, agent)
        agent.state, agent.state_since = "BREAK", now
        return True

    def complete(self, agent_name: str, contact_name: str, now: float) -> bool:
        contact = self.contacts.get(contact_name)
        agent = self.agents.get(agent_name)
        if contact is None or agent is None or contact.state != "CONNECTED" or contact.agent != agent_name:
            return False
        agent.active.pop(contact_name, None)
        self._set_state(contact, "COMPLETED")
        if agent.state == "BUSY":
            agent.state, agent.state_since = "AVAILABLE", now
        agent.idle_since = now
        return True

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
        today = self.day_of(tenant, now)
        overflow_in = {q: n for (t, q), (day, n) in list(self.overflow_in.items()) if t == tenant and day == today}
        queues = {q for (t, q) in list(self.figures) if t == tenant} | overflow_in.keys()
        result: list[dict[str, float | int | str]] = []
        for queue in sorted(queues):
            fig = self.figures.get((tenant, queue)) or QueueFigures(today)
            if fig.day != today:  # nothing routed to this queue today yet
                fig = QueueFigures(today, target_seconds=fig.target_seconds, target_percent=fig.target_percent)
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
                    "average_speed_of_answer_seconds": fig.answer_wait_total / fig.answered if fig.answered else 0.0,
                    "abandoned": fig.abandoned,
                    "short_abandoned": fig.short_abandoned,
                    "abandonment_rate": fig.abandoned / counted if counted else 0.0,
                    "agents_available": available,
                    "agents_eligible": eligible,
                    "overflowed": fig.overflowed,
                    "overflowed_in": overflow_in.get(queue, 0),
                    "repeat_contacts": fig.repeat_contacts,
                    "target_seconds": fig.target_seconds,
                    "target_percent": fig.target_percent,
                }
            )
        return result

    def referrals(self, tenant: str, queue: str, now: float) -> dict[str, int]:
        """Today's contacts of the queue that were another body's, by body (a copy)."""
        fig = self.figures.get((tenant, queue))
        return dict(fig.referrals) if fig is not None and fig.day == self.day_of(tenant, now) else {}


def _matching_order(contact: ContactState) -> tuple[int, float]:
    """Higher priority first, then longest waiting."""
    return (-contact.priority, contact.enqueued_at)
