"""The event bus: one JetStream stream for `kcc.>`, protobuf envelopes, publish with `Nats-Msg-Id`.

Durability comes from JetStream and the databases, never from process memory: the
outbox (services/common/outbox.py) hands committed events to `publish`, and
consumers (services/common/consumer.py) ack only after their own commit.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, PubAck, StorageType, StreamConfig
from nats.js.errors import BucketNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kcc.events.v1 import events_pb2
from services.common import telemetry
from services.common.config import Settings

log = logging.getLogger(__name__)

STREAM = "KCC"
# Events carry pseudonymous keys, not phone numbers or notes; they are kept as long as a
# closed callback may be (the default retention, one year) and then expire.
STREAM_MAX_AGE_SECONDS = 366 * 24 * 3600
DUPLICATE_WINDOW_SECONDS = 120


def subject(tenant: str, aggregate: str, event: str) -> str:
    return f"kcc.{tenant}.{aggregate}.{event}"


def envelope(tenant: str, event_id: str = "", **payload: object) -> events_pb2.Envelope:
    """A new envelope, stamped now, with `event_id` or a fresh one; `payload` is one field of the
    oneof, e.g. callback_changed=..."""
    env = events_pb2.Envelope(id=event_id or str(uuid.uuid4()), tenant=tenant, **payload)  # type: ignore[arg-type]
    env.occurred_at.FromNanoseconds(time.time_ns() // 1000 * 1000)
    return env


class EventBus:
    def __init__(self, nc: NATS, js: JetStreamContext) -> None:
        self.nc = nc
        self.js = js
        self._tracer = telemetry.tracer("kcc.events")

    @classmethod
    async def connect(cls, settings: Settings, name: str) -> EventBus:
        options: dict[str, object] = {
            "name": name,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
            "connect_timeout": 5,
        }
        if settings.nats_user:
            options.update(user=settings.nats_user, password=settings.nats_password)
        nc = await nats.connect(settings.nats_url, **options)  # type: ignore[arg-type]
        bus = cls(nc, nc.jetstream(timeout=10))
        await bus.ensure_stream()
        return bus

    async def ensure_stream(self) -> None:
        """Creates the stream, or brings its config up to date; safe to run at every start."""
        config = StreamConfig(
            name=STREAM,
            subjects=["kcc.>"],
            storage=StorageType.FILE,
            max_age=STREAM_MAX_AGE_SECONDS,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
        try:
            await self.js.stream_info(STREAM)
        except NotFoundError:
            await self.js.add_stream(config)
            return
        await self.js.update_stream(config)

    async def publish(
        self, subject: str, env: events_pb2.Envelope, trace_headers: dict[str, str] | None = None
    ) -> PubAck:
        """Publishes and waits for JetStream's ack; `Nats-Msg-Id` makes a retry harmless."""
        parent = telemetry.extract(trace_headers) if trace_headers else None
        with telemetry.span(self._tracer, f"{subject} publish", SpanKind.PRODUCER, parent) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", subject)
            span.set_attribute("messaging.message.id", env.id)
            headers = {"Nats-Msg-Id": env.id, **telemetry.inject()}
            return await self.js.publish(subject, env.SerializeToString(), headers=headers)

    async def key_value(self, bucket: str) -> KeyValue:
        """A JetStream key-value bucket (latest value per key, file storage), created on first use."""
        try:
            return await self.js.key_value(bucket)
        except BucketNotFoundError:
            return await self.js.create_key_value(KeyValueConfig(bucket=bucket, history=1, storage=StorageType.FILE))

    async def close(self) -> None:
        if not self.nc.is_closed:
            await self.nc.drain()


@contextmanager
def consumer_span(msg: Msg, env: events_pb2.Envelope, consumer: str) -> Iterator[trace.Span]:
    """A CONSUMER span that continues the producer's trace from the message headers."""
    tracer = telemetry.tracer("kcc.events")
    with telemetry.span(tracer, f"{msg.subject} process", SpanKind.CONSUMER, telemetry.extract(msg.headers)) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.consumer.group.name", consumer)
        span.set_attribute("messaging.message.id", env.id)
        yield span
