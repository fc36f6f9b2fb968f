"""One change to a callback, written in the caller's transaction: change log row, audit entry, event.

The change log gives each tenant a gap-free sequence in commit order: the per-tenant counter
row is locked (UPDATE ... RETURNING) until the transaction commits, so a later sequence can
never become visible before an earlier one. WatchCallbacks relies on that to resume
without missing a change.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from sqlalchemy import bindparam, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from kcc.events.v1 import events_pb2
from services.callbacks.models import AuditRow, CallbackRow, ChangeCounterRow, ChangeRow, aware, utc
from services.callbacks.repository import callback_name
from services.common import events
from services.common.auth import Principal
from services.common.db import Database
from services.common.outbox import add_event

T = TypeVar("T")


def department_name(tenant: str, department: str) -> str:
    return f"tenants/{tenant}/departments/{department}" if department else ""


_BUMP = (
    update(ChangeCounterRow)
    .where(col(ChangeCounterRow.tenant) == bindparam("counter_tenant"))
    .values(last_sequence=col(ChangeCounterRow.last_sequence) + 1)
    .returning(col(ChangeCounterRow.last_sequence))
)


def lock_counter(session: Session, tenant: str) -> None:
    """Takes the tenant's counter lock first (PostgreSQL; SQLite has one writer anyway).

    Lock order is always counter(s), in tenant order, then callback rows; a transition that
    took its row first and the counter second could deadlock with a scheduler batch.
    """
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        return
    stmt = select(col(ChangeCounterRow.tenant)).where(col(ChangeCounterRow.tenant) == tenant).with_for_update()
    if conn.execute(stmt).first() is None:
        conn.execute(
            postgresql.insert(ChangeCounterRow).values(tenant=tenant, last_sequence=0).on_conflict_do_nothing()
        )
        conn.execute(stmt)


def next_sequence(session: Session, tenant: str) -> int:
    """The tenant's next change sequence; the counter row stays locked until the caller commits."""
    conn = session.connection()
    value = conn.execute(_BUMP, {"counter_tenant": tenant}).scalar_one_or_none()
    if value is None:  # the tenant's first change: create the counter (racing creators are harmless)
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        conn.execute(insert(ChangeCounterRow).values(tenant=tenant, last_sequence=0).on_conflict_do_nothing())
        value = conn.execute(_BUMP, {"counter_tenant": tenant}).scalar_one()
    return int(value)


def record(
    session: Session,
    principal: Principal,
    row: CallbackRow,
    change: str,
    now: datetime,
    detail: str = "",
    from_department: str = "",
) -> int:
    """Stages the change log row, the audit entry and the `kcc.<tenant>.callback.<change>` event.

    `detail` goes to the audit trail and must not hold personal data (no number, no note).
    The event carries the pseudonymous citizen key, never the phone number or the note.
    """
    sequence = next_sequence(session, row.tenant)
    conn = session.connection()  # plain inserts: the hot path need not pay for the ORM
    conn.execute(
        insert(ChangeRow).values(
            tenant=row.tenant,
            sequence=sequence,
            callback_id=row.id,
            change=change,
            department=row.department,
            from_department=from_department,
            status=row.status,
            time=utc(now),
        )
    )
    conn.execute(
        insert(AuditRow).values(
            tenant=row.tenant,
            callback_id=row.id,
            principal=principal.subject,
            role=principal.role.value,
            action=change,
            detail=detail,
            time=utc(now),
        )
    )
    payload = events_pb2.CallbackChanged(
        callback=callback_name(row.tenant, row.id),
        change=change,
        status=row.status,
        department=department_name(row.tenant, row.department),
        product_uri=row.product_uri,
        citizen_key=row.citizen_key,
        assignee=row.assignee,
        principal=principal.subject,
        escalation_target=row.escalation_target if change == "escalated" else "",
    )
    payload.deadline.FromDatetime(aware(row.deadline))
    env = events.envelope(row.tenant, callback_changed=payload)
    add_event(session, events.subject(row.tenant, "callback", change), env)
    return sequence


class Writer:
    """Runs write transactions. On SQLite only one runs at a time in this process: SQLite takes one
    writer anyway, and waiting here is far cheaper than its busy handler's sleeps under contention."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = asyncio.Lock() if db.engine.dialect.name == "sqlite" else None

    async def run(self, work: Callable[[Session], T]) -> T:
        if self._lock is None:
            return await self.db.run(work)
        async with self._lock:
            return await self.db.run(work)


class ChangeNotifier:
    """Wakes this process's watchers after a commit; watchers also poll, for other processes' commits."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def notify(self, tenants: set[str]) -> None:
        for tenant in tenants:
            for waiter in self._waiters.get(tenant, ()):
                waiter.set()

    @contextlib.contextmanager
    def listen(self, tenant: str) -> Iterator[asyncio.Event]:
        waiter = asyncio.Event()
        self._waiters.setdefault(tenant, set()).add(waiter)
        try:
            yield waiter
        finally:
            self._waiters[tenant].discard(waiter)
