"""The OnboardTenant RPC: tenant, departments, catalogue and entry points in one transaction.

It is composed of the same functions as the per-resource RPCs, and is idempotent: what exists
is left alone, so running it again changes nothing, or brings a new name or UPL product in.
One transaction means one event and one snapshot version (the client side is onboarding.py).
"""

from __future__ import annotations

from sqlmodel import Session, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import names
from services.common.enums import ENTRY_KINDS
from services.common.errors import invalid_argument
from services.tenancy import catalogue, convert, departments, entry_points, tenants
from services.tenancy.changes import touch
from services.tenancy.models import DepartmentRow, TenantRow
from services.tenancy.store import Store, require_admin, scope


def _departments(tenant: str, request: pb.OnboardTenantRequest) -> list[tuple[str, str, bool]]:
    found: list[tuple[str, str, bool]] = []
    for i, dep in enumerate(request.departments):
        field = f"departments[{i}].name"
        dep_tenant, dep_id = names.parse(field, dep.name, "tenants", "departments")
        if dep_tenant != tenant:
            raise invalid_argument(field, "must belong to the tenant being onboarded")
        if not dep.display_name.strip():
            raise invalid_argument(f"departments[{i}].display_name", "is required")
        found.append((dep_id, dep.display_name.strip(), dep.fallback))
    return found


def _entry_points(tenant: str, request: pb.OnboardTenantRequest) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for i, ep in enumerate(request.entry_points):
        field = f"entry_points[{i}].name"
        ep_tenant, ep_id = names.parse(field, ep.name, "tenants", "entryPoints")
        if ep_tenant != tenant:
            raise invalid_argument(field, "must belong to the tenant being onboarded")
        kind = ENTRY_KINDS.name(ep.kind)
        found.append((ep_id, kind, entry_points.normalise_value(kind, ep.value)))
    return found


async def onboard(store: Store, request: pb.OnboardTenantRequest) -> pb.OnboardTenantResponse:
    require_admin()
    tenant = names.check_tenant_id("tenant_id", request.tenant_id)
    display_name = request.tenant.display_name.strip()
    if not display_name:
        raise invalid_argument("tenant.display_name", "is required")
    tenants.check_retention(request.tenant.retention_days, unset_allowed=True)
    wanted_departments = _departments(tenant, request)
    wanted_entry_points = _entry_points(tenant, request)

    def work(session: Session) -> pb.OnboardTenantResponse:
        scope(tenant)
        reply = pb.OnboardTenantResponse()
        row = session.get(TenantRow, tenant)
        if row is None:
            row = tenants.new_row(tenant, request.tenant)
            session.add(row)
            session.flush()  # the rows below refer to it
            reply.tenant_created = True
        elif row.display_name != display_name:
            row.display_name = display_name
            session.add(row)
            reply.tenant_renamed = True
        existing = {d.id: d for d in session.exec(select(DepartmentRow).where(DepartmentRow.tenant == tenant))}
        has_fallback = any(d.fallback for d in existing.values())
        for dep_id, dep_name, fallback in wanted_departments:
            if dep_id in existing:
                continue
            fallback = fallback and not has_fallback
            has_fallback = has_fallback or fallback
            existing[dep_id] = departments.add(session, tenant, dep_id, dep_name, fallback)
            reply.departments_created.append(departments.name_of(tenant, dep_id))
        session.flush()
        created, updated, unchanged = catalogue.import_upl_rows(session, tenant, request.rows)
        reply.products.created, reply.products.updated, reply.products.unchanged = created, updated, unchanged
        for i, (ep_id, kind, value) in enumerate(wanted_entry_points):
            if entry_points.add(session, tenant, ep_id, kind, value, f"entry_points[{i}]") is not None:
                reply.entry_points_created.append(f"tenants/{tenant}/entryPoints/{ep_id}")
        changed = (
            reply.tenant_created
            or reply.tenant_renamed
            or reply.departments_created
            or created
            or updated
            or reply.entry_points_created
        )
        if changed:
            touch(session, tenant, tenants.RESOURCE, f"tenants/{tenant}")
        reply.tenant.CopyFrom(convert.tenant_msg(row))
        return reply

    return await store.write(tenant, work)
