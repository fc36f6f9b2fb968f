"""Compiles a tenant's rows into its snapshot and writes it to the KV bucket after each commit.

A snapshot only ever replaces an older version: the write is a compare-and-set on the key's
revision, and a writer that loses the race reads again and writes only while its version is
still newer. So two tenancy replicas, or a slow compile racing a quick one, never leave an older
catalogue in the bucket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue
from sqlmodel import Session, select

from services.common import snapshots
from services.common.db import Database
from services.common.events import EventBus
from services.common.resting import rest
from services.common.snapshots import ProductSnapshot, SlaSnapshot, TenantSnapshot
from services.tenancy import lexicon
from services.tenancy.models import (
    CalendarRow,
    DepartmentRow,
    EntryPointRow,
    ProductRow,
    SlaPolicyRow,
    TenantRow,
)

log = logging.getLogger(__name__)


def compile_snapshot(session: Session, tenant: str) -> TenantSnapshot | None:
    row = session.get(TenantRow, tenant)
    if row is None:
        return None
    departments = list(session.exec(select(DepartmentRow).where(DepartmentRow.tenant == tenant)))
    products = session.exec(select(ProductRow).where(ProductRow.tenant == tenant, ProductRow.enabled == True))  # noqa: E712
    calendar = session.get(CalendarRow, tenant)
    phrases = lexicon.changes(session, tenant)
    return TenantSnapshot(
        tenant=tenant,
        display_name=row.display_name,
        state=row.state,
        version=row.snapshot_version,
        lexicon_version=lexicon.default_version(),
        retention_days=row.retention_days,
        departments={d.id: d.display_name for d in departments},
        fallback_department=next((d.id for d in departments if d.fallback), ""),
        products=[
            ProductSnapshot(
                uri=p.upl_uri,
                slug=p.id,
                name=p.display_name,
                department=p.department,
                handling=p.handling,
                synonyms=lexicon.product_phrases(p, phrases.get(p.id)),
                ivr_codes=tuple(json.loads(p.ivr_codes)),
            )
            for p in products
        ],
        entry_points=[
            (e.kind, e.value) for e in session.exec(select(EntryPointRow).where(EntryPointRow.tenant == tenant))
        ],
        sla_policies=[
            SlaSnapshot(
                channel=s.channel,
                department=s.department,
                product=s.product,
                answer_seconds=s.answer_seconds,
                answer_percent=s.answer_percent,
                callback_working_hours=s.callback_working_hours,
                callback_working_days=s.callback_working_days,
                warning_percent=s.warning_percent,
                max_callback_attempts=s.max_callback_attempts,
                escalation_target=s.escalation_target,
            )
            for s in session.exec(select(SlaPolicyRow).where(SlaPolicyRow.tenant == tenant))
        ],
        calendar=json.loads(calendar.definition) if calendar else None,
    )


async def write_snapshot(kv: KeyValue, snapshot: TenantSnapshot) -> bool:
    """Writes `snapshot` unless the bucket holds the same or a newer version; True if it wrote."""
    value = snapshot.to_json()
    while True:
        try:
            entry = await kv.get(snapshot.tenant)
        except KeyNotFoundError:  # never written, or deleted
            entry = None
        try:
            if entry is None or not entry.value:
                await kv.create(snapshot.tenant, value)
                return True
            if TenantSnapshot.version_of(entry.value) >= snapshot.version:
                return False
            await kv.update(snapshot.tenant, value, last=entry.revision)
            return True
        except KeyWrongLastSequenceError:
            continue  # written by someone else since we read it: compare again


class SnapshotPublisher:
    """Recompiles changed tenants in the background and lets a call wait until its change is in the
    bucket: a partner that made a department can file a callback for it the next moment, and
    callbacks can say at once that a department the bucket does not hold does not exist."""

    def __init__(self, db: Database, bus: EventBus) -> None:
        self.db = db
        self.bus = bus
        self._dirty: set[str] = set()
        self._marks = 0  # commits told so far; a tenant's snapshot covers every mark before its compile
        self._published: dict[str, int] = {}
        self._written = asyncio.Condition()
        self._wake = asyncio.Event()

    def mark(self, tenants: set[str]) -> int:
        self._marks += 1
        self._dirty |= tenants
        self._wake.set()
        return self._marks

    async def publish(self, tenants: set[str], within: float) -> None:
        """Marks the tenants and waits, at most `within` seconds (NATS away), until their snapshots
        hold this commit; after that the background writer goes on trying."""
        mark = self.mark(tenants)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within), self._written:
                await self._written.wait_for(lambda: all(self._published.get(t, 0) >= mark for t in tenants))

    async def republish_all(self) -> None:
        """At start: heals a crash between a commit and its KV write."""
        tenants = await self.db.run(lambda s: set(s.exec(select(TenantRow.id))))
        self.mark(tenants)

    async def run(self, stop: asyncio.Event) -> None:
        kv = await snapshots.bucket(self.bus)
        while not stop.is_set():
            if not self._dirty:
                self._wake.clear()
                await rest(1.0, self._wake, stop)
                continue
            # A burst of changes (onboarding, two replicas' callers at once) marks tenants while a
            # compile runs; the next round takes them all and costs one compile and write each.
            batch, self._dirty, marks = self._dirty, set(), self._marks
            for tenant in sorted(batch):
                try:
                    snapshot = await self.db.run(lambda s, t=tenant: compile_snapshot(s, t))  # type: ignore[misc]
                    if snapshot is not None:
                        await write_snapshot(kv, snapshot)
                except Exception:  # noqa: BLE001 - NATS restarting: try the tenant again shortly
                    log.warning("snapshot of %s not written yet, retrying", tenant, exc_info=True)
                    self._dirty.add(tenant)
                    await asyncio.sleep(0.5)
                    continue
                async with self._written:
                    self._published[tenant] = marks
                    self._written.notify_all()
