"""Routing's state and the one function that changes it: `RoutingState.apply(event)`.

Every replica applies every contact, agent and matcher event of the stream, in stream
order, live and on replay alike, so every replica holds the same queues and offers and any
of them can take over the matcher. Handlers and the matcher never change the state
themselves: they publish an event and wait until the follower has applied it.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, timedelta

from google.protobuf.timestamp_pb2 import Timestamp

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as pb
from services.common.enums import AGENT_STATES, CHANNELS, CONTACT_STATES
from services.routing.catalogue import TenantCatalogue
from services.routing.days import DEFAULT_ZONE, LocalDays
from services.routing.matching import FINISHED, OFFER_TIMEOUT_SECONDS, AgentState, Candidate, ContactState, Router
from services.routing.repeats import OpenCallback, RepeatIndex

# Finished contacts older than this are forgotten, and a replica that starts replays at least
# this far back: 25 hours is the longest local day (the autumn clock change), so it replays every
# contact of today, which the queue figures count. It replays further back when a contact is
# still open, a desktop still connected or the matcher's term began before (`replay_from`).
REPLAY_WINDOW = timedelta(hours=25)
FORGET_EVERY_SECONDS = 60.0


def stamp(seconds: float) -> Timestamp:
    """Epoch seconds as a Timestamp, rounded to the microsecond exactly as `datetime.fromtimestamp` does
    (so a stamp read back and stamped again is unchanged), without building a datetime on the hot path."""
    frac, whole = math.modf(seconds)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    return Timestamp(seconds=int(whole), nanos=micros * 1000)


def seconds_of(ts: Timestamp) -> float:
    """A Timestamp as epoch seconds, equal to `ts.ToDatetime(UTC).timestamp()` without the datetime."""
    return (ts.seconds * 1_000_000 + ts.nanos // 1000) / 1_000_000


@dataclass(eq=False)
class Desktop:
    """An agent's desktop stream held open on this replica; `None` in its queue ends it."""

    session: str
    queue: asyncio.Queue[pb.ConnectAgentResponse | None] = field(default_factory=asyncio.Queue)
    offered: str = ""  # the last contact offered through this desktop, so that no offer is sent twice


