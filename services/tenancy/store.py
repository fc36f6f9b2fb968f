"""The data layer's gate and the transaction runner every tenancy resource uses.

`scope()` runs before any row of a tenant is read or written, so a tenant outside the
principal's reach is PERMISSION_DENIED whether or not the row exists. Writes go through
`Store.write`, which tells the outbox relay after the commit and answers once the tenant's snapshot holds it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel

from services.common import auth, names
from services.common.db import Database
from services.common.errors import already_exists, failed_precondition, invalid_argument, not_found
from services.tenancy import changes
from services.tenancy.models import DepartmentRow, TenantRow

Row = TypeVar("Row", bound=SQLModel)
T = TypeVar("T")


class Store:
    """Runs a resource's reads and writes; `on_commit(tenants)` publishes their snapshots."""

    def __init__(self, db: Database, on_commit: Callable[[set[str]], Awaitable[None]]) -> None:
        self.db = db
        self.on_commit = on_commit

    async def read(self, work: Callable[[Session], T]) -> T:
        return await self.db.run(work)

    async def write(self, tenant: str, work: Callable[[Session], T]) -> T:
        try:
            result = await self.db.run(work)
        except IntegrityError as exc:  # a concurrent create of the same row won the race
            raise already_exists("resource") from exc
        await self.on_commit({tenant})
        return result


def require_admin() -> None:
    auth.current().require_role(auth.Role.PLATFORM_ADMIN)


def scope(tenant: str) -> None:
    """Every read and write of a tenant's rows passes here: the principal must reach the tenant."""
    auth.current().require_tenant(tenant)


def tenant_row(session: Session, tenant: str) -> TenantRow:
    scope(tenant)
    row = session.get(TenantRow, tenant)
    if row is None:
        raise not_found(f"tenants/{tenant}")
    return row


def get_row(session: Session, tenant: str, model: type[Row], row_id: str, name: str) -> Row:
    scope(tenant)
    row = session.get(model, (tenant, row_id))
    if row is None:
        raise not_found(name)
    return row


def delete_row(session: Session, tenant: str, model: type[SQLModel], row_id: str, name: str, resource: str) -> None:
    """Deletes a tenant's row; the change event names it `resource`, as its create did."""
    session.delete(get_row(session, tenant, model, row_id, name))
    changes.touch(session, tenant, resource, name)


def own_id(field: str, name: str, tenant: str, collection: str) -> str:
    """The id in `tenants/{tenant}/{collection}/{id}`, or "" for ""; another tenant's is INVALID_ARGUMENT."""
    if not name:
        return ""
    owner, resource_id = names.parse(field, name, "tenants", collection)
    if owner != tenant:
        raise invalid_argument(field, "must belong to the same tenant")
    return resource_id


def require_department(session: Session, tenant: str, department: str) -> None:
    if session.get(DepartmentRow, (tenant, department)) is None:
        raise failed_precondition("DEPARTMENT_NOT_FOUND", f"tenants/{tenant}/departments/{department} does not exist")


def apply_mask(
    row: SQLModel,
    values: dict[str, Any],
    paths: list[str],
    allowed: set[str],
    groups: Mapping[str, tuple[str, ...]] | None = None,
) -> None:
    """Copies the masked fields; a group path (e.g. `answer_target`) stands for its columns. A path
    outside `allowed` is named by its index in the mask, not by its text."""
    if not paths:
        raise invalid_argument("update_mask", "must name the fields to update")
    groups = groups or {}
    for i, path in enumerate(paths):
        fields = groups.get(path, (path,))
        if not set(fields) <= allowed:
            names = sorted(allowed | set(groups))
            raise invalid_argument(f"update_mask.paths[{i}]", f"cannot be updated (allowed: {names})")
        for field in fields:
            setattr(row, field, values[field])
