"""Tenancy's own tables: tenants, entry points, departments, catalogue, SLA policies, calendars."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantRow(SQLModel, table=True):
    __tablename__ = "tenant"
    id: str = Field(primary_key=True, max_length=16)
    display_name: str = Field(max_length=200)
    state: str = "ACTIVE"
    retention_days: int = 365
    snapshot_version: int = 0
    create_time: datetime = Field(default_factory=utcnow)
    update_time: datetime = Field(default_factory=utcnow)


class EntryPointRow(SQLModel, table=True):
    __tablename__ = "entry_point"
    __table_args__ = (UniqueConstraint("kind", "value"),)
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    id: str = Field(primary_key=True, max_length=64)
    kind: str = Field(max_length=32)
    value: str = Field(max_length=255)


class DepartmentRow(SQLModel, table=True):
    __tablename__ = "department"
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    id: str = Field(primary_key=True, max_length=64)
    display_name: str = Field(max_length=200)
    fallback: bool = False
    create_time: datetime = Field(default_factory=utcnow)
    update_time: datetime = Field(default_factory=utcnow)


class ProductRow(SQLModel, table=True):
    __tablename__ = "product"
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    id: str = Field(primary_key=True, max_length=64)  # the UPL slug
    upl_uri: str = Field(max_length=255)
    display_name: str = Field(max_length=255)
    department: str = Field(max_length=64)
    handling: str = "CALLBACK"
    synonyms: str = "[]"  # JSON list
    ivr_codes: str = "[]"  # JSON list
    enabled: bool = True
    update_time: datetime = Field(default_factory=utcnow)


class LexiconPhraseRow(SQLModel, table=True):
    """A tenant's change to a product's default phrases (services/tenancy/lexicon.py)."""

    __tablename__ = "lexicon_phrase"
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    product: str = Field(primary_key=True, max_length=64)
    action: str = Field(primary_key=True, max_length=8)  # "add" or "suppress"
    phrase: str = Field(primary_key=True, max_length=200)
    create_time: datetime = Field(default_factory=utcnow)


class LexiconCorrectionRow(SQLModel, table=True):
    """What an agent said a question was about against what recognition said (corrections.py).
    The question only as its content words and a keyed hash: never its text."""

    __tablename__ = "lexicon_correction"
    tenant: str = Field(primary_key=True, max_length=16)  # no foreign key: events may outlive a tenant
    contact: str = Field(primary_key=True, max_length=64)
    week: str = Field(max_length=8)  # ISO week in Europe/Amsterdam, `2026-W49`
    complete_time: datetime = Field(index=True)  # purged past corrections.HORIZON
    recognised_product_uri: str = Field(default="", max_length=255)
    recognised_refer_to: str = Field(default="", max_length=32)
    product_uri: str = Field(default="", max_length=255)
    refer_to: str = Field(default="", max_length=32)
    confirmed: bool = False
    words: str = Field(default="[]", max_length=1000)  # JSON list of content words, unknown ones as #<hash>
    question_hash: str = Field(default="", max_length=64)


class LexiconWordRow(SQLModel, table=True):
    """A question of a tenant that holds a word the tenant's catalogue does not know, the word as a
    keyed hash; the word itself only once enough questions hold it (corrections.py, SHARED_BY)."""

    __tablename__ = "lexicon_word"
    tenant: str = Field(primary_key=True, max_length=16)
    word_hash: str = Field(primary_key=True, max_length=32)
    question: str = Field(primary_key=True, max_length=64)  # the question's keyed hash
    seen_time: datetime = Field(index=True)  # its newest correction holding the word: purged with it
    word: str = Field(default="", max_length=30)


class SlaPolicyRow(SQLModel, table=True):
    __tablename__ = "sla_policy"
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    id: str = Field(primary_key=True, max_length=64)
    # No defaults here: sla_policies.values_of fills every column, from DEFAULT_SLA where a target is unset.
    channel: str
    department: str
    product: str
    answer_seconds: int
    answer_percent: int
    callback_working_hours: int
    callback_working_days: int
    warning_percent: int
    max_callback_attempts: int
    escalation_target: str


class CalendarRow(SQLModel, table=True):
    __tablename__ = "business_calendar"
    tenant: str = Field(primary_key=True, foreign_key="tenant.id", max_length=16)
    definition: str  # services.common.calendar.BusinessCalendar.to_dict() as JSON


class CreateRequestRow(SQLModel, table=True):
    """No longer written (request ids were global): kept for code of the release before
    tenancy_0003 during a rolling update; a later revision drops it."""

    __tablename__ = "create_request"
    request_id: str = Field(primary_key=True, max_length=128)
    resource_name: str = Field(max_length=255)


class IdempotentCreateRow(SQLModel, table=True):
    """A create's request_id, per tenant and method, with what it made and a digest of the request
    (without its request_id): a retry answers the same resource, another request is refused."""

    __tablename__ = "idempotent_create"
    tenant: str = Field(primary_key=True, max_length=16)
    method: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(primary_key=True, max_length=128)
    resource_name: str = Field(max_length=255)
    digest: str = Field(max_length=64)  # sha256 hex; "" for one carried over from create_request
