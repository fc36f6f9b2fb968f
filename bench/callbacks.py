"""Callbacks with 100,000 open callbacks across tenants (SQLite, the default): create throughput over
gRPC and at the service layer, and the cost of one scheduler pass (idle, and with 1,000 warnings due).

Everything runs in this process: a nats-server we start ourselves, snapshots for the tenants
in JetStream KV, the open callbacks bulk-inserted straight into the database, then the
CallbacksApp on a free port. The gRPC client shares the event loop with the server, so the
gRPC figure includes the client's cost. Run: .venv/bin/python bench/callbacks.py [--open 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
from sqlalchemy import insert

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.callbacks.crypto import Vault
from services.callbacks.models import CallbackRow
from services.common import auth, client, snapshots
from services.common.config import Settings
from services.common.db import make_engine
from services.common.events import EventBus
from services.common.migrations import upgrade
from services.common.natsserver import NatsServer
from services.common.snapshots import SlaSnapshot, TenantSnapshot

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)  # Monday 09:00 in Nijmegen
DEPARTMENTS = ("burgerzaken", "belastingen", "wmo", "vergunningen", "algemeen")
DUE = 1000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def tenants(count: int) -> list[str]:
    return [f"gm{268 + i:04d}" for i in range(count)]


async def put_snapshots(settings: Settings, ids: list[str]) -> None:
    bus = await EventBus.connect(settings, "bench-snapshots")
    kv = await snapshots.bucket(bus)
    for tenant in ids:
        snapshot = TenantSnapshot(
            tenant=tenant,
            display_name=tenant,
            version=1,
            departments={d: d.title() for d in DEPARTMENTS},
            sla_policies=[SlaSnapshot(callback_working_hours=16, warning_percent=75, escalation_target="teamleider")],
        )
        await kv.put(tenant, snapshot.to_json())
    await bus.close()


def bulk_insert(settings: Settings, ids: list[str], count: int) -> float:
    """`count` open callbacks; the first DUE get a warning moment one hour after T0, the rest days later."""
    engine = make_engine(settings.database_url_for("callbacks"), "callbacks")
    upgrade(engine, CallbacksApp.schema())
    sealed = Vault(settings).seal("+31612345678")
    started = time.perf_counter()
    with engine.begin() as conn:
        chunk: list[dict[str, object]] = []
        for i in range(count):
            due = i < DUE
            chunk.append(
                {
                    "tenant": ids[i % len(ids)],
                    "id": uuid.uuid4().hex,
                    "department": DEPARTMENTS[i % len(DEPARTMENTS)],
                    "product_uri": "",
                    "contact": "",
                    "channel": 1,
                    "phone_encrypted": sealed,
                    "note_encrypted": "",
                    "preferred_times": "",
                    "citizen_key": uuid.uuid4().hex,
                    "status": "REQUESTED",
                    "assignee": "",
                    "attempts": 0,
                    "outcome": "",
                    "create_time": T0 - timedelta(hours=1),
                    "update_time": T0 - timedelta(hours=1),
                    "deadline": T0 + (timedelta(hours=3) if due else timedelta(days=10, minutes=i % 5000)),
                    "warn_at": T0 + (timedelta(hours=1) if due else timedelta(days=8, minutes=i % 5000)),
                    "warned": False,
                    "breached": False,
                    "escalated": False,
                    "max_attempts": 3,
                    "escalation_target": "teamleider",
                    "version": 1,
                }
            )
            if len(chunk) == 10_000:
                conn.execute(insert(CallbackRow), chunk)
                chunk = []
        if chunk:
            conn.execute(insert(CallbackRow), chunk)
    engine.dispose()
    return time.perf_counter() - started


def request(tenant: str, i: int) -> cb.CreateCallbackRequest:
    return cb.CreateCallbackRequest(
        parent=f"tenants/{tenant}",
        callback=cb.Callback(
            department=f"tenants/{tenant}/departments/{DEPARTMENTS[i % len(DEPARTMENTS)]}",
            phone_number=f"06{10_000_000 + i}",
            note="graag na 14:00",
        ),
        request_id=f"bench-{i}",
    )


async def grpc_creates(
    app: CallbacksApp, settings: Settings, ids: list[str], total: int, callers: int
) -> dict[str, float]:
    md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.PLATFORM_ADMIN))
    latencies: list[float] = []
    counter = iter(range(total))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        stub = callbacks_pb2_grpc.CallbackServiceStub(channel)

        async def caller() -> None:
            for i in counter:
                t = time.perf_counter()
                await stub.CreateCallback(request(ids[i % len(ids)], i), metadata=md)
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(callers)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "per_second": total / elapsed,
        "p50_ms": 1000 * statistics.median(latencies),
        "p99_ms": 1000 * latencies[int(len(latencies) * 0.99) - 1],
    }


async def service_creates(app: CallbacksApp, ids: list[str], total: int, offset: int) -> float:
    token = auth.bind(auth.Principal("bench", auth.Role.PLATFORM_ADMIN))
    try:
        started = time.perf_counter()
        for i in range(offset, offset + total):
            await app.servicer.CreateCallback(request(ids[i % len(ids)], i), None)
        return total / (time.perf_counter() - started)
    finally:
        auth.unbind(token)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--open", type=int, default=100_000, help="open callbacks to start with")
    parser.add_argument("--tenants", type=int, default=10)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--callers", type=int, default=32)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kcc-bench-callbacks-") as tmp, NatsServer(Path(tmp) / "nats") as nats:
        settings = Settings(data_dir=Path(tmp) / "var", nats_url=nats.url, database_url="")
        ids = tenants(args.tenants)
        await put_snapshots(settings, ids)
        inserted = await asyncio.to_thread(bulk_insert, settings, ids, args.open)
        print(f"bulk insert: {args.open:,} open callbacks across {len(ids)} tenants in {inserted:.1f} s")
        clock = Clock()
        # a long scheduler interval: the passes below are timed by hand, holding the lease
        app = CallbacksApp(settings, clock=clock, scheduler_interval=3600, lease_ttl=3600)
        await app.start(0)
        try:
            await asyncio.sleep(0.5)  # the first (idle) pass at start
            assert app.scheduler.lease.held
            idle = []
            for _ in range(5):
                t = time.perf_counter()
                await app.scheduler.run_once()
                idle.append(time.perf_counter() - t)
            idle_ms = 1000 * statistics.median(idle)
            print(f"scheduler pass, nothing due, {args.open:,} open: {idle_ms:.1f} ms (median of 5)")
            clock.now = T0 + timedelta(hours=1, minutes=30)
            t = time.perf_counter()
            await app.scheduler.run_once()
            due_s = time.perf_counter() - t
            print(f"scheduler pass, {DUE:,} warnings due: {due_s * 1000:.0f} ms ({DUE / due_s:,.0f} warnings/s)")
            clock.now = T0 + timedelta(minutes=5)
            grpc_figures = await grpc_creates(app, settings, ids, args.creates, args.callers)
            print(
                f"CreateCallback over gRPC, {args.callers} callers: {grpc_figures['per_second']:,.0f}/s, "
                f"p50 {grpc_figures['p50_ms']:.1f} ms, p99 {grpc_figures['p99_ms']:.1f} ms"
            )
            layer = await service_creates(app, ids, args.creates, args.creates)
            print(f"CreateCallback at the service layer, one caller: {layer:,.0f}/s")
            await asyncio.sleep(1.0)
        finally:
            await app.stop()
        print(
            f"summary: {args.open:,} open callbacks, SQLite: create {grpc_figures['per_second']:,.0f}/s over gRPC "
            f"(p99 {grpc_figures['p99_ms']:.0f} ms), {layer:,.0f}/s at the service layer; scheduler pass "
            f"{idle_ms:.1f} ms idle, {due_s * 1000:.0f} ms for {DUE:,} warnings"
        )


if __name__ == "__main__":
    asyncio.run(main())
