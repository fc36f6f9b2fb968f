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
    """Runs passes only while it holds the lease, like routing's matcher.

    The holder renews every `renew_seconds` (a quarter of the lease's time to live by default, so
    two or three renewals can fail before it lapses) and runs a pass every `interval_seconds`; it
    stops acting the moment its own deadline passes without a renewal (`Lease.held`), also in the
    middle of a pass. A standby tries to take the lease every `standby_seconds` and runs a pass as
    soon as it has it, so it takes over at most a time to live plus `standby_seconds` after the
    holder's last renewal (10 s + 1 s with the defaults).
    """

    def __init__(
        self,
        db: Database,
        lease: Lease,
        clock: Callable[[], datetime],
        on_commit: Callable[[set[str]], None],
        interval_seconds: float = 5.0,
        batch: int = BATCH,
        writer: Writer | None = None,
        renew_seconds: float | None = None,
        standby_seconds: float = 1.0,
    ) -> None:
        self.db = db
        self.writer = writer or Writer(db)
        self.lease = lease
        self.clock = clock
        self.on_commit = on_commit
        self.interval = interval_seconds
        self.batch = batch
        self.renew_every = lease.ttl / 4 if renew_seconds is None else renew_seconds
        self.standby_every = standby_seconds
        self.passes = 0  # passes run while holding the lease

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass over everything due at `now` (the clock's time unless a test drives it), if we hold
        the lease; returns how many batches changed something."""
        if not self.lease.held:
            return 0
        now = now or self.clock()
        rounds = 0
        while self.lease.held:
            if self._renewal_due() and not await self.lease.acquire():
                break
            tenants = await self.writer.run(lambda s: due_batch(s, now, self.batch))
            if not tenants:
                break
            rounds += 1
            self.on_commit(tenants)
        self.passes += 1
        return rounds

    async def run(self, stop: asyncio.Event) -> None:
        next_pass = 0.0
        while not stop.is_set():
            failed = False
            try:
                if (not self.lease.held or self._renewal_due()) and not await self.lease.acquire():
                    next_pass = 0.0  # standby: pass at once on taking over
                if self.lease.held and time.monotonic() >= next_pass:
                    next_pass = time.monotonic() + self.interval
                    await self.run_once()
            except Exception:  # noqa: BLE001 - NATS or database restarting: the lease lapses by itself
                log.warning("scheduler pass failed", exc_info=True)
                failed = True
            if self.lease.held and not failed:
                until_renewal = self.renew_every - (self.lease.ttl - self.lease.remaining)
                pause = max(0.0, min(until_renewal, next_pass - time.monotonic()))
            else:  # a standby, or a holder that could not renew: try again shortly
                pause = self.standby_every
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        await self.lease.release()

    def _renewal_due(self) -> bool:
        return self.lease.ttl - self.lease.remaining >= self.renew_every
