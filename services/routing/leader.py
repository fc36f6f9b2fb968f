"""The matcher: exactly one routing replica decides offers, under a lease, and fences its decisions.

The replica that holds the lease (a key in the `routing-leases` KV bucket, services/common/lease.py)
opens its term with a `matcher.elected` event carrying the lease revision, then stamps every
decision with its current revision. `RoutingState.apply` refuses a decision stamped below the
current term, so a leader that lost its lease without knowing (paused, partitioned) cannot
offer a contact twice. It stops deciding as soon as its own lease deadline passes without a
renewal; a standby takes over once the lease lapses in the bucket.

Every replica also beats in the same bucket (`replicas.<replica>`). A desktop session held by a
replica whose beat has stopped (killed, or the whole platform restarted) is ended by the leader
with a `disconnected` event, so no offer goes to a desktop that nobody holds any more.

The leader also keeps `replay-from` there: how far back a replica that starts must read the
stream (a day, or further for a contact still open or a desktop still connected), so that it
knows everything the running ones know.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time

from nats.js.api import PubAck
from nats.js.errors import KeyNotFoundError

from kcc.events.v1 import events_pb2
from services.common import events
from services.common.events import EventBus
from services.common.lease import Lease
from services.routing.follower import StreamFollower
from services.routing.matching import AgentState, Offer
from services.routing.state import RoutingState

log = logging.getLogger(__name__)

LEASE_BUCKET = "routing-leases"
LEASE_KEY = "matcher"
REPLAY_FROM_KEY = "replay-from"
TICK_SECONDS = 0.5  # offer time-outs and overflow thresholds are checked this often


class Matcher:
    def __init__(
        self, state: RoutingState, bus: EventBus, follower: StreamFollower, lease: Lease, replica: str = ""
    ) -> None:
        self.state = state
        self.bus = bus
        self.follower = follower
        self.lease = lease
        self.replica = replica
        self._swept_at = 0.0
        self.terms = 0  # how often this replica became the leader
        self.term_fence = -1  # the fence this replica opened its current term with
        self.passes = 0

    @property
    def leading(self) -> bool:
        return self.lease.held

    async def keep_lease(self, stop: asyncio.Event) -> None:
        """Renews the lease while held, tries to take it while not; opens each new term with an event."""
        while not stop.is_set():
            was_leading = self.leading
            try:
                await self.lease.kv.put(f"replicas.{self.replica}", json.dumps({"at": time.time()}).encode())
                if await self.lease.acquire() and not was_leading:
                    await self._open_term()
                if self.leading:
                    since = self.state.replay_from(time.time())
                    await self.lease.kv.put(REPLAY_FROM_KEY, json.dumps({"at": since}).encode())
            except Exception:  # noqa: BLE001 - NATS electing or away: the lease lapses by itself
                log.warning("matcher lease: renewal failed", exc_info=True)
            # the holder renews five times per time to live; a standby tries ten times
            pause = self.lease.ttl / (5 if self.leading else 10)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        await self.lease.release()

    async def _open_term(self) -> None:
        fence = self.lease.revision
        env = events.envelope(
            "platform", matcher_elected=events_pb2.MatcherElected(holder=self.lease.holder, fence=fence)
        )
        ack = await self.bus.publish(events.subject("platform", "matcher", "elected"), env)
        await self.follower.applied(ack.seq)
        self.term_fence = fence
        self.terms += 1
        log.info("matcher: this replica leads (fence %d)", fence)
        self.state.changed.set()

    async def tick(self, stop: asyncio.Event) -> None:
        """Wakes the matcher on a clock (time-outs, overflow thresholds) and once on stop."""
        while not stop.is_set():
            self.state.changed.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
        self.state.changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Decides whenever something changed, while this replica leads its current term."""
        while not stop.is_set():
            await self.state.changed.wait()
            self.state.changed.clear()
            if not self.leading or self.state.fence != self.term_fence:
                continue  # a standby, or a newer term is in the stream
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - NATS electing: the next pass decides again from the stream
                log.warning("matcher pass failed", exc_info=True)
                await asyncio.sleep(TICK_SECONDS)

    async def run_once(self) -> int:
        """One pass: expire due offers, make new ones; returns how many decisions were applied."""
        now = time.time()
        router = self.state.router
        decisions = [("offer_expired", o) for o in router.expired_offers(now)]
        decisions += [("offered", o) for o in router.match(now)]
        await self._decide(decisions)
        if now - self._swept_at >= self.lease.ttl / 2:
            self._swept_at = now
            await self.end_orphaned_sessions(now)
        self.passes += 1
        return len(decisions)

    async def expire_offers(self, now: float) -> int:
        """Times out the offers due at `now`: what a pass does on the clock, for a test that drives time."""
        expired = [("offer_expired", o) for o in self.state.router.expired_offers(now)]
        await self._decide(expired)
        return len(expired)

    async def _decide(self, decisions: list[tuple[str, Offer]]) -> None:
        """Publishes the decisions and waits until this replica has applied them."""
        if decisions:
            acks = await asyncio.gather(*(self._publish(change, offer) for change, offer in decisions))
            await self.follower.applied(max(ack.seq for ack in acks))

    async def end_orphaned_sessions(self, now: float) -> int:
        """Ends the desktop sessions of replicas that stopped beating a lease's time to live ago."""
        holders: dict[str, list[AgentState]] = {}
        for agent in self.state.router.agents.values():
            if agent.connected and agent.replica != self.replica:
                holders.setdefault(agent.replica, []).append(agent)
        ended = []
        for replica, agents in holders.items():
            beat = {}
            with contextlib.suppress(KeyNotFoundError):
                if replica:  # a session from before replicas were named has none
                    beat = json.loads((await self.lease.kv.get(f"replicas.{replica}")).value or b"{}")
            if float(beat.get("at", 0)) < now - self.lease.ttl:
                ended += agents
        for agent in ended:
            changed = events_pb2.AgentChanged(agent=agent.name, change="disconnected", session=agent.session)
            env = events.envelope("platform", agent_changed=changed)
            ack = await self.bus.publish(events.subject("platform", "agent", "disconnected"), env)
            await self.follower.applied(ack.seq)
        if ended:
            log.info("matcher: ended %d desktop sessions held by replicas that stopped", len(ended))
        return len(ended)

    async def _publish(self, change: str, offer: Offer) -> PubAck:
        contact = self.state.router.contacts[offer.contact]
        env = events.envelope(
            contact.tenant,
            contact_changed=events_pb2.ContactChanged(
                contact=contact.name, change=change, agent=offer.agent, queue=contact.queue, fence=self.lease.revision
            ),
        )
        return await self.bus.publish(events.subject(contact.tenant, "contact", change), env)
