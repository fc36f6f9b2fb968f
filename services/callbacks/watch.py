"""WatchCallbacks: a department's worklist as a stream of changes, resumable by sequence.

Protocol, for clients:
- The stream's initial metadata carries `kcc-stream: open` once the request is accepted, before any item.
- `after_sequence = 0`: first the current open worklist (change `current`), then live changes.
  The `current` items carry sequence 0 except the last, which carries the high-water mark;
  a client keeps the latest non-zero sequence it saw and resumes with it (if it saw none,
  it resumes with 0 and gets the worklist again). No change is lost across a disconnect.
- `after_sequence = n`: every change after n, then live changes.
- Each item's `callback` is the callback's state when the item is sent (upsert it by name;
  drop it from a worklist when it is closed or now belongs to another department). A
  forwarded callback is sent to the watchers of both departments.

Live changes are found by polling the change log (which covers other processes' commits),
and at once when this process commits one (ChangeNotifier).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import or_
from sqlmodel import Session, col, select

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.callbacks import convert, repository, states
from services.callbacks.changes import ChangeNotifier
from services.callbacks.crypto import Vault
from services.callbacks.models import CallbackRow, ChangeCounterRow, ChangeRow
from services.common import auth, names, server
from services.common.db import Database
from services.common.errors import invalid_argument

BATCH = 500


async def watch(
    db: Database, notifier: ChangeNotifier, vault: Vault, request: pb.WatchCallbacksRequest, poll_seconds: float
) -> AsyncIterator[pb.WatchCallbacksResponse]:
    (tenant,) = names.parse("parent", request.parent, "tenants")
    department = repository.department_id(tenant, request.department, "department") if request.department else None
    principal = repository.scope(tenant, department)
    if principal.role == auth.Role.DEPARTMENT_USER:
        department = principal.department
    if request.after_sequence < 0:
        raise invalid_argument("after_sequence", "must not be negative")
    after = request.after_sequence
    with notifier.listen(tenant) as waiter:  # listening before the first read: no wake-up is lost
        yield server.OPEN
        if after == 0:
            high, rows = await db.run(lambda s: _worklist(s, tenant, department))
            for i, row in enumerate(rows):
                yield pb.WatchCallbacksResponse(
                    callback=convert.callback_msg(row, vault),
                    change="current",
                    sequence=high if i == len(rows) - 1 else 0,
                )
            after = high
        while True:
            waiter.clear()
            changes = await db.run(lambda s, since=after: _changes(s, tenant, department, since))  # type: ignore[misc]
            for change, current in changes:
                message = (
                    convert.callback_msg(current, vault)
                    if current is not None
                    else pb.Callback(
                        name=repository.callback_name(tenant, change.callback_id),
                        status=convert.status_value(change.status),  # type: ignore[arg-type]
                    )
                )
                yield pb.WatchCallbacksResponse(callback=message, change=change.change, sequence=change.sequence)
                after = change.sequence
            if len(changes) < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(waiter.wait(), poll_seconds)


def _worklist(session: Session, tenant: str, department: str | None) -> tuple[int, list[CallbackRow]]:
    """The high-water mark first, then the open callbacks: a change in between is sent twice, never lost."""
    repository.scope(tenant, department)
    counter = session.get(ChangeCounterRow, tenant)
    high = counter.last_sequence if counter else 0
    stmt = select(CallbackRow).where(col(CallbackRow.tenant) == tenant, col(CallbackRow.status).in_(states.OPEN))
    if department is not None:
        stmt = stmt.where(col(CallbackRow.department) == department)
    return high, list(session.exec(stmt.order_by(col(CallbackRow.deadline), col(CallbackRow.id))))


def _changes(
    session: Session, tenant: str, department: str | None, after: int
) -> list[tuple[ChangeRow, CallbackRow | None]]:
    repository.scope(tenant, department)
    stmt = (
        select(ChangeRow, CallbackRow)
        .join(
            CallbackRow,
            (col(CallbackRow.tenant) == col(ChangeRow.tenant)) & (col(CallbackRow.id) == col(ChangeRow.callback_id)),
            isouter=True,
        )
        .where(col(ChangeRow.tenant) == tenant, col(ChangeRow.sequence) > after)
    )
    if department is not None:
        stmt = stmt.where(or_(col(ChangeRow.department) == department, col(ChangeRow.from_department) == department))
    return [(c, r) for c, r in session.exec(stmt.order_by(col(ChangeRow.sequence)).limit(BATCH))]
