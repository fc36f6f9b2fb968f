"""Retention: closed callbacks older than the tenant's retention_days are deleted with their trail.

The callback row holds the personal data (encrypted number, note); its audit entries, change
log rows and create-request record go with it. Open callbacks are never purged. Deleting is
idempotent, so several instances running it at once do no harm.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlmodel import Session, col, select

from services.callbacks import states
from services.callbacks.models import AuditRow, CallbackRow, ChangeRow, CreateRequestRow, utc
from services.callbacks.stats import tenants_with_callbacks
from services.common.db import Database
from services.common.snapshots import TenantSnapshot

log = logging.getLogger(__name__)

DEFAULT_RETENTION_DAYS = 365
BATCH = 1000
DAY_SECONDS = 24 * 3600.0


class Snapshots(Protocol):
    def get(self, tenant: str) -> TenantSnapshot | None: ...


def purge_batch(session: Session, tenant: str, cutoff: datetime, batch: int = BATCH) -> int:
    ids = list(
        session.exec(
            select(col(CallbackRow.id))
            .where(
                col(CallbackRow.tenant) == tenant,
                col(CallbackRow.status).in_(states.CLOSED),
                col(CallbackRow.closed_time) < utc(cutoff),
            )
            .limit(batch)
        )
    )
    if not ids:
        return 0
    for model, id_column in (
        (AuditRow, AuditRow.callback_id),
        (ChangeRow, ChangeRow.callback_id),
        (CreateRequestRow, CreateRequestRow.callback_id),
        (CallbackRow, CallbackRow.id),
    ):
        session.connection().execute(
            delete(model).where(col(model.tenant) == tenant, col(id_column).in_(ids))  # type: ignore[attr-defined]
        )
    return len(ids)


async def purge(db: Database, snapshots: Snapshots, now: datetime) -> dict[str, int]:
    """Purges every tenant once; returns the number of callbacks deleted per tenant."""
    deleted: dict[str, int] = {}
    for tenant in await db.run(tenants_with_callbacks):
        snapshot = snapshots.get(tenant)
        days = snapshot.retention_days if snapshot and snapshot.retention_days > 0 else DEFAULT_RETENTION_DAYS
        cutoff = now - timedelta(days=days)
        total = 0
        while True:
            count = await db.run(lambda s, t=tenant, c=cutoff: purge_batch(s, t, c))  # type: ignore[misc]
            total += count
            if count < BATCH:
                break
        if total:
            log.info("purged %d closed callbacks of %s (retention %d days)", total, tenant, days)
        deleted[tenant] = total
    return deleted


def daily(db: Database, snapshots: Snapshots, clock: Callable[[], datetime], every: float = DAY_SECONDS):
    """A background loop: purge at start and then once a day."""

    async def run(stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await purge(db, snapshots, clock())
            except Exception:  # noqa: BLE001 - database busy or down: try again next round
                log.warning("purge failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    return run
