"""The platform's own history as planning input: arrivals per interval, handling times and patience,
measured from the contact events in the KCC stream (`kcc.<tenant>.contact.<change>`).

Patience is estimated as for exponential patience with censoring: callers who were answered
waited without giving up, so total waiting time divided by the number who hung up is the mean
patience. Waits, handling times and counts leave this module; no citizen key or question does.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kcc.events.v1 import events_pb2
from services.common.enums import CHANNELS
from services.common.events import STREAM
from services.planning.staffing import Demand

CONTACT_SUBJECT = "kcc.*.contact.*"
BATCH = 1000
FETCH_SECONDS = 2.0
LOCAL = ZoneInfo("Europe/Amsterdam")


@dataclass(slots=True)
class ContactTimes:
    """One contact's moments in epoch seconds (0: did not happen)."""

    tenant: str
    arrived: float
    channel: str = "PHONE"
    answered: float = 0.0
    completed: float = 0.0
    abandoned: float = 0.0


@dataclass(frozen=True)
class History:
    labels: list[str]
    opens_minute: int  # start of the first interval with calls, minutes after midnight
    interval_seconds: float
    days: int  # days with at least one contact
    demands: list[Demand]
    contacts: int


def _seconds(ts: object) -> float:
    return ts.seconds + ts.nanos / 1e9  # type: ignore[attr-defined]


async def read_contacts(js: JetStreamContext, since: datetime | None = None) -> dict[str, ContactTimes]:
    """Every contact routed since `since` (all without) with its answer, completion or abandon."""
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE,
        deliver_policy=DeliverPolicy.ALL if since is None else DeliverPolicy.BY_START_TIME,
        opt_start_time=None if since is None else since.astimezone(UTC),
        inactive_threshold=60.0,
        mem_storage=True,
        num_replicas=1,
    )
    sub = await js.pull_subscribe(CONTACT_SUBJECT, stream=STREAM, config=config)
    contacts: dict[str, ContactTimes] = {}
    try:
        pending = (await sub.consumer_info()).num_pending
        while pending:
            for msg in await sub.fetch(BATCH, timeout=FETCH_SECONDS):
                pending = msg.metadata.num_pending
                env = events_pb2.Envelope.FromString(msg.data)
                _record(contacts, env)
    finally:
        await sub.unsubscribe()
    return contacts


def _record(contacts: dict[str, ContactTimes], env: events_pb2.Envelope) -> None:
    kind = env.WhichOneof("payload")
    if kind == "contact_routed":
        routed = env.contact_routed
        if routed.contact not in contacts:
            channel = CHANNELS.name(routed.channel)
            contacts[routed.contact] = ContactTimes(routed.tenant or env.tenant, _seconds(routed.enqueue_time), channel)
    elif kind == "contact_changed":
        change = env.contact_changed
        contact = contacts.get(change.contact)
        at = _seconds(env.occurred_at)
        if contact is None:
            return  # routed before the window read
        if change.change == "accepted" and not contact.answered:
            contact.answered = at
        elif change.change == "completed" and contact.answered:
            contact.completed = at
        elif change.change == "abandoned" and not contact.answered:
            contact.abandoned = at


def measure(contacts: dict[str, ContactTimes], interval_minutes: int = 30, channel: str = "PHONE") -> History:
    """Average calls per interval of an observed day (local time), mean handling time and patience per
    gemeente, for the contacts of one channel (callers wait on the line, so Erlang applies)."""
    contacts = {name: c for name, c in contacts.items() if c.channel == channel}
    if not contacts:
        raise ValueError(f"the stream holds no {channel} contacts to plan from")
    if interval_minutes <= 0 or 24 * 60 % interval_minutes:
        raise ValueError("the interval must divide a day, e.g. 15, 30 or 60 minutes")
    slots: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    days: set[str] = set()
    handled: dict[str, list[float]] = defaultdict(list)
    waited: dict[str, float] = defaultdict(float)
    gave_up: dict[str, int] = defaultdict(int)
    for c in contacts.values():
        local = datetime.fromtimestamp(c.arrived, LOCAL)
        days.add(local.date().isoformat())
        slots[c.tenant][(local.hour * 60 + local.minute) // interval_minutes] += 1
        if c.answered:
            waited[c.tenant] += max(c.answered - c.arrived, 0.0)
            if c.completed:
                handled[c.tenant].append(c.completed - c.answered)
        elif c.abandoned:
            waited[c.tenant] += max(c.abandoned - c.arrived, 0.0)
            gave_up[c.tenant] += 1
    first = min(min(s) for s in slots.values())
    last = max(max(s) for s in slots.values())
    demands = []
    for tenant in sorted(slots):
        if not handled[tenant]:
            raise ValueError(f"{tenant}: no completed contact, so no handling time to plan with")
        calls = tuple(slots[tenant].get(i, 0) / len(days) for i in range(first, last + 1))
        aht = math.fsum(handled[tenant]) / len(handled[tenant])
        patience = waited[tenant] / gave_up[tenant] if gave_up[tenant] else None
        demands.append(Demand(tenant, calls, max(aht, 1.0), patience))
    labels = [f"{m // 60:02d}:{m % 60:02d}" for m in (i * interval_minutes for i in range(first, last + 1))]
    return History(labels, first * interval_minutes, interval_minutes * 60.0, len(days), demands, len(contacts))
