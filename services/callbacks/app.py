"""The callbacks process: the API, the deadline scheduler (one instance at a time), the daily purge, gauges."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime

import grpc
from opentelemetry.metrics import CallbackOptions, Observation

from kcc.callbacks.v1 import callbacks_pb2 as pb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from services.callbacks import contacts, deadlines, purge, stats
from services.callbacks.changes import ChangeNotifier
from services.callbacks.models import TABLES
from services.callbacks.scheduler import Scheduler
from services.callbacks.service import CallbackService, system_clock
from services.common import telemetry
from services.common.app import Loop, ServiceApp
from services.common.config import Settings
from services.common.lease import Lease
from services.common.snapshots import SnapshotFollower

LEASE_BUCKET = "callbacks-leases"

GAUGE_CACHE_SECONDS = 10.0


class CallbacksApp(ServiceApp):
    name = "callbacks"
    tables = (*TABLES, contacts.ContactTally)
    service_names = (pb.DESCRIPTOR.services_by_name["CallbackService"].full_name,)

    def __init__(
        self,
        settings: Settings | None = None,
        clock: Callable[[], datetime] = system_clock,
        scheduler_interval: float = 5.0,
        lease_ttl: float | None = None,
        lease_standby_seconds: float = 1.0,
        watch_poll_seconds: float = 1.0,
        purge_every_seconds: float = purge.DAY_SECONDS,
    ) -> None:
        """`clock` is injectable so tests can put "now" on a fixed date; the lease uses real time."""
        super().__init__(settings)
        self.clock = clock
        self.scheduler_interval = scheduler_interval
        self.lease_ttl = self.settings.lease_seconds if lease_ttl is None else lease_ttl
        self.lease_standby_seconds = lease_standby_seconds
        self.watch_poll_seconds = watch_poll_seconds
        self.purge_every_seconds = purge_every_seconds
        self.instance = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._gauge_cache: tuple[float, list[tuple[str, stats.DepartmentStats]]] = (0.0, [])

    async def prepare(self) -> list[Loop]:
        self.notifier = ChangeNotifier()
        self.snapshots = SnapshotFollower()
        await self.snapshots.start(self.bus)
        self.servicer = CallbackService(
            self.db,
            self.settings,
            self.snapshots,
            self.committed,
            self.notifier,
            self.clock,
            self.watch_poll_seconds,
        )
        lease = Lease(await self.bus.key_value(LEASE_BUCKET), "scheduler", self.lease_ttl, self.instance)
        self.scheduler = Scheduler(
            self.db,
            lease,
            self.clock,
            self.committed,
            self.scheduler_interval,
            writer=self.servicer.writer,
            standby_seconds=self.lease_standby_seconds,
        )
        self._register_metrics()
        self.contact_usage = contacts.consumer(self.bus, self.db)
        return [
            self.scheduler.run,
            purge.daily(self.db, self.snapshots, self.clock, self.purge_every_seconds),
            self.contact_usage.run,
        ]

    def register(self, server: grpc.aio.Server) -> None:
        callbacks_pb2_grpc.add_CallbackServiceServicer_to_server(self.servicer, server)

    def committed(self, tenants: set[str]) -> None:
        """After a commit: publish its events now and wake this process's worklist watchers."""
        self.outbox.wake()
        self.notifier.notify(tenants)

    async def stop(self, grace: float = 3.0) -> None:
        await super().stop(grace)  # the scheduler loop releases its lease as it stops
        await self.snapshots.stop()

    # -- metrics -------------------------------------------------------------------------------

    def _figures(self) -> list[tuple[str, stats.DepartmentStats]]:
        """All tenants' figures, computed at most every GAUGE_CACHE_SECONDS for all gauges together."""
        taken, figures = self._gauge_cache
        if time.monotonic() - taken < GAUGE_CACHE_SECONDS:
            return figures
        now = self.clock()

        def work(session):  # type: ignore[no-untyped-def]
            result = []
            for tenant in stats.tenants_with_callbacks(session):
                calendar = deadlines.calendar_of(self.snapshots.get(tenant))
                result += [(tenant, f) for f in stats.compute(session, tenant, calendar, now)]
            return result

        figures = self.db.transaction(work)
        self._gauge_cache = (time.monotonic(), figures)
        return figures

    def _register_metrics(self) -> None:
        """Worklist figures as observable gauges, labelled by tenant and department only."""
        meter = telemetry.meter("kcc.callbacks")

        def gauge(key: str) -> Callable[[CallbackOptions], list[Observation]]:
            def observe(_options: CallbackOptions) -> list[Observation]:
                return [
                    Observation(float(getattr(fig, key)), {"tenant": tenant, "department": fig.department})
                    for tenant, fig in self._figures()
                ]

            return observe

        for key, unit in (
            ("open", "{callback}"),
            ("due_today", "{callback}"),
            ("overdue", "{callback}"),
            ("median_seconds_to_first_attempt", "s"),
            ("completed_within_deadline", "1"),
        ):
            meter.create_observable_gauge(f"kcc.callbacks.{key}", callbacks=[gauge(key)], unit=unit)
