"""Idempotent creates, scoped like callbacks' by tenant, method and request_id.

A retried create (same request_id, same request) answers the resource the first one made;
the same request_id with another request is FAILED_PRECONDITION REQUEST_ID_REUSED, never a
success that created nothing. Another tenant or another method may use the same request_id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TypeAlias

from sqlmodel import Session

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.errors import already_exists, failed_precondition
from services.tenancy.changes import touch
from services.tenancy.models import IdempotentCreateRow
from services.tenancy.store import Row, get_row, tenant_row

CreateRequest: TypeAlias = (
    pb.CreateTenantRequest
    | pb.CreateDepartmentRequest
    | pb.CreateProductRequest
    | pb.CreateEntryPointRequest
    | pb.CreateSlaPolicyRequest
)


def _method(request: CreateRequest) -> str:
    return request.DESCRIPTOR.name.removesuffix("Request")


def _digest(request: CreateRequest) -> str:
    body = type(request)()
    body.CopyFrom(request)
    body.ClearField("request_id")
    return hashlib.sha256(body.SerializeToString(deterministic=True)).hexdigest()


def replayed(session: Session, tenant: str, request: CreateRequest) -> str | None:
    """The name of what this request made before, or None if it is new."""
    request_id = request.request_id
    if not request_id:
        return None
    record = session.get(IdempotentCreateRow, (tenant, _method(request), request_id))
    if record is None:
        return None
    if record.digest and record.digest != _digest(request):
        raise failed_precondition(
            "REQUEST_ID_REUSED", "this request_id came with another request before; use a new request_id"
        )
    return record.resource_name


def remember(session: Session, tenant: str, request: CreateRequest, name: str) -> None:
    """Stores what the create made, in its transaction."""
    request_id = request.request_id
    if request_id:
        session.add(
            IdempotentCreateRow(
                tenant=tenant,
                method=_method(request),
                request_id=request_id,
                resource_name=name,
                digest=_digest(request),
            )
        )


def create_once(
    session: Session,
    request: CreateRequest,
    tenant: str,
    model: type[Row],
    row_id: str,
    name: str,
    resource: str,
    make: Callable[[], Row],
) -> Row:
    """A create of a tenant's row in the caller's transaction: a retry answers the row the first
    attempt made; a taken id is ALREADY_EXISTS; else `make()` builds the row (or raises the
    resource's own precondition) and the change event and the request id are written with it."""
    tenant_row(session, tenant)
    made = replayed(session, tenant, request)
    if made is not None:
        return get_row(session, tenant, model, made.rsplit("/", 1)[-1], made)
    if session.get(model, (tenant, row_id)) is not None:
        raise already_exists(name)
    row = make()
    session.add(row)
    touch(session, tenant, resource, name)
    remember(session, tenant, request, name)
    return row
