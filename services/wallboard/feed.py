"""What the wallboard knows, read only from the services' public gRPC APIs with a service token.

Queue figures arrive on routing's WatchQueueStats stream; callback figures are fetched again
whenever a tenant's worklist changes (WatchCallbacks, used only as a signal: its callbacks are
not kept) and every half minute for time-driven changes (due today, warning, breach); agents
and gemeente names are read with the list calls. Webhook figures per subscription are read
with webhooks' ListSubscriptions every few seconds, only when a webhooks address is configured.
Every change bumps `version` and wakes the pages' event streams, which each send what their
viewer may see.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.json_format import MessageToDict

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from kcc.webhooks.v1 import webhooks_pb2 as wh
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import auth, client
from services.common.calendar import DEFAULT_CALENDAR
from services.common.config import Settings
from services.common.enums import AGENT_STATES

log = logging.getLogger(__name__)

STATS_INTERVAL_MS = 250  # routing sends figures at most this often: a few pushes a second
AGENTS_EVERY = 0.5
CALLBACKS_EVERY = 30.0
TENANTS_EVERY = 30.0
RETRY_SECONDS = 1.0
HISTORY_MINUTES = 60  # the sparkline: the most waiting per minute over the last hour
ACCOUNTABILITY_DAYS = 30
WEBHOOKS_EVERY = 3.0  # webhooks has no watch stream: its figures are polled
WEBHOOK_STATES = {wh.Subscription.STATE_ACTIVE: "ACTIVE", wh.Subscription.STATE_PAUSED: "PAUSED"}


def webhooks_configured() -> bool:
    """The figures are read only where webhooks runs: `kcc up` and the deployment name its address."""
    return bool(os.environ.get("KCC_WEBHOOKS_TARGET") or os.environ.get("KCC_WEBHOOKS_PORT"))


@dataclass
class Board:
    """One view of the whole KCC; `Feed` replaces its parts and bumps the version."""

    tenant_names: dict[str, str] = field(default_factory=dict)
    queues: list[dict[str, Any]] = field(default_factory=list)
    agents: list[dict[str, Any]] = field(default_factory=list)
    callbacks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    accountability: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # (tenant, queue) -> {minute: most waiting}
    history: dict[tuple[str, str], dict[int, int]] = field(default_factory=dict)
    # tenant -> its subscriptions' figures; `webhooks` is off, live or unavailable (not answering)
    webhooks: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    webhooks_status: str = "off"


class Feed:
    def __init__(self, settings: Settings, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        """`clock` is injectable so that a test can put "now" just after a tenant's midnight."""
        self.settings = settings
        self.clock = clock
        self.keys = auth.KeyRing.of(settings)
        self.board = Board()
        self.version = 0
        self.changed = asyncio.Condition()
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._watched: set[str] = set()
        self._callbacks_dirty: set[str] = set()
        self._wake_callbacks = asyncio.Event()
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._repeats: dict[str, int] = {}
        self._zones: dict[str, ZoneInfo] = {}  # read again with the gemeente names

    def metadata(self, subject: str = "wallboard", role: auth.Role = auth.Role.SERVICE) -> tuple[tuple[str, str], ...]:
        """A short-lived token minted from the platform's key; actions carry the viewer as subject."""
        return client.metadata(auth.issue_token(self.keys, subject, role, ttl_seconds=300))

    def channel(self, service: str) -> grpc.aio.Channel:
        if service not in self._channels:
            self._channels[service] = client.channel(self.settings, service)
        return self._channels[service]

    @property
    def routing(self) -> routing_pb2_grpc.RoutingServiceStub:
        return routing_pb2_grpc.RoutingServiceStub(self.channel("routing"))

    @property
    def callbacks(self) -> callbacks_pb2_grpc.CallbackServiceStub:
        return callbacks_pb2_grpc.CallbackServiceStub(self.channel("callbacks"))

    @property
    def tenancy(self) -> tenancy_pb2_grpc.TenancyServiceStub:
        return tenancy_pb2_grpc.TenancyServiceStub(self.channel("tenancy"))

    @property
    def webhooks(self) -> webhooks_pb2_grpc.WebhookServiceStub:
        return webhooks_pb2_grpc.WebhookServiceStub(self.channel("webhooks"))

    def start(self) -> None:
        loops = [self._queues, self._agents, self._tenants, self._callback_figures]
        if webhooks_configured():
            loops.append(self._webhook_figures)
        for loop in loops:
            self._tasks.append(asyncio.create_task(self._forever(loop)))

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for ch in self._channels.values():
            await ch.close()
        async with self.changed:
            self.changed.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    async def wait_change(self, seen: int, heartbeat: float) -> int:
        """The version after `seen`, or `seen` again after `heartbeat` seconds (a heartbeat is due)."""
        async with self.changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait_for(lambda: self.version != seen or self.stopped), heartbeat)
        return self.version

    async def _bump(self) -> None:
        async with self.changed:
            self.version += 1
            self.changed.notify_all()

    async def _forever(self, loop: Callable[[], Awaitable[None]]) -> None:
        """A reading loop that outlives a service restart: an error is logged and the loop begins again."""
        while not self.stopped:
            try:
                await loop()
            except asyncio.CancelledError:
                raise
            except grpc.aio.AioRpcError as exc:
                log.info("wallboard: %s: %s; again in %.0f s", loop.__name__, exc.code().name, RETRY_SECONDS)
            except Exception as exc:  # noqa: BLE001 - the board must keep going; the type says enough
                log.warning("wallboard: %s failed: %s", loop.__name__, type(exc).__name__)
            await asyncio.sleep(RETRY_SECONDS)

    async def _queues(self) -> None:
        stream = self.routing.WatchQueueStats(
            rt.WatchQueueStatsRequest(interval_ms=STATS_INTERVAL_MS), metadata=self.metadata()
        )
        async for reply in stream:
            minute = int(time.time() // 60)
            queues = [MessageToDict(q, preserving_proto_field_name=True) for q in reply.queues]
            for q in reply.queues:
                tenant = q.tenant.removeprefix("tenants/")
                self._watch_callbacks(tenant)
                history = self.board.history.setdefault((tenant, q.queue), {})
                history[minute] = max(history.get(minute, 0), q.waiting)
                for old in [m for m in history if m <= minute - HISTORY_MINUTES]:
                    del history[old]
            repeats: dict[str, int] = {}
            for q in reply.queues:
                tenant = q.tenant.removeprefix("tenants/")
                repeats[tenant] = repeats.get(tenant, 0) + q.repeat_contacts
            # a repeat contact counts against a department in the accountability figures
            for tenant, count in repeats.items():
                if self._repeats.get(tenant, count) != count:
                    self._callbacks_dirty.add(tenant)
                    self._wake_callbacks.set()
            self._repeats = repeats
            if any(q.tenant.removeprefix("tenants/") not in self.board.tenant_names for q in reply.queues):
                await self._read_tenants()
            self.board.queues = queues
            await self._bump()

    async def _agents(self) -> None:
        while not self.stopped:
            agents: list[dict[str, Any]] = []
            token = ""
            while True:
                reply = await self.routing.ListAgents(
                    rt.ListAgentsRequest(page_size=500, page_token=token), metadata=self.metadata(), timeout=5
                )
                agents += [_agent(a) for a in reply.agents]
                token = reply.next_page_token
                if not token:
                    break
            if agents != self.board.agents:
                self.board.agents = agents
                await self._bump()
            await asyncio.sleep(AGENTS_EVERY)

    async def refresh_agents(self) -> None:
        """After an action: the page shows the change without waiting for the next read."""
        reply = await self.routing.ListAgents(rt.ListAgentsRequest(page_size=500), metadata=self.metadata())
        self.board.agents = [_agent(a) for a in reply.agents]
        await self._bump()

    async def _tenants(self) -> None:
        while not self.stopped:
            await self._read_tenants()
            await asyncio.sleep(TENANTS_EVERY)

    async def _read_tenants(self) -> None:
        names: dict[str, str] = {}
        token = ""
        while True:
            reply = await self.tenancy.ListTenants(
                tp.ListTenantsRequest(page_size=500, page_token=token), metadata=self.metadata(), timeout=5
            )
            for t in reply.tenants:
                tenant = t.name.removeprefix("tenants/")
                names[tenant] = t.display_name or tenant
                self._watch_callbacks(tenant)
            token = reply.next_page_token
            if not token:
                break
        self._zones.clear()  # a changed time zone shows within one read of the names
        if names != self.board.tenant_names:
            self.board.tenant_names = names
            await self._bump()

    def _watch_callbacks(self, tenant: str) -> None:
        if tenant in self._watched or self.stopped:
            return
        self._watched.add(tenant)
        self._callbacks_dirty.add(tenant)
        self._wake_callbacks.set()

        async def watch() -> None:
            stream = self.callbacks.WatchCallbacks(
                cb.WatchCallbacksRequest(parent=f"tenants/{tenant}"), metadata=self.metadata()
            )
            async for _change in stream:  # a signal only: the callback itself is not kept
                self._callbacks_dirty.add(tenant)
                self._wake_callbacks.set()

        watch.__name__ = f"watch_callbacks_{tenant}"
        self._tasks.append(asyncio.create_task(self._forever(watch)))

    async def _callback_figures(self) -> None:
        while not self.stopped:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_callbacks.wait(), CALLBACKS_EVERY)
            self._wake_callbacks.clear()
            dirty = self._callbacks_dirty or set(self._watched)
            self._callbacks_dirty = set()
            for tenant in sorted(dirty):
                try:
                    await self._read_callback_figures(tenant)
                except grpc.aio.AioRpcError as exc:  # one gemeente's failure leaves the others current
                    log.info("wallboard: callback figures of %s: %s", tenant, exc.code().name)
            await self._bump()
            await asyncio.sleep(STATS_INTERVAL_MS / 1000)  # at most a few reads a second

    async def _read_callback_figures(self, tenant: str) -> None:
        parent = f"tenants/{tenant}"
        stats = await self.callbacks.GetCallbackStats(
            cb.GetCallbackStatsRequest(parent=parent), metadata=self.metadata(), timeout=5
        )
        self.board.callbacks[tenant] = [
            MessageToDict(d, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            for d in stats.departments
        ]
        today = self.clock().astimezone(await self._zone(tenant)).date()
        report = await self.callbacks.GetAccountabilityReport(
            cb.GetAccountabilityReportRequest(
                parent=parent,
                start_date=(today - timedelta(days=ACCOUNTABILITY_DAYS - 1)).isoformat(),
                end_date=today.isoformat(),
            ),
            metadata=self.metadata(),
            timeout=5,
        )
        self.board.accountability[tenant] = [
            MessageToDict(r, preserving_proto_field_name=True, always_print_fields_with_no_presence=True)
            for r in report.rows
        ]

    async def _zone(self, tenant: str) -> ZoneInfo:
        """The gemeente's time zone: its accountability days are its own (at 00:30 in Nijmegen the
        UTC date is still yesterday's, and today's callbacks would be left out)."""
        if tenant not in self._zones:
            calendar = await self.tenancy.GetBusinessCalendar(
                tp.GetBusinessCalendarRequest(name=f"tenants/{tenant}/businessCalendar"),
                metadata=self.metadata(),
                timeout=5,
            )
            self._zones[tenant] = ZoneInfo(calendar.time_zone or DEFAULT_CALENDAR.timezone)
        return self._zones[tenant]

    async def _webhook_figures(self) -> None:
        """Every few seconds, because webhooks has no watch stream; a webhooks service that does not
        answer leaves the rest of the board current and the page saying the figures are unavailable."""
        while not self.stopped:
            try:
                figures = {tenant: await self._read_subscriptions(tenant) for tenant in sorted(self.board.tenant_names)}
                status = "live"
            except grpc.aio.AioRpcError as exc:
                log.info("wallboard: webhook figures: %s", exc.code().name)
                figures, status = {}, "unavailable"
            if (figures, status) != (self.board.webhooks, self.board.webhooks_status):
                self.board.webhooks, self.board.webhooks_status = figures, status
                await self._bump()
            await asyncio.sleep(WEBHOOKS_EVERY)

    async def _read_subscriptions(self, tenant: str) -> list[dict[str, Any]]:
        """One tenant's subscriptions; the service token may list every tenant's (webhooks' _caller)."""
        found: list[dict[str, Any]] = []
        token = ""
        while True:
            reply = await self.webhooks.ListSubscriptions(
                wh.ListSubscriptionsRequest(parent=f"tenants/{tenant}", page_size=100, page_token=token),
                metadata=self.metadata(),
                timeout=5,
            )
            found += [_subscription(s) for s in reply.subscriptions if s.name.startswith(f"tenants/{tenant}/")]
            token = reply.next_page_token
            if not token:
                return found


def _subscription(sub: wh.Subscription) -> dict[str, Any]:
    """Id, state and figures only: the URL, headers and last error stay with webhooks."""
    f = sub.figures
    return {
        "id": sub.name.rsplit("/", 1)[-1],
        "state": WEBHOOK_STATES.get(sub.state, "UNKNOWN"),
        "delivered": f.delivered,
        "retrying": f.retrying,
        "parked": f.parked,
        "pending": f.pending,
        "oldest_undelivered_seconds": round(f.oldest_undelivered_age.ToNanoseconds() / 1e9, 1),
    }


def _agent(agent: rt.Agent) -> dict[str, Any]:
    """An agent by id, state and gemeenten; the display name (a person's name) stays off the page."""
    return {
        "id": agent.name.removeprefix("agents/"),
        "state": AGENT_STATES.name(agent.state),
        "tenants": [t.removeprefix("tenants/") for t in agent.tenants],
        "overflow_tenants": [t.removeprefix("tenants/") for t in agent.overflow_tenants],
    }
