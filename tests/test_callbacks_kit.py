"""Helpers shared by the callbacks tests: a settable clock, snapshots written straight into KV,
tokens, a running CallbacksApp, and reading back the events it published."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import grpc
from sqlmodel import func, select

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.events.v1 import events_pb2
from services.callbacks.app import CallbacksApp
from services.common import auth, client, snapshots
from services.common.config import Settings
from services.common.errors import error_info
from services.common.events import EventBus
from services.common.outbox import OutboxEvent
from services.common.snapshots import SlaSnapshot, TenantSnapshot
from tests.builders import stored_events

AMS = ZoneInfo("Europe/Amsterdam")
NIJMEGEN = "gm0268"
ARNHEM = "gm0202"
BURGERZAKEN = f"tenants/{NIJMEGEN}/departments/burgerzaken"
BELASTINGEN = f"tenants/{NIJMEGEN}/departments/belastingen"
PHONE = "06 12345678"
PHONE_E164 = "+31612345678"
Metadata = tuple[tuple[str, str], ...]


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMS)  # type: ignore[misc]


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


def tenant_snapshot(tenant: str = NIJMEGEN, retention_days: int = 365) -> TenantSnapshot:
    return TenantSnapshot(
        tenant=tenant,
        display_name=tenant,
        version=1,
        retention_days=retention_days,
        departments={"burgerzaken": "Burgerzaken", "belastingen": "Belastingen", "algemeen": "Algemeen"},
        fallback_department="algemeen",
        sla_policies=[
            SlaSnapshot(callback_working_hours=16, warning_percent=75, max_callback_attempts=3),
            SlaSnapshot(
                department="burgerzaken",
                callback_working_hours=8,
                warning_percent=50,
                max_callback_attempts=3,
                escalation_target="teamleider-burgerzaken",
            ),
            SlaSnapshot(department="belastingen", callback_working_days=2, max_callback_attempts=2),
        ],
    )


def settings_for(tmp_path: Path, nats_url: str, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "var", nats_url=nats_url, database_url=database_url)


async def put_snapshots(settings: Settings, *items: TenantSnapshot) -> None:
    bus = await EventBus.connect(settings, "test-snapshots")
    try:
        kv = await snapshots.bucket(bus)
        for item in items:
            await kv.put(item.tenant, item.to_json())
    finally:
        await bus.close()


def token(
    settings: Settings,
    role: auth.Role = auth.Role.TENANT_INTEGRATION,
    tenants: tuple[str, ...] = (NIJMEGEN,),
    department: str = "",
    subject: str = "nijmegen-telefonie",
) -> Metadata:
    return client.metadata(auth.issue_token(settings.auth_secret, subject, role, list(tenants), department))


def admin(settings: Settings) -> Metadata:
    return token(settings, auth.Role.PLATFORM_ADMIN, (), subject="admin")


@contextlib.asynccontextmanager
async def running(settings: Settings, clock: Clock | None = None, **options: Any) -> AsyncIterator[CallbacksApp]:
    options.setdefault("scheduler_interval", 0.1)
    # short, so a takeover fits in a test; not 1 s, which a busy loop lost between a test's lease check and
    # its run_once (run_once then did nothing: failed once in a full run under load)
    options.setdefault("lease_ttl", 3.0)
    options.setdefault("watch_poll_seconds", 0.2)
    app = CallbacksApp(settings, clock=clock, **options) if clock else CallbacksApp(settings, **options)
    await app.start(0)
    try:
        yield app
    finally:
        await app.stop(0.5)


@contextlib.asynccontextmanager
async def stub_for(app: CallbacksApp) -> AsyncIterator[callbacks_pb2_grpc.CallbackServiceStub]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
        yield callbacks_pb2_grpc.CallbackServiceStub(channel)


def new_callback(department: str = BURGERZAKEN, phone: str = PHONE, note: str = "") -> cb.Callback:
    return cb.Callback(
        department=department,
        product_uri="http://standaarden.overheid.nl/owms/terms/paspoort",
        phone_number=phone,
        note=note,
        preferred_times="na 14:00",
    )


async def create(
    stub: callbacks_pb2_grpc.CallbackServiceStub,
    md: Metadata,
    tenant: str = NIJMEGEN,
    request_id: str = "",
    **fields: Any,
) -> cb.Callback:
    return await stub.CreateCallback(  # type: ignore[no-any-return]
        cb.CreateCallbackRequest(parent=f"tenants/{tenant}", callback=new_callback(**fields), request_id=request_id),
        metadata=md,
    )


def reason(err: grpc.RpcError) -> str:
    info = error_info(err)
    return info.reason if info else ""


async def published(app: CallbacksApp, subject: str = "kcc.*.callback.>") -> list[events_pb2.Envelope]:
    """Every event on `subject` in the stream once the app's outbox is empty (each committed change
    stored), read up to the last one stored: no waiting for a quiet moment."""
    for _ in range(400):
        if not await app.db.run(lambda s: s.exec(select(func.count()).select_from(OutboxEvent)).one()):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the outbox did not drain")
    return await stored_events(app.bus.js, subject)


def changes(envs: list[events_pb2.Envelope], callback: str = "") -> list[str]:
    return [e.callback_changed.change for e in envs if not callback or e.callback_changed.callback == callback]