class RoutingState:
    """What a replica knows: catalogues by tenant, entry points, the router, open callbacks, and
    the desktops connected here (the only part that differs between replicas)."""

    def __init__(self, offer_timeout: float = OFFER_TIMEOUT_SECONDS, replay_window: timedelta = REPLAY_WINDOW) -> None:
        self.replay_window = replay_window.total_seconds()
        self.catalogues: dict[str, TenantCatalogue] = {}
        self.entry_points: dict[tuple[str, str], str] = {}
        self.router = Router(offer_timeout, LocalDays(self.zone_of).day_of)
        self.repeats = RepeatIndex()
        self.changed = asyncio.Event()
        self.desktops: dict[str, Desktop] = {}
        # The fence of the matcher's current term: decisions stamped lower come from a stale leader.
        self.fence = 0
        self.term_began = 0.0
        self.refused_decisions = 0
        self._forgotten_at = 0.0
        # tenant -> (seconds, until): an overflow threshold set for the rest of a day
        self.overflow_thresholds: dict[str, tuple[int, float]] = {}

    def zone_of(self, tenant: str) -> str:
        """The tenant's time zone (its business calendar's): its figures count its local day."""
        held = self.catalogues.get(tenant)
        calendar = held.snapshot.calendar if held is not None else None
        return str(calendar.get("timezone") or DEFAULT_ZONE) if calendar else DEFAULT_ZONE

    def apply(self, env: events_pb2.Envelope) -> None:
        """Applies one event of the stream; the same live and on replay."""
        kind = env.WhichOneof("payload")
        at = seconds_of(env.occurred_at)
        if kind == "contact_routed":
            self._routed(env.contact_routed)
            if at - self._forgotten_at > FORGET_EVERY_SECONDS:
                self.router.forget_finished(at - self.replay_window)
                self._forgotten_at = at
        elif kind == "contact_changed":
            self._contact_changed(env.contact_changed, at)
        elif kind == "agent_changed":
            self._agent_changed(env.agent_changed, at)
        elif kind == "matcher_elected":
            self.fence, self.term_began = env.matcher_elected.fence, at
        elif kind == "callback_changed":
            self.repeats.apply(env.tenant, env.callback_changed)
        elif kind == "overflow_threshold_set":
            self._threshold_set(env.tenant, env.overflow_threshold_set)
        self.changed.set()

    def replay_from(self, now: float) -> float:
        """How far back a replica starting at `now` must read the stream to know all this one
        knows: the window, or the routing of a contact still open, the opening of a desktop still
        connected, or the start of the matcher's term, whichever is earliest."""
        start = now - self.replay_window
        for contact in self.router.contacts.values():  # in routing order; the old finished are forgotten
            if contact.enqueued_at >= start:
                break
            if contact.state not in FINISHED:
                start = contact.enqueued_at
                break
        connected = [a.connected_at for a in self.router.agents.values() if a.connected]
        return min(start, *connected, self.term_began or start)

    def _routed(self, e: events_pb2.ContactRouted) -> None:
        target = e.service_level_target
        self.router.enqueue(
            ContactState(
                name=e.contact,
                tenant=e.tenant,
                queue=e.queue,
                department=e.department,
                channel=CHANNELS.name(e.channel),
                priority=e.priority,
                enqueued_at=seconds_of(e.enqueue_time),
                overflow_after=float(self.overflow_threshold(e.tenant, seconds_of(e.enqueue_time)) or target.seconds),
                answer_target_seconds=target.seconds,
                product_uri=e.product_uri,
                language=e.language,
                repeat_contact=e.repeat_contact,
                citizen_key=e.citizen_key,
                product_name=e.product_name,
                handling=e.handling,
                recognised=e.recognised,
                candidates=tuple(Candidate(c.uri, c.name, c.score) for c in e.candidates),
                refer_to=e.refer_to,
                question_words=tuple(e.question_words),
                question_hash=e.question_hash,
                open_callbacks=tuple(
                    OpenCallback(
                        callback=o.callback,
                        department=o.department,
                        product_uri=o.product_uri,
                        deadline=o.deadline.ToDatetime() if o.HasField("deadline") else None,
                        status=o.status,
                    )
                    for o in e.open_callback_details
                ),
            )
        )
        self.router.figures[(e.tenant, e.queue)].target_percent = target.percent

    def _contact_changed(self, e: events_pb2.ContactChanged, at: float) -> None:
        router, change = self.router, e.change
        if change in ("offered", "offer_expired") and e.fence < self.fence:
            self.refused_decisions += 1  # a stale leader's decision
        elif change == "offered":
            if router.offer(e.contact, e.agent, at):
                self._push_offer(e.agent, router.contacts[e.contact])
        elif change == "offer_expired":
            if router.expire_offer(e.contact, e.agent, at):
                self._push(e.agent, pb.ConnectAgentResponse(offer_revoked=e.contact))
        elif change == "accepted":
            router.accept(e.agent, e.contact, at)
        elif change == "rejected":
            router.reject(e.agent, e.contact)
        elif change == "abandoned":
            revoked = router.abandon(e.contact, at)
            if revoked:
                self._push(revoked, pb.ConnectAgentResponse(offer_revoked=e.contact))
        elif change == "completed":
            router.complete(e.agent, e.contact, at)

    def overflow_threshold(self, tenant: str, at: float) -> int:
        """The threshold set for the tenant's day, or 0: the answer target of each contact's SLA policy."""
        seconds, until = self.overflow_thresholds.get(tenant, (0, 0.0))
        return seconds if at < until else 0

    def _threshold_set(self, tenant: str, e: events_pb2.OverflowThresholdSet) -> None:
        self.overflow_thresholds[tenant] = (e.seconds, seconds_of(e.expire_time))
        for contact in self.router.contacts.values():
            if contact.tenant == tenant and contact.state == "QUEUED":
                contact.overflow_after = float(e.seconds or contact.answer_target_seconds)

    def _agent_changed(self, e: events_pb2.AgentChanged, at: float) -> None:
        revoked = ""
        if e.change == "connected":
            self.router.connect(e.agent, e.session, at, e.replica)
            desktop = self.desktops.get(e.agent)
            if desktop is not None and desktop.session != e.session:
                desktop.queue.put_nowait(None)  # a newer session took over, here or on another replica
        elif e.change == "disconnected":
            revoked = self.router.disconnect(e.agent, e.session, at)
        elif e.change == "state":
            revoked = self.router.set_state(e.agent, AGENT_STATES.name(e.state) or "OFFLINE", at)
        if revoked:
            self._push(e.agent, pb.ConnectAgentResponse(offer_revoked=revoked))

    def _push(self, agent: str, message: pb.ConnectAgentResponse) -> None:
        desktop = self.desktops.get(agent)
        if desktop is not None:
            desktop.queue.put_nowait(message)

    def _push_offer(self, agent: str, contact: ContactState) -> None:
        desktop = self.desktops.get(agent)
        if desktop is not None:
            desktop.offered = contact.name
            desktop.queue.put_nowait(self.offer_message(contact))

    def offer_message(self, contact: ContactState) -> pb.ConnectAgentResponse:
        offer = pb.Offer(contact=self.contact_message(contact))
        offer.expire_time.CopyFrom(stamp(contact.offer_expires))
        return pb.ConnectAgentResponse(offer=offer)

    def contact_message(self, c: ContactState) -> pb.Contact:
        """The contact as routed and as it stands, from this state alone."""
        sla_target = common_pb2.ServiceLevelTarget(
            seconds=c.answer_target_seconds, percent=self.router.figures[(c.tenant, c.queue)].target_percent
        )
        return pb.Contact(
            name=c.name,
            tenant=f"tenants/{c.tenant}",
            channel=CHANNELS.number(c.channel),  # type: ignore[arg-type]
            product_uri=c.product_uri,
            product_name=c.product_name,
            department=f"tenants/{c.tenant}/departments/{c.department}",
            queue=c.queue,
            priority=c.priority,
            service_level_target=sla_target,
            handling=c.handling,  # type: ignore[arg-type]
            state=CONTACT_STATES.number(c.state),  # type: ignore[arg-type]
            enqueue_time=stamp(c.enqueued_at),
            agent=c.agent,
            overflowed=c.overflowed,
            open_callbacks=[
                pb.OpenCallbackRef(
                    callback=o.callback,
                    department=o.department,
                    product_uri=o.product_uri,
                    deadline=stamp(o.deadline.replace(tzinfo=UTC).timestamp()) if o.deadline else None,
                    status=o.status,
                )
                for o in c.open_callbacks
            ],
            repeat_contact=c.repeat_contact,
        )


