"""The routing process: rebuild memory from JetStream, then match contacts to agents."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from datetime import UTC, datetime, timedelta

import grpc
from opentelemetry.metrics import CallbackOptions, Observation

from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as pb
from kcc.routing.v1 import routing_pb2_grpc
from services.common import events, telemetry
from services.common.app import Loop, ServiceApp
from services.common.replay import replay
from services.common.snapshots import SnapshotFollower, TenantSnapshot
from services.routing import catalogue
from services.routing.matching import Offer
from services.routing.service import RoutingService, RoutingState, agent_from_message, stamp

log = logging.getLogger(__name__)

AGENTS_BUCKET = "routing-agents"
# Contacts older than this are not replayed: nobody waits on the phone that long.
REPLAY_WINDOW = timedelta(hours=24)
# Recognition results kept per catalogue (services/routing/service.py RecognitionCache); 0 turns it off.


class RoutingApp(ServiceApp):
    name = "routing"
    service_names = (pb.DESCRIPTOR.services_by_name["RoutingService"].full_name,)

    async def prepare(self) -> list[Loop]:
        self.state = RoutingState()
        self.followers = SnapshotFollower(self._on_snapshot)
        await self.followers.start(self.bus)
        self.agents_kv = await self.bus.key_value(AGENTS_BUCKET)
        await self._load_agents()
        since = datetime.now(UTC) - REPLAY_WINDOW
        await replay(self.bus, "kcc.*.contact.>", self.state.apply, since=since)
        self.callback_follow = await replay(self.bus, "kcc.*.callback.>", self.state.apply, follow=True)
        self.servicer = RoutingService(self.state, self.bus, self._save_agent, self.settings.recognition_cache)
        self._register_metrics()
        # Catalogues and replayed contacts are long-lived: keep them out of every later full
        # collection, which otherwise walks them all again and again (pauses show up at p99).
        gc.collect()
        gc.freeze()
        return [self._match_loop, self._tick]

    def register(self, server: grpc.aio.Server) -> None:
        routing_pb2_grpc.add_RoutingServiceServicer_to_server(self.servicer, server)

    def _on_snapshot(self, snapshot: TenantSnapshot) -> None:
        old = self.state.catalogues.get(snapshot.tenant)
        if old is not None:
            for key in [k for k, t in self.state.entry_points.items() if t == snapshot.tenant]:
                del self.state.entry_points[key]
        self.state.catalogues[snapshot.tenant] = catalogue.build(snapshot)
        for kind, value in snapshot.entry_points:
            self.state.entry_points[(kind, value)] = snapshot.tenant

    async def _load_agents(self) -> None:
        watcher = await self.agents_kv.watchall()
        async for entry in watcher:
            if entry is None:
                break
            if entry.value:
                name = "agents/" + entry.key
                self.state.router.upsert_agent(agent_from_message(name, pb.Agent.FromString(entry.value)))
        await watcher.stop()

    async def _save_agent(self, name: str, agent: pb.Agent) -> None:
        await self.agents_kv.put(name.removeprefix("agents/"), agent.SerializeToString())

    async def _tick(self, stop: asyncio.Event) -> None:
        """Wakes the matcher twice a second (offer time-outs, overflow thresholds) and once on stop."""
        while not stop.is_set():
            self.state.changed.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
        self.state.changed.set()

    async def _match_loop(self, stop: asyncio.Event) -> None:
        """Expires offers and makes new ones whenever something changed (a plain wait: no timer per wake-up)."""
        self._last_cleanup = time.time()
        while not stop.is_set():
            await self.state.changed.wait()
            self.state.changed.clear()
            try:
                now = time.time()
                for offer in self.state.router.expire_offers(now):
                    await self._announce(offer, "offer_expired")
                for offer in self.state.router.match(now):
                    await self._announce(offer, "offered")
                if now - self._last_cleanup > 60:
                    self.state.router.forget_finished(now - REPLAY_WINDOW.total_seconds())
                    self._last_cleanup = now
            except Exception:  # noqa: BLE001 - NATS restarting; the next pass retries
                log.warning("matcher pass failed", exc_info=True)
                await asyncio.sleep(0.5)

    async def _announce(self, offer: Offer, change: str) -> None:
        contact = self.state.router.contacts[offer.contact]
        env = events.envelope(
            contact.tenant,
            contact_changed=events_pb2.ContactChanged(
                contact=contact.name, change=change, agent=offer.agent, queue=contact.queue
            ),
        )
        await self.bus.publish(events.subject(contact.tenant, "contact", change), env)
        stream = self.state.streams.get(offer.agent)
        if stream is None:
            return
        if change == "offered":
            message = pb.Offer(contact=self.servicer.contact_message(contact))
            message.expire_time.CopyFrom(stamp(offer.expires_at))
            stream.put_nowait(pb.ConnectAgentResponse(offer=message))
        else:
            stream.put_nowait(pb.ConnectAgentResponse(offer_revoked=contact.name))

    def _register_metrics(self) -> None:
        """Contact-centre figures as OpenTelemetry gauges, labelled by tenant and queue only."""
        meter = telemetry.meter("kcc.routing")

        def gauge(key: str) -> object:
            def observe(_options: CallbackOptions) -> list[Observation]:
                now = time.time()
                return [
                    Observation(float(fig[key]), {"tenant": tenant, "queue": str(fig["queue"])})
                    for tenant in {t for (t, _q) in list(self.state.router.figures)}
                    for fig in self.state.router.queue_figures(tenant, now)
                ]

            return observe

        for key, unit in (
            ("waiting", "{contact}"),
            ("longest_wait_seconds", "s"),
            ("service_level", "1"),
            ("average_speed_of_answer_seconds", "s"),
            ("abandonment_rate", "1"),
            ("agents_available", "{agent}"),
            ("agents_eligible", "{agent}"),
            ("abandoned", "{contact}"),
            ("overflowed", "{contact}"),
        ):
            meter.create_observable_gauge(f"kcc.queue.{key}", callbacks=[gauge(key)], unit=unit)  # type: ignore[list-item]

    async def stop(self, grace: float = 3.0) -> None:
        if getattr(self, "callback_follow", None) is not None:
            await self.callback_follow.unsubscribe()  # type: ignore[union-attr]
        await self.followers.stop()
        await super().stop(grace)
        gc.unfreeze()
