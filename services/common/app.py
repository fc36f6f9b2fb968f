"""The life of one service process: connect, migrate, serve, run background loops, stop gracefully."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import grpc
from sqlmodel import SQLModel

from services.common import health_listener, production, telemetry
from services.common.config import Settings
from services.common.consumer import ProcessedEvent
from services.common.db import Database, make_engine
from services.common.events import EventBus
from services.common.migrations import ServiceSchema, prepare
from services.common.outbox import OutboxEvent, OutboxRelay
from services.common.server import Validator, start_server
from services.common.validation import RequestValidator

log = logging.getLogger(__name__)

Loop = Callable[[asyncio.Event], Coroutine[Any, Any, None]]
# How long background loops get to finish after the stop event, before they are cancelled.
LOOP_STOP_SECONDS = 2.0


class ServiceApp:
    """Subclasses name their tables, servicers and background loops; this class runs them."""

    name = ""
    tables: Sequence[type[SQLModel]] = ()
    service_names: Sequence[str] = ()
    # A service that keeps everything in JetStream (webhooks) has no database, outbox or migrations.
    uses_database = True

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.server: grpc.aio.Server | None = None
        self.health_server: grpc.aio.Server | None = None
        self.port = 0
        # True when this app is its process's one service (serve_forever): it may then tune the
        # whole process, e.g. freeze its heap after start; a test or bench may host several apps.
        self.owns_process = False
        self.bus: EventBus
        self.db: Database
        self.outbox: OutboxRelay

    @classmethod
    def schema(cls) -> ServiceSchema:
        """The tables this service owns in its database, versioned by services/<name>/migrations."""
        return ServiceSchema.of(cls.name, [*cls.tables, OutboxEvent, ProcessedEvent])

    def register(self, server: grpc.aio.Server) -> None:
        """Adds the servicers. `server` is a GuardedRegistry (services/common/server.py) standing in
        for the grpc.aio.Server, so that every method is registered behind the platform guard."""
        raise NotImplementedError

    async def prepare(self) -> list[Loop]:
        """Builds in-memory state before the server accepts calls; returns the loops to run."""
        return []

    def validator(self) -> Validator | None:
        return RequestValidator(self.service_names)

    async def start(self, port: int | None = None) -> int:
        production.check(self.settings, self.name)  # before anything binds or connects
        telemetry.setup(self.name, self.settings.telemetry_exporter)
        loops: list[Loop] = []
        if self.uses_database:
            engine = make_engine(self.settings.database_url_for(self.name), self.name)
            await asyncio.to_thread(prepare, engine, self.schema(), self.settings.migrate_at_start)
            self.db = Database(engine)
        self.bus = await EventBus.connect(self.settings, f"kcc-{self.name}")
        if self.uses_database:
            self.outbox = OutboxRelay(self.db, self.bus)
            loops.append(self.outbox.run)
        loops += await self.prepare()
        self.tasks = [asyncio.create_task(loop(self.stop_event)) for loop in loops]
        bind_port = self.settings.port(self.name) if port is None else port
        self.server, self.port = await start_server(
            self.settings,
            f"{self.settings.host}:{bind_port}",
            [self.register],
            self.service_names,
            self.validator(),
        )
        self.health_server = await health_listener.start(self.settings)
        log.info("%s serving on %s:%d", self.name, self.settings.host, self.port)
        return self.port

    async def stop(self, grace: float = 3.0) -> None:
        self.stop_event.set()
        if self.health_server is not None:  # the probes see the drain at once
            await self.health_server.stop(0)
        if self.server is not None:
            await self.server.stop(grace)
        if self.tasks:  # a moment to end on their own: a lease holder releases its lease
            await asyncio.wait(self.tasks, timeout=LOOP_STOP_SECONDS)
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.bus.close()
        if self.uses_database:
            self.db.engine.dispose()

    async def serve_forever(self) -> None:
        """Runs until SIGINT or SIGTERM, then drains calls and stops."""
        self.owns_process = True
        await self.start()
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        await self.stop()
