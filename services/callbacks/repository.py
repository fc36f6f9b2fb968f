"""The data layer's gate: every read or write of a tenant's callbacks is scoped by the caller's principal.

`scope()` runs before any query is built, so a tenant outside the principal's reach is
PERMISSION_DENIED whether or not the callback exists. Department users reach only their
own department's callbacks; another department's is NOT_FOUND, like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from services.callbacks.models import CallbackRow
from services.common import auth, names
from services.common.errors import invalid_argument, not_found


def scope(tenant: str, department: str | None = None) -> auth.Principal:
    principal = auth.current()
    principal.require_tenant(tenant)
    if department is not None:
        principal.require_department(department)
    return principal


def department_id(tenant: str, value: str, field_name: str) -> str:
    """Accepts `tenants/{tenant}/departments/{id}` or a bare id; the tenant must match."""
    if "/" in (value or ""):
        owner, dept = names.parse(field_name, value, "tenants", "departments")
        if owner != tenant:
            raise invalid_argument(field_name, "must be a department of the same tenant")
        return dept
    return names.check_id(field_name, value)


def callback_name(tenant: str, callback_id: str) -> str:
    return f"tenants/{tenant}/callbacks/{callback_id}"


def load(session: Session, tenant: str, callback_id: str) -> CallbackRow:
    """The current row, detached (changes to it are not flushed); PERMISSION_DENIED for another
    tenant; NOT_FOUND for an id that does not exist and, to a department user, for another
    department's callback alike, so that ids cannot be probed."""
    principal = scope(tenant)
    row = session.exec(
        select(CallbackRow)
        .where(col(CallbackRow.tenant) == tenant, col(CallbackRow.id) == callback_id)
        .execution_options(populate_existing=True)
    ).first()
    if row is None or principal.role == auth.Role.DEPARTMENT_USER and row.department != principal.department:
        raise not_found(callback_name(tenant, callback_id))
    session.expunge(row)
    return row


def compare_and_set(session: Session, row: CallbackRow, values: dict[str, Any]) -> bool:
    """UPDATE ... WHERE version = the version read: of two concurrent writers exactly one wins.

    On PostgreSQL the loser waits for the winner's row lock and then finds the version
    changed; on SQLite writers are serialised and the loser's UPDATE sees the new version.
    On success `row` carries the new values.
    """
    stmt = (
        update(CallbackRow)
        .where(
            col(CallbackRow.tenant) == row.tenant,
            col(CallbackRow.id) == row.id,
            col(CallbackRow.version) == row.version,
        )
        .values(**values, version=row.version + 1)
    )
    if session.connection().execute(stmt).rowcount != 1:
        return False
    for key, value in values.items():
        setattr(row, key, value)
    row.version += 1
    return True
