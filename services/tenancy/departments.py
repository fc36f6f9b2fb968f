"""Departments (vakafdelingen): the KCC's real clients, to which products and callbacks go."""

from __future__ import annotations

from sqlmodel import Session, col, func, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import names, paging
from services.common.errors import failed_precondition, invalid_argument
from services.tenancy import convert, listing
from services.tenancy.changes import touch
from services.tenancy.idempotency import create_once
from services.tenancy.models import DepartmentRow, ProductRow, utcnow
from services.tenancy.store import Store, apply_mask, delete_row, get_row, require_admin, tenant_row

RESOURCE = "department"


def name_of(tenant: str, department_id: str) -> str:
    return f"tenants/{tenant}/departments/{department_id}"


def add(session: Session, tenant: str, dep_id: str, display_name: str, fallback: bool) -> DepartmentRow:
    row = DepartmentRow(tenant=tenant, id=dep_id, display_name=display_name, fallback=fallback)
    session.add(row)
    return row


async def create(store: Store, request: pb.CreateDepartmentRequest) -> pb.Department:
    require_admin()
    (tenant,) = names.parse("parent", request.parent, "tenants")
    dep_id = names.check_id("department_id", request.department_id)
    if not request.department.display_name.strip():
        raise invalid_argument("department.display_name", "is required")
    name = name_of(tenant, dep_id)

    def work(session: Session) -> pb.Department:
        given = request.department
        row = create_once(
            session,
            request,
            tenant,
            DepartmentRow,
            dep_id,
            name,
            RESOURCE,
            lambda: add(session, tenant, dep_id, given.display_name.strip(), given.fallback),
        )
        return convert.department_msg(row)

    return await store.write(tenant, work)


async def get(store: Store, request: pb.GetDepartmentRequest) -> pb.Department:
    tenant, dep_id = names.parse("name", request.name, "tenants", "departments")
    return await store.read(lambda s: convert.department_msg(get_row(s, tenant, DepartmentRow, dep_id, request.name)))


async def list_(store: Store, request: pb.ListDepartmentsRequest) -> pb.ListDepartmentsResponse:
    (tenant,) = names.parse("parent", request.parent, "tenants")
    size = paging.page_size(request.page_size)

    def work(session: Session) -> pb.ListDepartmentsResponse:
        tenant_row(session, tenant)
        stmt = select(DepartmentRow).where(DepartmentRow.tenant == tenant).order_by(col(DepartmentRow.id))
        rows, token = listing.page(session, stmt, size, request.page_token, f"dep|{tenant}")
        return pb.ListDepartmentsResponse(departments=[convert.department_msg(r) for r in rows], next_page_token=token)

    return await store.read(work)


async def update(store: Store, request: pb.UpdateDepartmentRequest) -> pb.Department:
    require_admin()
    tenant, dep_id = names.parse("department.name", request.department.name, "tenants", "departments")
    values = {"display_name": request.department.display_name.strip(), "fallback": request.department.fallback}

    def work(session: Session) -> pb.Department:
        row = get_row(session, tenant, DepartmentRow, dep_id, request.department.name)
        apply_mask(row, values, list(request.update_mask.paths), set(values))
        row.update_time = utcnow()
        session.add(row)
        touch(session, tenant, RESOURCE, request.department.name)
        return convert.department_msg(row)

    return await store.write(tenant, work)


async def delete(store: Store, request: pb.DeleteDepartmentRequest) -> None:
    require_admin()
    tenant, dep_id = names.parse("name", request.name, "tenants", "departments")

    def work(session: Session) -> None:
        get_row(session, tenant, DepartmentRow, dep_id, request.name)  # reach and NOT_FOUND first
        in_use = session.exec(
            select(func.count())
            .select_from(ProductRow)
            .where(ProductRow.tenant == tenant, ProductRow.department == dep_id)
        ).one()
        if in_use:
            raise failed_precondition("DEPARTMENT_IN_USE", f"{in_use} products still map to {request.name}")
        delete_row(session, tenant, DepartmentRow, dep_id, request.name, RESOURCE)

    await store.write(tenant, work)
