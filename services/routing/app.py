"""The routing process: follow the stream (hot standby), serve every call, match while holding the lease."""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import grpc
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from opentelemetry.metrics import CallbackOptions, Observation

from kcc.routing.v1 import routing_pb2 as pb
from kcc.routing.v1 import routing_pb2_grpc
from services.common import telemetry
from services.common.app import Loop, ServiceApp
from services.common.bucketwatch import BucketFollower
from services.common.config import Settings
from services.common.lease import Lease
from services.common.pacing import Pacer
from services.common.snapshots import SnapshotFollower, TenantSnapshot
from services.routing import catalogue
from services.routing.follower import StreamFollower
from services.routing.leader import LEASE_BUCKET, LEASE_KEY, REPLAY_FROM_KEY, Matcher
from services.routing.recognition import ProductRecognizer
from services.routing.recognizers import RecognizerPool
from services.routing.service import RoutingService
from services.routing.state import REPLAY_WINDOW, RoutingState, agent_from_message

log = logging.getLogger(__name__)

AGENTS_BUCKET = "routing-agents"
# Callbacks still open after this long (weeks past any deadline) no longer mark repeat contacts;
# reading a year of callback events would make a national replica's start take many minutes.
CALLBACK_WINDOW = timedelta(days=62)
# The stream's clock and the replicas' may differ a little: read a minute before the mark.
REPLAY_MARGIN_SECONDS = 60.0
# Contacts still open after this long (an e-mail forgotten for weeks) are not replayed: withdraw them.
REPLAY_LIMIT = timedelta(days=14)


class RoutingApp(ServiceApp):
    name = "routing"
    service_names = (pb.DESCRIPTOR.services_by_name["RoutingService"].full_name,)
    replay_window = REPLAY_WINDOW
    replay_limit = REPLAY_LIMIT

    def __init__(self, settings: Settings | None = None) -> None:
        super().__init__(settings)
        self.lease_ttl = self.settings.lease_seconds

    async def prepare(self) -> list[Loop]:
        self.replica = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"  # names the lease holder
        self.state = RoutingState(replay_window=self.replay_window)
        background = Pacer()  # snapshot reading and recognizer derivation share the loop's spare time
        self.recognizers = RecognizerPool(background)
        self.followers = SnapshotFollower(self._on_snapshot, background)
        await self.followers.start(self.bus)
        await self.recognizers.idle()
        self.recognizers.paced = True
        self.agents_kv = await self.bus.key_value(AGENTS_BUCKET)
        self.agent_definitions = BucketFollower(self.bus, self.agents_kv, "agents", self._apply_agent)
        await self.agent_definitions.start()
        started = time.perf_counter()
        # Open callbacks may be older than the contact window: their events first, from further
        # back. The follower then applies its window again, callback events included, in stream
        # order, which ends in the same state (the index is state-based).
        callbacks = StreamFollower(self.bus, self.state.apply, "kcc.*.callback.>")
        await callbacks.start(datetime.now(UTC) - CALLBACK_WINDOW)
        await callbacks.stop()
        leases = await self.bus.key_value(LEASE_BUCKET)
        self.follower = StreamFollower(self.bus, self.state.apply)
        await self.follower.start(await self._replay_from(leases))
        log.info(
            "routing: %d events applied from the stream in %.1f s",
            self.follower.applied_events,
            time.perf_counter() - started,
        )
        lease = Lease(leases, LEASE_KEY, self.lease_ttl, f"routing-{self.replica}")
        self.matcher = Matcher(self.state, self.bus, self.follower, lease, self.replica)
        self.servicer = RoutingService(
            self.state,
            self.bus,
            self.follower,
            self.agents_kv,
            self.settings.recognition_cache,
            self.replica,
            question_secret=self.settings.question_key_secret,
        )
        self._register_metrics()
        if self.owns_process:
            # Catalogues and replayed contacts are long-lived: keep them out of every later full
            # collection, which otherwise walks them all again and again (pauses show up at p99).
            # Not in a process hosting several apps: it would walk that whole heap at every start.
            gc.collect()
            gc.freeze()
        return [self.matcher.keep_lease, self.matcher.tick, self.matcher.run]

    async def _replay_from(self, leases: KeyValue) -> datetime:
        """The window, or further back where the leader says a contact, desktop or term began, but
        never more than `replay_limit` back: a contact left open for months must not make every
        start read months of the stream."""
        now = datetime.now(UTC)
        start = now - self.replay_window
        with contextlib.suppress(KeyNotFoundError):
            entry = await self.bus.at_start("replay mark", lambda: leases.get(REPLAY_FROM_KEY))
            mark = json.loads(entry.value or b"{}")
            if "at" in mark:
                start = min(start, datetime.fromtimestamp(float(mark["at"]) - REPLAY_MARGIN_SECONDS, UTC))
        if start < now - self.replay_limit:
            log.warning(
                "routing: something opened %s ago is still open; replaying %s only", now - start, self.replay_limit
            )
            start = now - self.replay_limit
        return start

    def register(self, server: grpc.aio.Server) -> None:
        routing_pb2_grpc.add_RoutingServiceServicer_to_server(self.servicer, server)

    def _on_snapshot(self, snapshot: TenantSnapshot) -> None:
        """Installs the new snapshot at once; a recognizer that is not built yet is built on the
        worker thread while the tenant's previous one keeps serving (a new tenant has none until
        then: its questions go to the general queue)."""
        tenant = snapshot.tenant
        old = self.state.catalogues.get(tenant)
        if old is not None:
            for entry in [k for k, t in self.state.entry_points.items() if t == tenant]:
                del self.state.entry_points[entry]
        key = catalogue.recognition_key(snapshot.products)

        def swap(recognizer: ProductRecognizer) -> None:
            current = self.state.catalogues.get(tenant)
            if current is not None and current.key == key:
                self.state.catalogues[tenant] = current.with_recognizer(recognizer)

        recognizer = self.recognizers.assign(tenant, key, swap)
        if recognizer is None and old is not None:
            recognizer = old.recognizer
        self.state.catalogues[tenant] = catalogue.build(snapshot, key, recognizer)
        for kind, value in snapshot.entry_points:
            self.state.entry_points[(kind, value)] = tenant

    async def _apply_agent(self, entry: KeyValue.Entry) -> None:
        """An agent created or moved on any replica: its definition, from the agents bucket."""
        if entry.value:
            self.state.router.upsert_agent(agent_from_message("agents/" + entry.key, pb.Agent.FromString(entry.value)))

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
        self.stop_event.set()
        if self.server is not None:  # calls in flight still see their own events come back
            await self.server.stop(grace)
        if getattr(self, "agent_definitions", None) is not None:
            await self.agent_definitions.stop()
        if getattr(self, "follower", None) is not None:
            await self.follower.stop()
        await self.followers.stop()
        if getattr(self, "recognizers", None) is not None:
            self.recognizers.close()
        await super().stop(grace)
        gc.unfreeze()