def agent_from_message(name: str, msg: pb.Agent) -> AgentState:
    return AgentState(
        name=name,
        display_name=msg.display_name,
        tenants=frozenset(t.removeprefix("tenants/") for t in msg.tenants),
        overflow_tenants=frozenset(t.removeprefix("tenants/") for t in msg.overflow_tenants),
        departments=frozenset(msg.departments),
        languages=frozenset(msg.languages),
        channels=frozenset(CHANNELS.name(c) for c in msg.channels),
        capacity={CHANNELS.name(c.channel): c.capacity for c in msg.capacities},
    )


def agent_message(agent: AgentState) -> pb.Agent:
    return pb.Agent(
        name=agent.name,
        display_name=agent.display_name,
        tenants=[f"tenants/{t}" for t in sorted(agent.tenants)],
        overflow_tenants=[f"tenants/{t}" for t in sorted(agent.overflow_tenants)],
        departments=sorted(agent.departments),
        languages=sorted(agent.languages),
        channels=[CHANNELS.number(c) for c in sorted(agent.channels)],
        capacities=[
            pb.ChannelCapacity(channel=CHANNELS.number(c), capacity=n)  # type: ignore[arg-type]
            for c, n in sorted(agent.capacity.items())
        ],
        state=pb.Agent.State.Value(f"STATE_{agent.state}"),
        state_time=stamp(agent.state_since or time.time()),
    )
