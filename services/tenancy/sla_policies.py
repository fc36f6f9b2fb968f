"""SLA policies (servicenormen): answer and callback targets; the most specific policy applies."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import names, paging
from services.common.enums import CHANNELS
from services.common.errors import invalid_argument
from services.common.snapshots import DEFAULT_SLA
from services.tenancy import convert, listing
from services.tenancy.changes import touch
from services.tenancy.idempotency import create_once
from services.tenancy.models import SlaPolicyRow
from services.tenancy.store import (
    Store,
    apply_mask,
    delete_row,
    get_row,
    own_id,
    require_admin,
    require_department,
    tenant_row,
)

RESOURCE = "sla_policy"
# An update mask may name these groups; each stands for the columns behind it.
MASK_GROUPS = {
    "callback_deadline": ("callback_working_hours", "callback_working_days"),
    "answer_target": ("answer_seconds", "answer_percent"),
}


def values_of(tenant: str, policy: pb.SlaPolicy) -> dict[str, Any]:
    """The row's values; a target left at 0 takes the platform default (DEFAULT_SLA, the one place)."""
    department = own_id("sla_policy.department", policy.department, tenant, "departments")
    product = own_id("sla_policy.product", policy.product, tenant, "products")
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
        "channel": CHANNELS.name(policy.channel),
        "department": department,
        "product": product,
        "answer_seconds": target.seconds or DEFAULT_SLA.answer_seconds,
        "answer_percent": target.percent or DEFAULT_SLA.answer_percent,
        "callback_working_hours": policy.callback_working_hours
        or (0 if policy.callback_working_days else DEFAULT_SLA.callback_working_hours),
        "callback_working_days": policy.callback_working_days,
        "warning_percent": policy.warning_percent or DEFAULT_SLA.warning_percent,
        "max_callback_attempts": policy.max_callback_attempts or DEFAULT_SLA.max_callback_attempts,
        "escalation_target": policy.escalation_target,
    }


async def create(store: Store, request: pb.CreateSlaPolicyRequest) -> pb.SlaPolicy:
    require_admin()
    (tenant,) = names.parse("parent", request.parent, "tenants")
    policy_id = names.check_id("sla_policy_id", request.sla_policy_id)
    name = f"tenants/{tenant}/slaPolicies/{policy_id}"
    values = values_of(tenant, request.sla_policy)

    def work(session: Session) -> pb.SlaPolicy:
        def make() -> SlaPolicyRow:
            if values["department"]:
                require_department(session, tenant, values["department"])
            return SlaPolicyRow(tenant=tenant, id=policy_id, **values)

        return convert.sla_msg(create_once(session, request, tenant, SlaPolicyRow, policy_id, name, RESOURCE, make))

    return await store.write(tenant, work)


async def get(store: Store, request: pb.GetSlaPolicyRequest) -> pb.SlaPolicy:
    tenant, policy_id = names.parse("name", request.name, "tenants", "slaPolicies")
    return await store.read(lambda s: convert.sla_msg(get_row(s, tenant, SlaPolicyRow, policy_id, request.name)))


async def list_(store: Store, request: pb.ListSlaPoliciesRequest) -> pb.ListSlaPoliciesResponse:
    (tenant,) = names.parse("parent", request.parent, "tenants")
    size = paging.page_size(request.page_size)

    def work(session: Session) -> pb.ListSlaPoliciesResponse:
        tenant_row(session, tenant)
        stmt = select(SlaPolicyRow).where(SlaPolicyRow.tenant == tenant).order_by(col(SlaPolicyRow.id))
        rows, token = listing.page(session, stmt, size, request.page_token, f"sla|{tenant}")
        return pb.ListSlaPoliciesResponse(sla_policies=[convert.sla_msg(r) for r in rows], next_page_token=token)

    return await store.read(work)


async def update(store: Store, request: pb.UpdateSlaPolicyRequest) -> pb.SlaPolicy:
    require_admin()
    tenant, policy_id = names.parse("sla_policy.name", request.sla_policy.name, "tenants", "slaPolicies")
    values = values_of(tenant, request.sla_policy)
    paths = list(request.update_mask.paths)

    def work(session: Session) -> pb.SlaPolicy:
        row = get_row(session, tenant, SlaPolicyRow, policy_id, request.sla_policy.name)
        apply_mask(row, values, paths, set(values), MASK_GROUPS)
        if "department" in paths and row.department:
            require_department(session, tenant, row.department)
        session.add(row)
        touch(session, tenant, RESOURCE, request.sla_policy.name)
        return convert.sla_msg(row)

    return await store.write(tenant, work)


async def delete(store: Store, request: pb.DeleteSlaPolicyRequest) -> None:
    require_admin()
    tenant, policy_id = names.parse("name", request.name, "tenants", "slaPolicies")
    await store.write(tenant, lambda s: delete_row(s, tenant, SlaPolicyRow, policy_id, request.name, RESOURCE))
