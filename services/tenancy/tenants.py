"""Tenants (gemeenten): create, read, list, update and suspend."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import auth, names, paging
from services.common.enums import TENANT_STATES
from services.common.errors import already_exists, invalid_argument
from services.tenancy import convert, listing
from services.tenancy.changes import touch
from services.tenancy.idempotency import remember, replayed
from services.tenancy.models import TenantRow
from services.tenancy.store import Store, apply_mask, require_admin, tenant_row

RESOURCE = "tenant"
DEFAULT_RETENTION_DAYS = 365  # the Selectielijst term for an information request
MAX_RETENTION_DAYS = 3650


def check_retention(days: int, unset_allowed: bool) -> None:
    """A tenant keeps closed callbacks 1..3650 days; a create may leave it unset (the default)."""
    if not (unset_allowed and days == 0) and not 1 <= days <= MAX_RETENTION_DAYS:
        raise invalid_argument("tenant.retention_days", f"must be 1..{MAX_RETENTION_DAYS}")


def new_row(tenant: str, given: pb.Tenant) -> TenantRow:
    return TenantRow(
        id=tenant,
        display_name=given.display_name.strip(),
        state=TENANT_STATES.name(given.state) or "ACTIVE",
        retention_days=given.retention_days or DEFAULT_RETENTION_DAYS,
    )


async def create(store: Store, request: pb.CreateTenantRequest) -> pb.Tenant:
    require_admin()
    tenant = names.check_tenant_id("tenant_id", request.tenant_id)
    if not request.tenant.display_name.strip():
        raise invalid_argument("tenant.display_name", "is required")
    check_retention(request.tenant.retention_days, unset_allowed=True)

    def work(session: Session) -> pb.Tenant:
        if replayed(session, tenant, request) is not None:
            return convert.tenant_msg(tenant_row(session, tenant))
        if session.get(TenantRow, tenant) is not None:
            raise already_exists(f"tenants/{tenant}")
        row = new_row(tenant, request.tenant)
        session.add(row)
        session.flush()
        touch(session, tenant, RESOURCE, f"tenants/{tenant}")
        remember(session, tenant, request, f"tenants/{tenant}")
        return convert.tenant_msg(row)

    return await store.write(tenant, work)


async def get(store: Store, request: pb.GetTenantRequest) -> pb.Tenant:
    (tenant,) = names.parse("name", request.name, "tenants")
    return await store.read(lambda s: convert.tenant_msg(tenant_row(s, tenant)))


async def list_(store: Store, request: pb.ListTenantsRequest) -> pb.ListTenantsResponse:
    principal = auth.current()
    size = paging.page_size(request.page_size)
    terms = listing.parse_filter(request.filter, {"state", "display_name"})

    def work(session: Session) -> pb.ListTenantsResponse:
        stmt = select(TenantRow).order_by(col(TenantRow.id))
        count = select(func.count()).select_from(TenantRow)
        if not principal.all_tenants:
            stmt = stmt.where(col(TenantRow.id).in_(principal.tenants))
            count = count.where(col(TenantRow.id).in_(principal.tenants))
        for field, _op, value in terms:
            cond = (
                col(TenantRow.state) == value.upper()
                if field == "state"
                else col(TenantRow.display_name).contains(value)
            )
            stmt, count = stmt.where(cond), count.where(cond)
        rows, token = listing.page(session, stmt, size, request.page_token, f"tenants|{request.filter}")
        return pb.ListTenantsResponse(
            tenants=[convert.tenant_msg(r) for r in rows],
            next_page_token=token,
            total_size=session.exec(count).one(),
        )

    return await store.read(work)


async def update(store: Store, request: pb.UpdateTenantRequest) -> pb.Tenant:
    require_admin()
    (tenant,) = names.parse("tenant.name", request.tenant.name, "tenants")
    values = {
        "display_name": request.tenant.display_name.strip(),
        "state": TENANT_STATES.name(request.tenant.state),
        "retention_days": request.tenant.retention_days,
    }
    if "display_name" in request.update_mask.paths and not values["display_name"]:
        raise invalid_argument("tenant.display_name", "must not be empty")
    if "state" in request.update_mask.paths and not values["state"]:
        raise invalid_argument("tenant.state", "must be set")
    if "retention_days" in request.update_mask.paths:
        check_retention(request.tenant.retention_days, unset_allowed=False)

    def work(session: Session) -> pb.Tenant:
        row = tenant_row(session, tenant)
        apply_mask(row, values, list(request.update_mask.paths), set(values))
        session.add(row)
        touch(session, tenant, RESOURCE, f"tenants/{tenant}")
        return convert.tenant_msg(row)

    return await store.write(tenant, work)


async def delete(store: Store, request: pb.DeleteTenantRequest) -> None:
    """Tenants are never hard-deleted (callbacks refer to them): deletion suspends."""
    require_admin()
    (tenant,) = names.parse("name", request.name, "tenants")

    def work(session: Session) -> None:
        row = tenant_row(session, tenant)
        row.state = "SUSPENDED"
        session.add(row)
        touch(session, tenant, RESOURCE, f"tenants/{tenant}")

    await store.write(tenant, work)
