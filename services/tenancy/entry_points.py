"""Entry points: the phone numbers, web form origins and chat widgets by which a contact finds its tenant.

An entry point belongs to one tenant only (unique by kind and value across all tenants).
"""

from __future__ import annotations

from sqlmodel import Session, col, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import auth, names, paging, validation
from services.common.citizen import normalise_phone
from services.common.enums import ENTRY_KINDS
from services.common.errors import already_exists, failed_precondition, invalid_argument, not_found
from services.tenancy import listing
from services.tenancy.idempotency import create_once
from services.tenancy.models import EntryPointRow
from services.tenancy.store import Store, delete_row, require_admin, tenant_row

RESOURCE = "entry_point"
MAX_VALUE = validation.limit("kcc.tenancy.v1.EntryPoint.value")


def normalise_value(kind: str, value: str) -> str:
    if not kind:
        raise invalid_argument("entry_point.kind", "is required")
    value = (value or "").strip()
    if kind == "PHONE_NUMBER":
        return normalise_phone("entry_point.value", value, allow_short=True)
    if not value or len(value) > MAX_VALUE:
        raise invalid_argument("entry_point.value", f"must be 1..{MAX_VALUE} characters")
    return value.lower() if kind == "WEB_FORM_ORIGIN" else value


def entry_msg(row: EntryPointRow) -> pb.EntryPoint:
    return pb.EntryPoint(
        name=f"tenants/{row.tenant}/entryPoints/{row.id}",
        kind=ENTRY_KINDS.number(row.kind),
        value=row.value,
    )


def owner(session: Session, kind: str, value: str) -> EntryPointRow | None:
    return session.exec(select(EntryPointRow).where(EntryPointRow.kind == kind, EntryPointRow.value == value)).first()


def add(
    session: Session, tenant: str, ep_id: str, kind: str, value: str, field: str = "entry_point"
) -> EntryPointRow | None:
    """Adds an entry point; None if this tenant has it already (FAILED_PRECONDITION if another has)."""
    taken = owner(session, kind, value)
    if taken is not None:
        if taken.tenant != tenant:
            raise failed_precondition("ENTRY_POINT_TAKEN", f"{field} already belongs to another tenant")
        return None
    if session.get(EntryPointRow, (tenant, ep_id)) is not None:
        raise already_exists(f"tenants/{tenant}/entryPoints/{ep_id}")
    row = EntryPointRow(tenant=tenant, id=ep_id, kind=kind, value=value)
    session.add(row)
    return row


async def create(store: Store, request: pb.CreateEntryPointRequest) -> pb.EntryPoint:
    require_admin()
    (tenant,) = names.parse("parent", request.parent, "tenants")
    ep_id = names.check_id("entry_point_id", request.entry_point_id)
    kind = ENTRY_KINDS.name(request.entry_point.kind)
    value = normalise_value(kind, request.entry_point.value)
    name = f"tenants/{tenant}/entryPoints/{ep_id}"

    def work(session: Session) -> pb.EntryPoint:
        def make() -> EntryPointRow:
            row = add(session, tenant, ep_id, kind, value)
            if row is None:  # this tenant has it, under another id
                raise failed_precondition("ENTRY_POINT_TAKEN", "this entry point already belongs to a tenant")
            return row

        return entry_msg(create_once(session, request, tenant, EntryPointRow, ep_id, name, RESOURCE, make))

    return await store.write(tenant, work)


async def list_(store: Store, request: pb.ListEntryPointsRequest) -> pb.ListEntryPointsResponse:
    (tenant,) = names.parse("parent", request.parent, "tenants")
    size = paging.page_size(request.page_size)

    def work(session: Session) -> pb.ListEntryPointsResponse:
        tenant_row(session, tenant)
        stmt = select(EntryPointRow).where(EntryPointRow.tenant == tenant).order_by(col(EntryPointRow.id))
        rows, token = listing.page(session, stmt, size, request.page_token, f"ep|{tenant}")
        return pb.ListEntryPointsResponse(entry_points=[entry_msg(r) for r in rows], next_page_token=token)

    return await store.read(work)


async def delete(store: Store, request: pb.DeleteEntryPointRequest) -> None:
    require_admin()
    tenant, ep_id = names.parse("name", request.name, "tenants", "entryPoints")
    await store.write(tenant, lambda s: delete_row(s, tenant, EntryPointRow, ep_id, request.name, RESOURCE))


async def resolve(store: Store, request: pb.ResolveEntryPointRequest) -> pb.EntryPoint:
    kind = ENTRY_KINDS.name(request.kind)
    value = normalise_value(kind, request.value)

    def work(session: Session) -> pb.EntryPoint:
        row = owner(session, kind, value)
        if row is None or not auth.current().may_access(row.tenant):
            raise not_found("entry point")
        return entry_msg(row)

    return await store.read(work)
