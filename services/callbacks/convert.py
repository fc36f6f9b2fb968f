"""Rows to API messages. The phone number and note are decrypted only here, for the owning tenant."""

from __future__ import annotations

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.callbacks.changes import department_name
from services.callbacks.crypto import Vault
from services.callbacks.models import AuditRow, CallbackRow, aware
from services.callbacks.repository import callback_name


def status_value(status: str) -> int:
    return pb.Callback.Status.Value(f"STATUS_{status}")


def status_name(value: int) -> str:
    return pb.Callback.Status.Name(value).removeprefix("STATUS_")  # type: ignore[arg-type]


def callback_msg(row: CallbackRow, vault: Vault) -> pb.Callback:
    msg = pb.Callback(
        name=callback_name(row.tenant, row.id),
        department=department_name(row.tenant, row.department),
        product_uri=row.product_uri,
        contact=row.contact,
        phone_number=vault.open(row.phone_encrypted),
        preferred_times=row.preferred_times,
        note=vault.open(row.note_encrypted),
        status=status_value(row.status),  # type: ignore[arg-type]
        assignee=row.assignee,
        attempts=row.attempts,
        outcome=row.outcome,
        citizen_key=row.citizen_key,
        warned=row.warned,
        breached=row.breached,
        escalated=row.escalated,
        channel=row.channel,  # type: ignore[arg-type]
    )
    msg.create_time.FromDatetime(aware(row.create_time))
    msg.update_time.FromDatetime(aware(row.update_time))
    msg.deadline.FromDatetime(aware(row.deadline))
    return msg


def audit_msg(row: AuditRow) -> pb.AuditEntry:
    msg = pb.AuditEntry(
        callback=callback_name(row.tenant, row.callback_id),
        principal=f"{row.role}:{row.principal}",
        action=row.action,
        detail=row.detail,
    )
    msg.time.FromDatetime(aware(row.time))
    return msg
