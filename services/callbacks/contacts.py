"""Contacts per tenant, department and day, for the usage report (doorbelasting).

Fed by routing's contact events through a durable pull consumer that is idempotent by
event id in this service's own database and acks only after the commit.
"""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

from sqlmodel import Field, Session, SQLModel, select

from kcc.events.v1 import events_pb2
from services.common.consumer import MessageHandler, idempotent
from services.common.db import Database

CONSUMER = "callbacks-contact-usage"
SUBJECT = "kcc.*.contact.>"
LOCAL = ZoneInfo("Europe/Amsterdam")


class ContactTally(SQLModel, table=True):
    __tablename__ = "contact_tally"
    tenant: str = Field(primary_key=True, max_length=16)
    department: str = Field(primary_key=True, max_length=64)
    day: date = Field(primary_key=True)
    routed: int = 0
    completed: int = 0
    abandoned: int = 0


def _tally(session: Session, tenant: str, department: str, day: date) -> ContactTally:
    row = session.get(ContactTally, (tenant, department, day))
    if row is None:
        row = ContactTally(tenant=tenant, department=department, day=day)
    return row


def apply(session: Session, env: events_pb2.Envelope) -> None:
    day = env.occurred_at.ToDatetime(UTC).astimezone(LOCAL).date()
    kind = env.WhichOneof("payload")
    if kind == "contact_routed":
        row = _tally(session, env.tenant, env.contact_routed.department, day)
        row.routed += 1
    elif kind == "contact_changed" and env.contact_changed.change in ("completed", "abandoned"):
        row = _tally(session, env.tenant, env.contact_changed.queue, day)
        if env.contact_changed.change == "completed":
            row.completed += 1
        else:
            row.abandoned += 1
    else:
        return
    session.add(row)


def handler(db: Database) -> MessageHandler:
    return idempotent(db, CONSUMER, apply)


def tallies(session: Session, tenant: str, start: date, end: date) -> list[ContactTally]:
    return list(
        session.exec(
            select(ContactTally).where(
                ContactTally.tenant == tenant, ContactTally.day >= start, ContactTally.day <= end
            )
        )
    )
