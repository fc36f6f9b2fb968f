"""A change to a tenant, written in the caller's transaction: a new snapshot version and its event.

Every write of a tenancy resource ends here, so `kcc.<tenant>.tenancy.changed` is published
(by the outbox relay) exactly when a transaction that changed the tenant commits.
"""

from __future__ import annotations

from sqlmodel import Session

from kcc.events.v1 import events_pb2
from services.common import events
from services.common.errors import not_found
from services.common.outbox import add_event
from services.tenancy.models import TenantRow, utcnow


def touch(session: Session, tenant: str, resource: str, resource_name: str) -> None:
    """Marks a tenant changed in the same transaction: new snapshot version and an event."""
    row = session.get(TenantRow, tenant)
    if row is None:
        raise not_found(f"tenants/{tenant}")
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
