"""Callbacks' own tables: callbacks, their change log (what worklists follow), audit trail, create requests.

Times are aware UTC datetimes (SQLModel's UTCDateTime stores them as UTC on both databases).
Personal data (phone number, notes) is stored encrypted (services/callbacks/crypto.py).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Index
from sqlmodel import Field, SQLModel


def utc(moment: datetime) -> datetime:
    """Aware UTC, as stored; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def aware(moment: datetime) -> datetime:
    """Back from storage: an aware UTC datetime."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class CallbackRow(SQLModel, table=True):
    __tablename__ = "callback"
    __table_args__ = (
        Index("ix_callback_worklist", "tenant", "department", "status", "deadline"),
        Index("ix_callback_warn_due", "warned", "warn_at"),
        Index("ix_callback_breach_due", "breached", "deadline"),
        Index("ix_callback_closed", "tenant", "closed_time"),
        Index("ix_callback_created", "tenant", "create_time"),  # usage reports and figures by creation date
    )
    tenant: str = Field(primary_key=True, max_length=16)
    id: str = Field(primary_key=True, max_length=64)
    department: str = Field(max_length=64)
    product_uri: str = Field(default="", max_length=255)
    contact: str = Field(default="", max_length=255)
    channel: int = 0  # kcc.common.v1.Channel
    phone_encrypted: str  # Fernet token of the E.164 number
    note_encrypted: str = ""  # Fernet token, or "" for no note
    preferred_times: str = Field(default="", max_length=255)
    citizen_key: str = Field(index=True, max_length=64)
    status: str = Field(max_length=16)  # REQUESTED, CLAIMED, ... (states.py)
    assignee: str = Field(default="", max_length=128)
    attempts: int = 0
    outcome: str = Field(default="", max_length=255)
    create_time: datetime
    update_time: datetime
    deadline: datetime
    warn_at: datetime  # when warning_percent of the working-time window has passed
    first_attempt_time: datetime | None = None
    closed_time: datetime | None = None
    warned: bool = False
    breached: bool = False
    escalated: bool = False
    # The SLA policy in force at creation applies for the callback's life.
    max_attempts: int = 3
    escalation_target: str = Field(default="", max_length=255)
    # Optimistic concurrency: every transition is UPDATE ... WHERE version = read version.
    version: int = 1


class ChangeCounterRow(SQLModel, table=True):
    """Per-tenant sequence of changes; its row lock orders a tenant's changes by commit."""

    __tablename__ = "callback_change_counter"
    tenant: str = Field(primary_key=True, max_length=16)
    last_sequence: int = 0


class ChangeRow(SQLModel, table=True):
    """One change to a callback, in a tenant's sequence; WatchCallbacks replays these."""

    __tablename__ = "callback_change"
    __table_args__ = (Index("ix_callback_change_callback", "tenant", "callback_id"),)
    tenant: str = Field(primary_key=True, max_length=16)
    sequence: int = Field(primary_key=True)
    callback_id: str = Field(max_length=64)
    change: str = Field(max_length=32)
    department: str = Field(max_length=64)  # the callback's department after the change
    from_department: str = Field(default="", max_length=64)  # set when forwarded: it left this one
    status: str = Field(max_length=16)
    time: datetime


class AuditRow(SQLModel, table=True):
    """Who changed a callback, when and how; `detail` never holds personal data."""

    __tablename__ = "callback_audit"
    __table_args__ = (Index("ix_callback_audit_callback", "tenant", "callback_id", "id"),)
    id: int | None = Field(default=None, primary_key=True)
    tenant: str = Field(max_length=16)
    callback_id: str = Field(max_length=64)
    principal: str = Field(max_length=128)
    role: str = Field(max_length=32)
    action: str = Field(max_length=32)
    detail: str = Field(default="", max_length=512)
    time: datetime


class CreateRequestRow(SQLModel, table=True):
    """Remembers request_ids of creates per tenant, so a retried create returns the first callback."""

    __tablename__ = "callback_create_request"
    tenant: str = Field(primary_key=True, max_length=16)
    request_id: str = Field(primary_key=True, max_length=128)
    callback_id: str = Field(max_length=64)


TABLES = (CallbackRow, ChangeCounterRow, ChangeRow, AuditRow, CreateRequestRow)
