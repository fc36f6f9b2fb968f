"""Rows to API messages and back; the only place that knows both shapes."""

from __future__ import annotations

import json

from google.protobuf.timestamp_pb2 import Timestamp

from kcc.common.v1 import common_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.calendar_proto import calendar_from_msg as calendar_from_msg  # re-exported for the service
from services.common.calendar_proto import calendar_msg as calendar_msg  # (shared so that clients can use it)
from services.common.enums import CHANNELS, HANDLINGS, TENANT_STATES
from services.tenancy.models import DepartmentRow, ProductRow, SlaPolicyRow, TenantRow


def ts(value: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)  # type: ignore[arg-type]
    return stamp


def tenant_msg(row: TenantRow) -> pb.Tenant:
    return pb.Tenant(
        name=f"tenants/{row.id}",
        display_name=row.display_name,
        state=TENANT_STATES.number(row.state),
        create_time=ts(row.create_time),
        update_time=ts(row.update_time),
        retention_days=row.retention_days,
    )


def department_msg(row: DepartmentRow) -> pb.Department:
    return pb.Department(
        name=f"tenants/{row.tenant}/departments/{row.id}",
        display_name=row.display_name,
        fallback=row.fallback,
        create_time=ts(row.create_time),
        update_time=ts(row.update_time),
    )


def product_msg(row: ProductRow) -> pb.Product:
    return pb.Product(
        name=f"tenants/{row.tenant}/products/{row.id}",
        upl_uri=row.upl_uri,
        display_name=row.display_name,
        department=f"tenants/{row.tenant}/departments/{row.department}",
        handling=HANDLINGS.number(row.handling),
        synonyms=json.loads(row.synonyms),
        ivr_codes=json.loads(row.ivr_codes),
        enabled=row.enabled,
        update_time=ts(row.update_time),
    )


def sla_msg(row: SlaPolicyRow) -> pb.SlaPolicy:
    msg = pb.SlaPolicy(
        name=f"tenants/{row.tenant}/slaPolicies/{row.id}",
        channel=CHANNELS.number(row.channel),
        department=f"tenants/{row.tenant}/departments/{row.department}" if row.department else "",
        product=f"tenants/{row.tenant}/products/{row.product}" if row.product else "",
        answer_target=common_pb2.ServiceLevelTarget(seconds=row.answer_seconds, percent=row.answer_percent),
        warning_percent=row.warning_percent,
        max_callback_attempts=row.max_callback_attempts,
        escalation_target=row.escalation_target,
    )
    if row.callback_working_days:
        msg.callback_working_days = row.callback_working_days
    else:
        msg.callback_working_hours = row.callback_working_hours
    return msg
