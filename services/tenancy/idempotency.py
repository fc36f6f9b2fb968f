"""Idempotent creates: a retried create with the same request_id answers what the first one made."""

from __future__ import annotations

from sqlmodel import Session

from services.common import names
from services.tenancy.models import CreateRequestRow


def remembered(session: Session, request_id: str) -> str | None:
    if not request_id:
        return None
    names.check_request_id(request_id)
    record = session.get(CreateRequestRow, request_id)
    return record.resource_name if record else None


def remember(session: Session, request_id: str, name: str) -> None:
    if request_id:
        session.add(CreateRequestRow(request_id=request_id, resource_name=name))
