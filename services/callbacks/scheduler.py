"""The deadline scheduler: warning, breach and escalation events, sent once each.

One instance acts at a time (a lease in JetStream KV, services/common/lease.py). Each
flag (warned, breached, escalated) is set by compare-and-set in the same transaction as its
change-log row, audit entry and outbox event, so across restarts and failovers no event is
lost (the flag stays unset until the event is committed) and none is sent twice (a set flag
is never picked up again).

- warning: when the policy's warning_percent of the window (working time) has passed (`warn_at`);
- breached: at the deadline, for a callback still open;
- escalated: with the breach, to the policy's escalation_target (when the policy names one).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime

from sqlmodel import Session, col, select

from services.callbacks import repository, states
from services.callbacks.changes import Writer, lock_counter, record
from services.callbacks.models import CallbackRow, aware, utc
from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.lease import Lease

log = logging.getLogger(__name__)

SCHEDULER = Principal(subject="callbacks-scheduler", role=Role.SERVICE)
BATCH = 500


def due_batch(session: Session, now: datetime, batch: int = BATCH) -> set[str]:
    """Handles up to `batch` due warnings and `batch` due breaches; returns the tenants touched.

    The due rows are read first without locks; then the tenants' counters are locked in tenant
    order before any callback row (the lock order every writer keeps), and each row changes by
    compare-and-set, so a row a user changed meanwhile is left for the next pass.
    """
    at = utc(now)
    warn_due = select(CallbackRow).where(
        col(CallbackRow.warned).is_(False), col(CallbackRow.warn_at) <= at, col(CallbackRow.status).in_(states.OPEN)
    )
    breach_due = select(CallbackRow).where(
        col(CallbackRow.breached).is_(False), col(CallbackRow.deadline) <= at, col(CallbackRow.status).in_(states.OPEN)
    )
    warnings = list(session.exec(warn_due.order_by(col(CallbackRow.warn_at)).limit(batch)))
    breaches = list(session.exec(breach_due.order_by(col(CallbackRow.deadline)).limit(batch)))
    for row in {id(r): r for r in warnings + breaches}.values():
        session.expunge(row)
    for tenant in sorted({r.tenant for r in warnings + breaches}):
        lock_counter(session, tenant)
    tenants: set[str] = set()
    for row in warnings:
        if repository.compare_and_set(session, row, {"warned": True}):
            record(session, SCHEDULER, row, "warning", now, f"deadline={aware(row.deadline).isoformat()}")
            tenants.add(row.tenant)
    for row in breaches:
        current = session.exec(
            select(CallbackRow)
            .where(col(CallbackRow.tenant) == row.tenant, col(CallbackRow.id) == row.id)
            .execution_options(populate_existing=True)
        ).first()
        if current is None or current.breached or current.status not in states.OPEN:
            continue
        session.expunge(current)
        escalate = bool(current.escalation_target)
        if repository.compare_and_set(session, current, {"warned": True, "breached": True, "escalated": escalate}):
            record(session, SCHEDULER, current, "breached", now, f"deadline={aware(current.deadline).isoformat()}")
            if escalate:
                record(session, SCHEDULER, current, "escalated", now, f"target={current.escalation_target}")
            tenants.add(current.tenant)
    return tenants


class Scheduler:
    def __init__(
        self,
        db: Database,
        lease: Lease,
        clock: Callable[[], datetime],
        on_commit: Callable[[set[str]], None],
        interval_seconds: float = 5.0,
        batch: int = BATCH,
        writer: Writer | None = None,
    ) -> None:
        self.db = db
        self.writer = writer or Writer(db)
        self.lease = lease
        self.clock = clock
        self.on_commit = on_commit
        self.interval = interval_seconds
        self.batch = batch
        self.passes = 0

    async def run_once(self) -> int:
        """One pass over everything due now; returns how many batches changed something."""
        now = self.clock()
        rounds = 0
        while self.lease.held:
            if self.lease.expires_at - time.time() < self.lease.ttl / 2 and not await self.lease.acquire():
                break
            tenants = await self.writer.run(lambda s: due_batch(s, now, self.batch))
            if not tenants:
                break
            rounds += 1
            self.on_commit(tenants)
        self.passes += 1
        return rounds

    async def run(self, stop: asyncio.Event) -> None:
        """Acts only while it holds the lease; renews it every interval (a third of its time to live)."""
        while not stop.is_set():
            try:
                if await self.lease.acquire():
                    await self.run_once()
            except Exception:  # noqa: BLE001 - NATS or database restarting: next round
                log.warning("scheduler pass failed", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.interval)
        await self.lease.release()
