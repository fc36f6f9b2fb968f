"""TenancyService: admins onboard gemeenten; every change bumps the tenant's snapshot version.

Each write commits its rows and a `tenancy.changed` event together (outbox); after
the commit the snapshot publisher compiles the tenant's snapshot into JetStream KV.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from google.protobuf import empty_pb2
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, col, func, select

from kcc.events.v1 import events_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import auth, events, names, paging
from services.common.calendar import DEFAULT_CALENDAR, BusinessCalendar
from services.common.citizen import normalise_phone
from services.common.db import Database
from services.common.errors import already_exists, failed_precondition, invalid_argument, not_found
from services.common.outbox import add_event
from services.tenancy import convert
from services.tenancy.models import (
    CalendarRow,
    CreateRequestRow,
    DepartmentRow,
    EntryPointRow,
    ProductRow,
    SlaPolicyRow,
    TenantRow,
    utcnow,
)

Row = TypeVar("Row", bound=SQLModel)
FILTER_TERM = re.compile(r"^(\w+)(=|:)(.+)$")
CALENDAR_FIELDS = ("time_zone", "weekly_hours", "special_days", "observe_public_holidays")


def require_admin() -> None:
    auth.current().require_role(auth.Role.PLATFORM_ADMIN)


def scope(tenant: str) -> None:
    """Every read and write of a tenant's rows passes here: the principal must reach the tenant."""
    auth.current().require_tenant(tenant)


def _tenant_row(session: Session, tenant: str) -> TenantRow:
    scope(tenant)
    row = session.get(TenantRow, tenant)
    if row is None:
        raise not_found(f"tenants/{tenant}")
    return row


def touch(session: Session, tenant: str, resource: str, resource_name: str) -> None:
    """Marks a tenant changed in the same transaction: new snapshot version and an event."""
    row = _tenant_row(session, tenant)
    row.snapshot_version += 1
    row.update_time = utcnow()
    session.add(row)
    env = events.envelope(
        tenant,
        tenant_changed=events_pb2.TenantChanged(
            tenant=f"tenants/{tenant}",
            snapshot_version=row.snapshot_version,
            resource=resource,
            resource_name=resource_name,
        ),
    )
    add_event(session, events.subject(tenant, "tenancy", "changed"), env)


def _remembered(session: Session, request_id: str) -> str | None:
    if not request_id:
        return None
    names.check_request_id(request_id)
    record = session.get(CreateRequestRow, request_id)
    return record.resource_name if record else None


def _remember(session: Session, request_id: str, name: str) -> None:
    if request_id:
        session.add(CreateRequestRow(request_id=request_id, resource_name=name))


def _apply_mask(row: SQLModel, values: dict[str, Any], paths: list[str], allowed: set[str]) -> None:
    if not paths:
        raise invalid_argument("update_mask", "must name the fields to update")
    for path in paths:
        if path not in allowed:
            raise invalid_argument("update_mask", f"{path!r} cannot be updated (allowed: {sorted(allowed)})")
        setattr(row, path, values[path])


def _page(session: Session, stmt: Any, size: int, token: str, query: str) -> tuple[list[Any], str]:
    offset = paging.decode(token, query)
    rows = list(session.exec(stmt.offset(offset).limit(size + 1)))
    return rows[:size], paging.next_token(offset, size, len(rows), query)


def _parse_filter(text: str, allowed: set[str]) -> list[tuple[str, str, str]]:
    terms = []
    for raw in filter(None, (t.strip() for t in re.split(r"\s+AND\s+", text or ""))):
        match = FILTER_TERM.match(raw)
        if not match or match.group(1) not in allowed:
            raise invalid_argument("filter", f"unsupported term {raw!r} (fields: {sorted(allowed)})")
        terms.append((match.group(1), match.group(2), match.group(3).strip().strip('"')))
    return terms


