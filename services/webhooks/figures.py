"""Per subscription: delivered, retrying, parked, pending and the age of the oldest undelivered event.

Read from JetStream, so any replica answers the same: the counts from the delivery state the
lease holder writes, what waits from the subscription's consumer, and the oldest undelivered
event from the stream itself (the one in flight, or else the first the consumer has not passed).
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf.message import DecodeError
from nats.js.errors import NotFoundError

from kcc.events.v1 import events_pb2
from kcc.webhooks.v1 import webhooks_pb2 as pb
from services.common.events import STREAM
from services.webhooks.store import DeliveryState, Store, SubscriptionRecord, subjects


def epoch(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


async def _first_waiting(store: Store, record: SubscriptionRecord, after: int) -> float | None:
    """When the first event after stream sequence `after` that the subscription wants happened."""
    times = []
    for subject in subjects(record.tenant, record.event_types):
        try:
            msg = await store.js.get_msg(STREAM, seq=after + 1, subject=subject, next=True)
        except NotFoundError:
            continue
        try:
            env = events_pb2.Envelope.FromString(msg.data or b"")
        except DecodeError:
            continue
        times.append(env.occurred_at.ToNanoseconds() / 1e9)
    return min(times) if times else None


async def of(store: Store, record: SubscriptionRecord, now: float) -> pb.SubscriptionFigures:
    state: DeliveryState = await store.delivery_state(record)
    figures = pb.SubscriptionFigures(
        delivered=state.delivered,
        parked=state.parked,
        retrying=1 if state.head_attempts else 0,
        last_error=state.last_error,
    )
    try:
        info = await store.js.consumer_info(STREAM, record.consumer)
    except NotFoundError:
        return figures
    figures.pending = (info.num_pending or 0) + (info.num_ack_pending or 0)
    if not figures.pending:
        return figures
    if state.head_sequence and state.head_time:
        oldest: float | None = epoch(state.head_time)
    else:
        oldest = await _first_waiting(store, record, info.ack_floor.stream_seq if info.ack_floor else 0)
    if oldest is not None:
        figures.oldest_undelivered_age.FromNanoseconds(int(max(0.0, now - oldest) * 1e9))
    return figures
