"""Contacts per tenant, department and day, for the usage report (doorbelasting) and the
accountability report (repeat contacts counted for the department whose callback was open).

Fed by routing's contact events through a durable pull consumer that is idempotent by
event id in this service's own database and acks only after the commit (one per fetched batch).
"""

from __future__ import annotations

from datetime import UTC, date
from zoneinfo import ZoneInfo

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Field, Session, SQLModel, select

from kcc.events.v1 import events_pb2
from services.common.consumer import IdempotentConsumer
from services.common.db import Database
from services.common.events import EventBus

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
    # Contacts from citizens with an open callback at this department (herhaalverkeer it causes).
    repeat_contacts: int = 0


TallyKey = tuple[str, str, date]  # tenant, department, local day
COUNTS = ("routed", "completed", "abandoned", "repeat_contacts")


def apply(session: Session, env: events_pb2.Envelope) -> None:
    """Notes what the event counts in the transaction; `finish` writes a batch's counts at once."""
    kind = env.WhichOneof("payload")
    counted: list[tuple[str, str]] = []
    if kind == "contact_routed":
        counted.append((env.contact_routed.department, "routed"))
        # `tenants/{tenant}/departments/{department}`: tallied by the department id, as callbacks are
        waiting_on = {o.department.rsplit("/", 1)[-1] for o in env.contact_routed.open_callback_details}
        counted += [(department, "repeat_contacts") for department in sorted(waiting_on)]
    elif kind == "contact_changed" and env.contact_changed.change in ("completed", "abandoned"):
        counted.append((env.contact_changed.queue, env.contact_changed.change))
    day = env.occurred_at.ToDatetime(UTC).astimezone(LOCAL).date()
    pending: dict[TallyKey, dict[str, int]] = session.info.setdefault("contact_tally", {})
    for department, count in counted:
        counts = pending.setdefault((env.tenant, department, day), dict.fromkeys(COUNTS, 0))
        counts[count] += 1


def finish(session: Session) -> None:
    """Adds the batch's counts to the tallies in one statement: an upsert that increments in the
    database, so two replicas counting the same tally at once both count."""
    pending: dict[TallyKey, dict[str, int]] = session.info.pop("contact_tally", {})
    if not pending:
        return
    connection = session.connection()
    table = ContactTally.__table__  # type: ignore[attr-defined]
    upsert = (sqlite_insert if connection.dialect.name == "sqlite" else postgresql_insert)(table)
    statement = upsert.on_conflict_do_update(
        index_elements=[table.c.tenant, table.c.department, table.c.day],
        set_={c: table.c[c] + upsert.excluded[c] for c in COUNTS},
    )
    rows = [{"tenant": t, "department": d, "day": day, **counts} for (t, d, day), counts in pending.items()]
    connection.execute(statement, rows)


def consumer(bus: EventBus, db: Database) -> IdempotentConsumer:
    return IdempotentConsumer(bus, db, CONSUMER, SUBJECT, apply, finish)


def tallies(session: Session, tenant: str, start: date, end: date) -> list[ContactTally]:
    return list(
        session.exec(
            select(ContactTally).where(
                ContactTally.tenant == tenant, ContactTally.day >= start, ContactTally.day <= end
            )
        )
    )