class TenancyService(tenancy_pb2_grpc.TenancyServiceServicer):
    def __init__(self, db: Database, on_commit: Callable[[set[str]], None]) -> None:
        self.db = db
        self.on_commit = on_commit  # tenants whose snapshot must be recompiled

    async def _write(self, tenants: set[str], work: Callable[[Session], Any]) -> Any:
        try:
            result = await self.db.run(work)
        except IntegrityError as exc:
            raise already_exists("resource") from exc
        self.on_commit(tenants)
        return result

    # Tenants ---------------------------------------------------------------

    async def CreateTenant(self, request: pb.CreateTenantRequest, context: Any) -> pb.Tenant:
        require_admin()
        tenant = names.check_tenant_id("tenant_id", request.tenant_id)
        if not request.tenant.display_name.strip():
            raise invalid_argument("tenant.display_name", "is required")

        def work(session: Session) -> pb.Tenant:
            if _remembered(session, request.request_id):
                return convert.tenant_msg(_tenant_row(session, tenant))
            if session.get(TenantRow, tenant) is not None:
                raise already_exists(f"tenants/{tenant}")
            row = TenantRow(
                id=tenant,
                display_name=request.tenant.display_name.strip(),
                state=pb.Tenant.State.Name(request.tenant.state or pb.Tenant.STATE_ACTIVE).removeprefix("STATE_"),
                retention_days=request.tenant.retention_days or 365,
            )
            session.add(row)
            session.flush()
            touch(session, tenant, "tenant", f"tenants/{tenant}")
            _remember(session, request.request_id, f"tenants/{tenant}")
            return convert.tenant_msg(row)

        return await self._write({tenant}, work)

    async def GetTenant(self, request: pb.GetTenantRequest, context: Any) -> pb.Tenant:
        (tenant,) = names.parse("name", request.name, "tenants")
        return await self.db.run(lambda s: convert.tenant_msg(_tenant_row(s, tenant)))

    async def ListTenants(self, request: pb.ListTenantsRequest, context: Any) -> pb.ListTenantsResponse:
        principal = auth.current()
        size = paging.page_size(request.page_size)
        terms = _parse_filter(request.filter, {"state", "display_name"})

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
            rows, token = _page(session, stmt, size, request.page_token, f"tenants|{request.filter}")
            return pb.ListTenantsResponse(
                tenants=[convert.tenant_msg(r) for r in rows],
                next_page_token=token,
                total_size=session.exec(count).one(),
            )

        return await self.db.run(work)

    async def UpdateTenant(self, request: pb.UpdateTenantRequest, context: Any) -> pb.Tenant:
        require_admin()
        (tenant,) = names.parse("tenant.name", request.tenant.name, "tenants")
        values = {
            "display_name": request.tenant.display_name.strip(),
            "state": pb.Tenant.State.Name(request.tenant.state).removeprefix("STATE_"),
            "retention_days": request.tenant.retention_days,
        }
        if "display_name" in request.update_mask.paths and not values["display_name"]:
            raise invalid_argument("tenant.display_name", "must not be empty")
        if "state" in request.update_mask.paths and values["state"] == "UNSPECIFIED":
            raise invalid_argument("tenant.state", "must be set")
        if "retention_days" in request.update_mask.paths and not 1 <= request.tenant.retention_days <= 3650:
            raise invalid_argument("tenant.retention_days", "must be 1..3650")

        def work(session: Session) -> pb.Tenant:
            row = _tenant_row(session, tenant)
            _apply_mask(row, values, list(request.update_mask.paths), set(values))
            session.add(row)
            touch(session, tenant, "tenant", f"tenants/{tenant}")
            return convert.tenant_msg(row)

        return await self._write({tenant}, work)

    async def DeleteTenant(self, request: pb.DeleteTenantRequest, context: Any) -> empty_pb2.Empty:
        """Tenants are never hard-deleted (callbacks refer to them): deletion suspends."""
        require_admin()
        (tenant,) = names.parse("name", request.name, "tenants")

        def work(session: Session) -> empty_pb2.Empty:
            row = _tenant_row(session, tenant)
            row.state = "SUSPENDED"
            session.add(row)
            touch(session, tenant, "tenant", f"tenants/{tenant}")
            return empty_pb2.Empty()

        return await self._write({tenant}, work)

    # Entry points ----------------------------------------------------------

    async def CreateEntryPoint(self, request: pb.CreateEntryPointRequest, context: Any) -> pb.EntryPoint:
        require_admin()
        (tenant,) = names.parse("parent", request.parent, "tenants")
        ep_id = names.check_id("entry_point_id", request.entry_point_id)
        kind = convert.ENTRY_KINDS.get(request.entry_point.kind, "UNSPECIFIED")
        value = normalise_entry_value(kind, request.entry_point.value)
        name = f"tenants/{tenant}/entryPoints/{ep_id}"

        def work(session: Session) -> pb.EntryPoint:
            _tenant_row(session, tenant)
            if not _remembered(session, request.request_id):
                taken = session.exec(
                    select(EntryPointRow).where(EntryPointRow.kind == kind, EntryPointRow.value == value)
                ).first()
                if taken is not None:
                    raise failed_precondition("ENTRY_POINT_TAKEN", "this entry point already belongs to a tenant")
                session.add(EntryPointRow(tenant=tenant, id=ep_id, kind=kind, value=value))
                touch(session, tenant, "entry_point", name)
                _remember(session, request.request_id, name)
            return pb.EntryPoint(name=name, kind=request.entry_point.kind, value=value)

        return await self._write({tenant}, work)

    async def ListEntryPoints(self, request: pb.ListEntryPointsRequest, context: Any) -> pb.ListEntryPointsResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        size = paging.page_size(request.page_size)

        def work(session: Session) -> pb.ListEntryPointsResponse:
            _tenant_row(session, tenant)
            stmt = select(EntryPointRow).where(EntryPointRow.tenant == tenant).order_by(col(EntryPointRow.id))
            rows, token = _page(session, stmt, size, request.page_token, f"ep|{tenant}")
            return pb.ListEntryPointsResponse(entry_points=[_entry_msg(r) for r in rows], next_page_token=token)

        return await self.db.run(work)

    async def DeleteEntryPoint(self, request: pb.DeleteEntryPointRequest, context: Any) -> empty_pb2.Empty:
        require_admin()
        tenant, ep_id = names.parse("name", request.name, "tenants", "entryPoints")
        return await self._write({tenant}, lambda s: _delete(s, tenant, EntryPointRow, ep_id, request.name))

    async def ResolveEntryPoint(self, request: pb.ResolveEntryPointRequest, context: Any) -> pb.EntryPoint:
        kind = convert.ENTRY_KINDS.get(request.kind, "UNSPECIFIED")
        value = normalise_entry_value(kind, request.value)

        def work(session: Session) -> pb.EntryPoint:
            row = session.exec(
                select(EntryPointRow).where(EntryPointRow.kind == kind, EntryPointRow.value == value)
            ).first()
            if row is None or not auth.current().may_access(row.tenant):
                raise not_found("entry point")
            return _entry_msg(row)

        return await self.db.run(work)

    # Departments -----------------------------------------------------------

    async def CreateDepartment(self, request: pb.CreateDepartmentRequest, context: Any) -> pb.Department:
        require_admin()
        (tenant,) = names.parse("parent", request.parent, "tenants")
        dep_id = names.check_id("department_id", request.department_id)
        if not request.department.display_name.strip():
            raise invalid_argument("department.display_name", "is required")
        name = f"tenants/{tenant}/departments/{dep_id}"

        def work(session: Session) -> pb.Department:
            _tenant_row(session, tenant)
            if _remembered(session, request.request_id):
                return convert.department_msg(_get(session, tenant, DepartmentRow, dep_id, name))
            if session.get(DepartmentRow, (tenant, dep_id)) is not None:
                raise already_exists(name)
            row = DepartmentRow(
                tenant=tenant,
                id=dep_id,
                display_name=request.department.display_name.strip(),
                fallback=request.department.fallback,
            )
            session.add(row)
            touch(session, tenant, "department", name)
            _remember(session, request.request_id, name)
            return convert.department_msg(row)

        return await self._write({tenant}, work)

    async def GetDepartment(self, request: pb.GetDepartmentRequest, context: Any) -> pb.Department:
        tenant, dep_id = names.parse("name", request.name, "tenants", "departments")
        return await self.db.run(lambda s: convert.department_msg(_get(s, tenant, DepartmentRow, dep_id, request.name)))

    async def ListDepartments(self, request: pb.ListDepartmentsRequest, context: Any) -> pb.ListDepartmentsResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        size = paging.page_size(request.page_size)

        def work(session: Session) -> pb.ListDepartmentsResponse:
            _tenant_row(session, tenant)
            stmt = select(DepartmentRow).where(DepartmentRow.tenant == tenant).order_by(col(DepartmentRow.id))
            rows, token = _page(session, stmt, size, request.page_token, f"dep|{tenant}")
            return pb.ListDepartmentsResponse(
                departments=[convert.department_msg(r) for r in rows], next_page_token=token
            )

        return await self.db.run(work)

    async def UpdateDepartment(self, request: pb.UpdateDepartmentRequest, context: Any) -> pb.Department:
        require_admin()
        tenant, dep_id = names.parse("department.name", request.department.name, "tenants", "departments")
        values = {"display_name": request.department.display_name.strip(), "fallback": request.department.fallback}

        def work(session: Session) -> pb.Department:
            row = _get(session, tenant, DepartmentRow, dep_id, request.department.name)
            _apply_mask(row, values, list(request.update_mask.paths), set(values))
            row.update_time = utcnow()
            session.add(row)
            touch(session, tenant, "department", request.department.name)
            return convert.department_msg(row)

        return await self._write({tenant}, work)

    async def DeleteDepartment(self, request: pb.DeleteDepartmentRequest, context: Any) -> empty_pb2.Empty:
        require_admin()
        tenant, dep_id = names.parse("name", request.name, "tenants", "departments")

        def work(session: Session) -> empty_pb2.Empty:
            in_use = session.exec(
                select(func.count())
                .select_from(ProductRow)
                .where(ProductRow.tenant == tenant, ProductRow.department == dep_id)
            ).one()
            if in_use:
                raise failed_precondition("DEPARTMENT_IN_USE", f"{in_use} products still map to {request.name}")
            return _delete(session, tenant, DepartmentRow, dep_id, request.name)

        return await self._write({tenant}, work)

    # Products --------------------------------------------------------------

    async def CreateProduct(self, request: pb.CreateProductRequest, context: Any) -> pb.Product:
        require_admin()
        (tenant,) = names.parse("parent", request.parent, "tenants")
        product_id = names.check_id("product_id", request.product_id)
        name = f"tenants/{tenant}/products/{product_id}"
        values = _product_values(tenant, request.product)

        def work(session: Session) -> pb.Product:
            _tenant_row(session, tenant)
            if _remembered(session, request.request_id):
                return convert.product_msg(_get(session, tenant, ProductRow, product_id, name))
            if session.get(ProductRow, (tenant, product_id)) is not None:
                raise already_exists(name)
            _require_department(session, tenant, values["department"])
            row = ProductRow(tenant=tenant, id=product_id, **values)
            session.add(row)
            touch(session, tenant, "product", name)
            _remember(session, request.request_id, name)
            return convert.product_msg(row)

        return await self._write({tenant}, work)

    async def GetProduct(self, request: pb.GetProductRequest, context: Any) -> pb.Product:
        tenant, product_id = names.parse("name", request.name, "tenants", "products")
        return await self.db.run(lambda s: convert.product_msg(_get(s, tenant, ProductRow, product_id, request.name)))

    async def ListProducts(self, request: pb.ListProductsRequest, context: Any) -> pb.ListProductsResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        size = paging.page_size(request.page_size)
        terms = _parse_filter(request.filter, {"department", "enabled", "handling", "display_name"})

        def work(session: Session) -> pb.ListProductsResponse:
            _tenant_row(session, tenant)
            stmt = select(ProductRow).where(ProductRow.tenant == tenant).order_by(col(ProductRow.id))
            count = select(func.count()).select_from(ProductRow).where(ProductRow.tenant == tenant)
            for field, _op, value in terms:
                if field == "department":
                    cond = col(ProductRow.department) == value.rsplit("/", 1)[-1]
                elif field == "enabled":
                    cond = col(ProductRow.enabled) == (value.lower() == "true")
                elif field == "handling":
                    cond = col(ProductRow.handling) == value.upper()
                else:
                    cond = col(ProductRow.display_name).contains(value)
                stmt, count = stmt.where(cond), count.where(cond)
            rows, token = _page(session, stmt, size, request.page_token, f"prod|{tenant}|{request.filter}")
            return pb.ListProductsResponse(
                products=[convert.product_msg(r) for r in rows],
                next_page_token=token,
                total_size=session.exec(count).one(),
            )

        return await self.db.run(work)

    async def UpdateProduct(self, request: pb.UpdateProductRequest, context: Any) -> pb.Product:
        require_admin()
        tenant, product_id = names.parse("product.name", request.product.name, "tenants", "products")
        paths = list(request.update_mask.paths)
        values = _product_values(tenant, request.product, partial=True)

        if "display_name" in paths and not values["display_name"]:
            raise invalid_argument("product.display_name", "must not be empty")
        if "department" in paths and not values["department"]:
            raise invalid_argument("product.department", "must not be empty")

        def work(session: Session) -> pb.Product:
            row = _get(session, tenant, ProductRow, product_id, request.product.name)
            _apply_mask(row, values, paths, set(values) - {"upl_uri"})
            if "department" in paths:
                _require_department(session, tenant, row.department)
            row.update_time = utcnow()
            session.add(row)
            touch(session, tenant, "product", request.product.name)
            return convert.product_msg(row)

        return await self._write({tenant}, work)

    async def DeleteProduct(self, request: pb.DeleteProductRequest, context: Any) -> empty_pb2.Empty:
        require_admin()
        tenant, product_id = names.parse("name", request.name, "tenants", "products")
        return await self._write({tenant}, lambda s: _delete(s, tenant, ProductRow, product_id, request.name))

    async def ImportUplProducts(
        self, request: pb.ImportUplProductsRequest, context: Any
    ) -> pb.ImportUplProductsResponse:
        from services.tenancy.catalogue import import_upl_rows

        require_admin()
        (tenant,) = names.parse("parent", request.parent, "tenants")
        default_department = request.default_department.rsplit("/", 1)[-1] if request.default_department else ""

        def work(session: Session) -> pb.ImportUplProductsResponse:
            _tenant_row(session, tenant)
            created, updated, unchanged = import_upl_rows(session, tenant, request.rows, default_department)
            if created or updated:
                touch(session, tenant, "product", f"tenants/{tenant}/products")
            return pb.ImportUplProductsResponse(created=created, updated=updated, unchanged=unchanged)

        return await self._write({tenant}, work)

    async def OnboardTenant(self, request: pb.OnboardTenantRequest, context: Any) -> pb.OnboardTenantResponse:
        """Tenant, departments, catalogue and entry points in one transaction, one event, one snapshot."""
        from services.tenancy.catalogue import import_upl_rows

        require_admin()
        tenant = names.check_tenant_id("tenant_id", request.tenant_id)
        display_name = request.tenant.display_name.strip()
        if not display_name:
            raise invalid_argument("tenant.display_name", "is required")
        if not 0 <= request.tenant.retention_days <= 3650:
            raise invalid_argument("tenant.retention_days", "must be 1..3650")
        departments: list[tuple[str, str, bool]] = []
        for i, dep in enumerate(request.departments):
            field = f"departments[{i}].name"
            dep_tenant, dep_id = names.parse(field, dep.name, "tenants", "departments")
            if dep_tenant != tenant:
                raise invalid_argument(field, "must belong to the tenant being onboarded")
            if not dep.display_name.strip():
                raise invalid_argument(f"departments[{i}].display_name", "is required")
            departments.append((dep_id, dep.display_name.strip(), dep.fallback))
        entry_points: list[tuple[str, str, str]] = []
        for i, ep in enumerate(request.entry_points):
            field = f"entry_points[{i}].name"
            ep_tenant, ep_id = names.parse(field, ep.name, "tenants", "entryPoints")
            if ep_tenant != tenant:
                raise invalid_argument(field, "must belong to the tenant being onboarded")
            kind = convert.ENTRY_KINDS.get(ep.kind, "UNSPECIFIED")
            entry_points.append((ep_id, kind, normalise_entry_value(kind, ep.value)))

        def work(session: Session) -> pb.OnboardTenantResponse:
            scope(tenant)
            reply = pb.OnboardTenantResponse()
            row = session.get(TenantRow, tenant)
            if row is None:
                row = TenantRow(
                    id=tenant,
                    display_name=display_name,
                    state=pb.Tenant.State.Name(request.tenant.state or pb.Tenant.STATE_ACTIVE).removeprefix("STATE_"),
                    retention_days=request.tenant.retention_days or 365,
                )
                session.add(row)
                session.flush()  # the rows below refer to it
                reply.tenant_created = True
            elif row.display_name != display_name:
                row.display_name = display_name
                session.add(row)
                reply.tenant_renamed = True
            existing = {d.id: d for d in session.exec(select(DepartmentRow).where(DepartmentRow.tenant == tenant))}
            has_fallback = any(d.fallback for d in existing.values())
            for dep_id, dep_name, fallback in departments:
                if dep_id in existing:
                    continue
                fallback = fallback and not has_fallback
                has_fallback = has_fallback or fallback
                existing[dep_id] = DepartmentRow(tenant=tenant, id=dep_id, display_name=dep_name, fallback=fallback)
                session.add(existing[dep_id])
                reply.departments_created.append(f"tenants/{tenant}/departments/{dep_id}")
            session.flush()
            created, updated, unchanged = import_upl_rows(session, tenant, request.rows)
            reply.products.created, reply.products.updated, reply.products.unchanged = created, updated, unchanged
            for ep_id, kind, value in entry_points:
                taken = session.exec(
                    select(EntryPointRow).where(EntryPointRow.kind == kind, EntryPointRow.value == value)
                ).first()
                if taken is not None:
                    if taken.tenant != tenant:
                        raise failed_precondition("ENTRY_POINT_TAKEN", f"{value} already belongs to another tenant")
                    continue
                if session.get(EntryPointRow, (tenant, ep_id)) is not None:
                    raise already_exists(f"tenants/{tenant}/entryPoints/{ep_id}")
                session.add(EntryPointRow(tenant=tenant, id=ep_id, kind=kind, value=value))
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
                touch(session, tenant, "tenant", f"tenants/{tenant}")
            reply.tenant.CopyFrom(convert.tenant_msg(row))
            return reply

        return await self._write({tenant}, work)

    # SLA policies ----------------------------------------------------------

    async def CreateSlaPolicy(self, request: pb.CreateSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        require_admin()
        (tenant,) = names.parse("parent", request.parent, "tenants")
        policy_id = names.check_id("sla_policy_id", request.sla_policy_id)
        name = f"tenants/{tenant}/slaPolicies/{policy_id}"
        values = _sla_values(tenant, request.sla_policy)

        def work(session: Session) -> pb.SlaPolicy:
            _tenant_row(session, tenant)
            if _remembered(session, request.request_id):
                return convert.sla_msg(_get(session, tenant, SlaPolicyRow, policy_id, name))
            if session.get(SlaPolicyRow, (tenant, policy_id)) is not None:
                raise already_exists(name)
            if values["department"]:
                _require_department(session, tenant, values["department"])
            row = SlaPolicyRow(tenant=tenant, id=policy_id, **values)
            session.add(row)
            touch(session, tenant, "sla_policy", name)
            _remember(session, request.request_id, name)
            return convert.sla_msg(row)

        return await self._write({tenant}, work)

    async def GetSlaPolicy(self, request: pb.GetSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        tenant, policy_id = names.parse("name", request.name, "tenants", "slaPolicies")
        return await self.db.run(lambda s: convert.sla_msg(_get(s, tenant, SlaPolicyRow, policy_id, request.name)))

    async def ListSlaPolicies(self, request: pb.ListSlaPoliciesRequest, context: Any) -> pb.ListSlaPoliciesResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        size = paging.page_size(request.page_size)

        def work(session: Session) -> pb.ListSlaPoliciesResponse:
            _tenant_row(session, tenant)
            stmt = select(SlaPolicyRow).where(SlaPolicyRow.tenant == tenant).order_by(col(SlaPolicyRow.id))
            rows, token = _page(session, stmt, size, request.page_token, f"sla|{tenant}")
            return pb.ListSlaPoliciesResponse(sla_policies=[convert.sla_msg(r) for r in rows], next_page_token=token)

        return await self.db.run(work)

    async def UpdateSlaPolicy(self, request: pb.UpdateSlaPolicyRequest, context: Any) -> pb.SlaPolicy:
        require_admin()
        tenant, policy_id = names.parse("sla_policy.name", request.sla_policy.name, "tenants", "slaPolicies")
        values = _sla_values(tenant, request.sla_policy)
        paths = list(request.update_mask.paths)
        if "callback_deadline" in paths:
            paths = [p for p in paths if p != "callback_deadline"] + [
                "callback_working_hours",
                "callback_working_days",
            ]
        if "answer_target" in paths:
            paths = [p for p in paths if p != "answer_target"] + ["answer_seconds", "answer_percent"]

        def work(session: Session) -> pb.SlaPolicy:
            row = _get(session, tenant, SlaPolicyRow, policy_id, request.sla_policy.name)
            _apply_mask(row, values, paths, set(values))
            if "department" in paths and row.department:
                _require_department(session, tenant, row.department)
            session.add(row)
            touch(session, tenant, "sla_policy", request.sla_policy.name)
            return convert.sla_msg(row)

        return await self._write({tenant}, work)

    async def DeleteSlaPolicy(self, request: pb.DeleteSlaPolicyRequest, context: Any) -> empty_pb2.Empty:
        require_admin()
        tenant, policy_id = names.parse("name", request.name, "tenants", "slaPolicies")
        return await self._write({tenant}, lambda s: _delete(s, tenant, SlaPolicyRow, policy_id, request.name))

    # Business calendar -----------------------------------------------------

    async def GetBusinessCalendar(self, request: pb.GetBusinessCalendarRequest, context: Any) -> pb.BusinessCalendar:
        tenant = _calendar_tenant("name", request.name)
        return await self.db.run(lambda s: convert.calendar_msg(tenant, load_calendar(s, tenant)))

    async def UpdateBusinessCalendar(
        self, request: pb.UpdateBusinessCalendarRequest, context: Any
    ) -> pb.BusinessCalendar:
        require_admin()
        tenant = _calendar_tenant("business_calendar.name", request.business_calendar.name)
        new = convert.calendar_from_msg(request.business_calendar)
        paths = set(request.update_mask.paths) or set(CALENDAR_FIELDS)
        if paths - set(CALENDAR_FIELDS):
            raise invalid_argument("update_mask", f"unknown calendar fields {sorted(paths - set(CALENDAR_FIELDS))}")

        def work(session: Session) -> pb.BusinessCalendar:
            old = load_calendar(session, tenant)
            merged = BusinessCalendar(
                weekly_hours=new.weekly_hours if "weekly_hours" in paths else old.weekly_hours,
                closures=new.closures if "special_days" in paths else old.closures,
                extra_openings=new.extra_openings if "special_days" in paths else old.extra_openings,
                timezone=new.timezone if "time_zone" in paths else old.timezone,
                observe_public_holidays=(
                    new.observe_public_holidays if "observe_public_holidays" in paths else old.observe_public_holidays
                ),
            )
            row = session.get(CalendarRow, tenant) or CalendarRow(tenant=tenant, definition="")
            row.definition = json.dumps(merged.to_dict())
            session.add(row)
            touch(session, tenant, "calendar", f"tenants/{tenant}/businessCalendar")
            return convert.calendar_msg(tenant, merged)

        return await self._write({tenant}, work)


def load_calendar(session: Session, tenant: str) -> BusinessCalendar:
    _tenant_row(session, tenant)
    row = session.get(CalendarRow, tenant)
    return BusinessCalendar.from_dict(json.loads(row.definition)) if row else DEFAULT_CALENDAR


def _calendar_tenant(field: str, name: str) -> str:
    parts = (name or "").split("/")
    if len(parts) != 3 or parts[0] != "tenants" or parts[2] != "businessCalendar":
        raise invalid_argument(field, f"{name!r} does not match tenants/{{tenant}}/businessCalendar")
    return names.check_tenant_id(field, parts[1])


def _get(session: Session, tenant: str, model: type[Row], row_id: str, name: str) -> Row:
    scope(tenant)
    row = session.get(model, (tenant, row_id))
    if row is None:
        raise not_found(name)
    return row


def _delete(session: Session, tenant: str, model: type[SQLModel], row_id: str, name: str) -> empty_pb2.Empty:
    session.delete(_get(session, tenant, model, row_id, name))
    touch(session, tenant, model.__name__.removesuffix("Row").lower(), name)
    return empty_pb2.Empty()


def _require_department(session: Session, tenant: str, department: str) -> None:
    if session.get(DepartmentRow, (tenant, department)) is None:
        raise failed_precondition("DEPARTMENT_NOT_FOUND", f"tenants/{tenant}/departments/{department} does not exist")


def _entry_msg(row: EntryPointRow) -> pb.EntryPoint:
    return pb.EntryPoint(
        name=f"tenants/{row.tenant}/entryPoints/{row.id}",
        kind=pb.EntryPoint.Kind.Value(f"KIND_{row.kind}"),
        value=row.value,
    )


def normalise_entry_value(kind: str, value: str) -> str:
    if kind == "UNSPECIFIED":
        raise invalid_argument("entry_point.kind", "is required")
    value = (value or "").strip()
    if kind == "PHONE_NUMBER":
        return normalise_phone("entry_point.value", value, allow_short=True)
    if not value or len(value) > 255:
        raise invalid_argument("entry_point.value", "must be 1..255 characters")
    return value.lower() if kind == "WEB_FORM_ORIGIN" else value


def _product_values(tenant: str, product: pb.Product, partial: bool = False) -> dict[str, Any]:
    department = product.department
    if department:
        dep_tenant, department = names.parse("product.department", department, "tenants", "departments")
        if dep_tenant != tenant:
            raise invalid_argument("product.department", "must belong to the same tenant")
    elif not partial:
        raise invalid_argument("product.department", "is required")
    if not partial and not product.display_name.strip():
        raise invalid_argument("product.display_name", "is required")
    for field, items in (("synonyms", product.synonyms), ("ivr_codes", product.ivr_codes)):
        if len(items) > 100 or any(not 0 < len(i) <= 100 for i in items):
            raise invalid_argument(f"product.{field}", "at most 100 entries of 1..100 characters")
    return {
        "upl_uri": product.upl_uri,
        "display_name": product.display_name.strip(),
        "department": department,
        "handling": convert.HANDLINGS.get(product.handling, "UNSPECIFIED").replace("UNSPECIFIED", "CALLBACK"),
        "synonyms": json.dumps(list(product.synonyms)),
        "ivr_codes": json.dumps(list(product.ivr_codes)),
        "enabled": product.enabled,
    }


def _sla_values(tenant: str, policy: pb.SlaPolicy) -> dict[str, Any]:
    department = product = ""
    if policy.department:
        dep_tenant, department = names.parse("sla_policy.department", policy.department, "tenants", "departments")
        if dep_tenant != tenant:
            raise invalid_argument("sla_policy.department", "must belong to the same tenant")
    if policy.product:
        prod_tenant, product = names.parse("sla_policy.product", policy.product, "tenants", "products")
        if prod_tenant != tenant:
            raise invalid_argument("sla_policy.product", "must belong to the same tenant")
    target = policy.answer_target
    if target.seconds < 0 or not 0 <= target.percent <= 100:
        raise invalid_argument("sla_policy.answer_target", "seconds ≥ 0 and percent 0..100")
    if not 0 <= policy.warning_percent <= 100:
        raise invalid_argument("sla_policy.warning_percent", "must be 0..100")
    if policy.callback_working_hours < 0 or policy.callback_working_days < 0:
        raise invalid_argument("sla_policy.callback_deadline", "must not be negative")
    if not 0 <= policy.max_callback_attempts <= 20:
        raise invalid_argument("sla_policy.max_callback_attempts", "must be 0..20")
    return {
        "channel": convert.CHANNELS.get(policy.channel, "UNSPECIFIED").replace("UNSPECIFIED", ""),
        "department": department,
        "product": product,
        "answer_seconds": target.seconds or 20,
        "answer_percent": target.percent or 80,
        "callback_working_hours": policy.callback_working_hours or (0 if policy.callback_working_days else 16),
        "callback_working_days": policy.callback_working_days,
        "warning_percent": policy.warning_percent or 75,
        "max_callback_attempts": policy.max_callback_attempts or 3,
        "escalation_target": policy.escalation_target[:255],
    }
