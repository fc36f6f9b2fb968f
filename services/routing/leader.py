"""The matcher: exactly one routing replica decides offers, under a lease, and fences its decisions.

The replica that holds the lease (a key in the `routing-leases` KV bucket, services/common/lease.py)
opens its term with a `matcher.elected` event carrying the lease revision, then stamps every
decision with its current revision. `RoutingState.apply` refuses a decision stamped below the
current term, so a leader that lost its lease without knowing (paused, partitioned) cannot
offer a contact twice. It stops deciding as soon as its own lease deadline passes without a
renewal; a standby takes over once the lease lapses in the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from nats.js.api import PubAck

from kcc.events.v1 import events_pb2
from services.common import events
from services.common.events import EventBus
from services.common.lease import Lease
from services.routing.follower import StreamFollower
from services.routing.matching import Offer
from services.routing.state import RoutingState

log = logging.getLogger(__name__)

LEASE_BUCKET = "routing-leases"
LEASE_KEY = "matcher"
LEASE_TTL_SECONDS = 10.0
TICK_SECONDS = 0.5  # offer time-outs and overflow thresholds are checked this often


class Matcher:
    def __init__(self, state: RoutingState, bus: EventBus, follower: StreamFollower, lease: Lease) -> None:
        self.state = state
        self.bus = bus
        self.follower = follower
        self.lease = lease
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
                if await self.lease.acquire() and not was_leading:
                    await self._open_term()
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
        if decisions:
            acks = await asyncio.gather(*(self._publish(change, offer) for change, offer in decisions))
            await self.follower.applied(max(ack.seq for ack in acks))
        self.passes += 1
        return len(decisions)

    async def _publish(self, change: str, offer: Offer) -> PubAck:
        contact = self.state.router.contacts[offer.contact]
        env = events.envelope(
            contact.tenant,
            contact_changed=events_pb2.ContactChanged(
                contact=contact.name, change=change, agent=offer.agent, queue=contact.queue, fence=self.lease.revision
            ),
        )
        return await self.bus.publish(events.subject(contact.tenant, "contact", change), env)
