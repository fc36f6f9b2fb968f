"""The event bus: one JetStream stream for `kcc.>`, protobuf envelopes, publish with `Nats-Msg-Id`.

Durability comes from JetStream and the databases, never from process memory: the
outbox (services/common/outbox.py) hands committed events to `publish`, and
consumers (services/common/consumer.py) ack only after their own commit.

A NATS node lost or a stream leader being elected is a pause, not an error: the bus knows
every configured server and reconnects forever (to any of them), a publish is retried under the same
`Nats-Msg-Id` (the stream stores it once) for up to PUBLISH_BUDGET_SECONDS, and only then
fails with EventBusUnavailable, which the gRPC guard turns into UNAVAILABLE.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig, PubAck, StorageType, StreamConfig
from nats.js.errors import (
    APIError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
    NoStreamResponseError,
    NotFoundError,
)
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from kcc.events.v1 import events_pb2
from services.common import telemetry
from services.common.config import Settings
from services.common.errors import STREAM_OFFLINE, BackendUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM = "KCC"
DUPLICATE_WINDOW_SECONDS = 120
# When a stream leader dies (SIGKILL), its followers elect a new one after a random 4-9 s
# without heartbeats (nats-server's raft election timeout); publishes paused 4.3-9.6 s on a
# 3-node loopback cluster (tests/test_nats_cluster.py). Retries stay well inside the duplicate window,
# so the stream keeps one copy of an event however often it is sent.
PUBLISH_BUDGET_SECONDS = 12.0
PUBLISH_ATTEMPT_SECONDS = 2.0
# Connecting, stream info and KV creation at start: longer, as a service cannot serve without
# them; after it the service fails to start rather than hang.
START_BUDGET_SECONDS = 30.0
# Closing a connection that lost its server: nats-py's close can wait on a dead socket for good
# (three times in about a hundred runs of the budget test under load); a stopping service goes on.
CLOSE_SECONDS = 5.0
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 0.5
# JetStream error codes: stream or bucket created meanwhile by another replica with other settings;
# an event whose Nats-Msg-Id a clustered stream is still storing (JSStreamDuplicateMessageConflict,
# 409): a partner's retry or a publish's own retry while the first is in flight. Asked again, it
# gets the duplicate's ack with the stored sequence (without the retry, 99 of 100 concurrent
# duplicates failed on a 3-node loopback cluster).
STREAM_NAME_IN_USE = 10058
DUPLICATE_IN_PROCESS = 10158


class NotYetVisible(Exception):
    """'Not found' for a stream or bucket made a moment ago (here or by another replica): a node that
    has not applied the cluster's assignment yet answers so (seen once in 15 cluster starts under load:
    a callbacks replica failed to start), so it is a pause, not an answer."""


# No answer yet, worth asking again: the connection is being re-established, no stream leader
# answered, or JetStream said 503.
TRANSIENT = (
    TimeoutError,  # nats-py's own is one; asyncio.wait_for's is a try cut short
    nats.errors.NoRespondersError,
    NoStreamResponseError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    NotYetVisible,
)


# The connection is gone for good (closed or draining): asking again cannot help.
CLOSED = (nats.errors.ConnectionClosedError, nats.errors.ConnectionDrainingError, nats.errors.NoServersError)


class EventBusUnavailable(BackendUnavailable):
    """JetStream did not take an event or answer a call within the retry budget."""


def _transient(exc: Exception) -> bool:
    if isinstance(exc, APIError):  # KeyNotFoundError is one, without a code: an answer, not a pause
        return getattr(exc, "code", None) == 503 or getattr(exc, "err_code", None) in (
            STREAM_OFFLINE,
            DUPLICATE_IN_PROCESS,
        )
    return isinstance(exc, TRANSIENT)


async def _made(call: Awaitable[T]) -> T:
    """A call on a stream or bucket that exists: 'not found' is a node not yet current (NotYetVisible)."""
    try:
        return await call
    except NotFoundError as exc:
        raise NotYetVisible(str(exc)) from exc


def stream_config(settings: Settings) -> StreamConfig:
    """The KCC stream as a service creates it. Events carry pseudonymous keys, not phone numbers
    or notes; by default they are kept as long as a closed callback may be (one year)."""
    return StreamConfig(
        name=STREAM,
        subjects=["kcc.>"],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        max_age=settings.stream_max_age_seconds,
        max_bytes=settings.stream_max_bytes,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
    )


def changes_at_start(current: StreamConfig, wanted: StreamConfig) -> dict[str, int]:
    """What a service changes on an existing stream: it raises replicas to the configured number,
    and nothing else. It never lowers replicas, and leaves max age and max bytes to the operator
    once the stream exists: a longer age would keep personal data longer than decided, more
    bytes may not fit the disks, and less of either would drop events."""
    if (wanted.num_replicas or 1) > (current.num_replicas or 1):
        return {"num_replicas": wanted.num_replicas or 1}
    return {}


def subject(tenant: str, aggregate: str, event: str) -> str:
    return f"kcc.{tenant}.{aggregate}.{event}"


def envelope(tenant: str, event_id: str = "", **payload: object) -> events_pb2.Envelope:
    """A new envelope, stamped now, with `event_id` or a fresh one; `payload` is one field of the
    oneof, e.g. callback_changed=..."""
    env = events_pb2.Envelope(id=event_id or str(uuid.uuid4()), tenant=tenant, **payload)  # type: ignore[arg-type]
    env.occurred_at.FromNanoseconds(time.time_ns() // 1000 * 1000)
    return env


class EventBus:
    def __init__(self, nc: NATS, js: JetStreamContext, settings: Settings | None = None) -> None:
        self.nc = nc
        self.js = js
        # JetStream API calls at start: short attempts, so one lost in an election is soon asked again.
        self._api = nc.jetstream(timeout=PUBLISH_ATTEMPT_SECONDS)
        self.settings = settings or Settings()
        self.publish_budget = PUBLISH_BUDGET_SECONDS
        self.start_budget = START_BUDGET_SECONDS
        self._tracer = telemetry.tracer("kcc.events")

    @classmethod
    async def connect(cls, settings: Settings, name: str, start_budget: float = START_BUDGET_SECONDS) -> EventBus:
        """Connects to any of the configured servers (a cluster's list) within `start_budget`,
        reconnects forever once connected, and makes sure the KCC stream exists."""
        nc = NATS()

        async def disconnected() -> None:
            if not (nc.is_closed or nc.is_draining):
                log.warning("%s: NATS connection lost; reconnecting", name)

        async def reconnected() -> None:
            log.info("%s: NATS connection re-established (%s)", name, nc.connected_url)

        async def error(exc: Exception) -> None:
            # A refused reconnect comes every reconnect_time_wait during an outage: said once above.
            log.log(logging.DEBUG if isinstance(exc, OSError) else logging.WARNING, "%s: NATS: %r", name, exc)

        options: dict[str, object] = {
            "name": name,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 0.5,
            "connect_timeout": 5,
            "disconnected_cb": disconnected,
            "reconnected_cb": reconnected,
            "error_cb": error,
        }
        if settings.nats_user:
            options.update(user=settings.nats_user, password=settings.nats_password)
        try:
            await asyncio.wait_for(nc.connect(servers=settings.nats_servers, **options), start_budget)  # type: ignore[arg-type]
        except TimeoutError:
            with contextlib.suppress(Exception):
                await nc.close()
            raise EventBusUnavailable(
                f"{name}: no NATS server of {settings.nats_url} let us in within {start_budget:.0f} s"
                f" (last error: {nc.last_error!r})"
            ) from None
        bus = cls(nc, nc.jetstream(timeout=10), settings)
        bus.start_budget = start_budget
        try:
            await bus.ensure_stream()
        except BaseException:
            await nc.close()
            raise
        return bus

    async def ensure_stream(self) -> None:
        """Creates the stream as configured; on an existing one only raises (see `changes_at_start`), so an
        operator's R3 or byte limit survives every start. Safe for replicas starting together."""
        wanted = stream_config(self.settings)
        try:
            info = await self.at_start("stream info", lambda: self._api.stream_info(STREAM))
        except NotFoundError:
            try:
                await self.at_start("stream create", lambda: self._api.add_stream(wanted))
                return
            except APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
            info = await self.at_start("stream info", lambda: self._api.stream_info(STREAM), exists=True)
        changes = changes_at_start(info.config, wanted)
        if not changes:
            return
        try:
            await self.at_start("stream update", lambda: self._api.update_stream(info.config.evolve(**changes)))
            log.info("stream %s raised to %s", STREAM, changes)
        except APIError as exc:
            # E.g. R3 asked while too few nodes run: the stream serves as it is; say so loudly.
            log.warning("stream %s kept as it is; raising it to %s failed: %s", STREAM, changes, exc)

    async def publish(
        self, subject: str, env: events_pb2.Envelope, trace_headers: dict[str, str] | None = None
    ) -> PubAck:
        """Publishes and waits for JetStream's ack, retrying a pause (see module doc) under the same
        `Nats-Msg-Id`; raises EventBusUnavailable when the budget, counted from the first try, is spent."""
        budget = self.publish_budget
        started = asyncio.get_running_loop().time()
        parent = telemetry.extract(trace_headers) if trace_headers else None
        with telemetry.span(self._tracer, f"{subject} publish", SpanKind.PRODUCER, parent) as span:
            span.set_attribute("messaging.system", "nats")
            span.set_attribute("messaging.destination.name", subject)
            span.set_attribute("messaging.message.id", env.id)
            headers = {"Nats-Msg-Id": env.id, **telemetry.inject()}
            payload = env.SerializeToString()
            try:
                attempt = min(PUBLISH_ATTEMPT_SECONDS, budget)
                return await self.js.publish(subject, payload, timeout=attempt, headers=headers)
            except Exception as exc:  # noqa: BLE001 - sorted by _retry; the first try stays lean
                first = exc
            return await self._retry(
                f"publish {env.id}",
                lambda timeout: self.js.publish(subject, payload, timeout=timeout, headers=headers),
                budget,
                first,
                started,
            )

    async def bounded(self, what: str, call: Callable[[], Awaitable[T]]) -> T:
        """A key-value call on a call's path, asked again through an election like a publish: an outage
        answers UNAVAILABLE after the same budget."""
        return await self._ask(what, call, self.publish_budget)

    async def kv_write(self, what: str, kv: KeyValue, key: str, value: bytes, last: int | None = None) -> int:
        """Creates `key` (`last` None) or replaces its revision `last`, through an election like a
        publish; returns the new revision. A try whose answer was lost may have been stored: its retry
        then meets the write it made, which is recognised by the value (so a value must be the
        writer's own, e.g. carry a nonce) instead of being reported as changed meanwhile."""
        tries = 0

        async def write() -> int:
            nonlocal tries
            tries += 1
            try:
                return await (kv.create(key, value) if last is None else kv.update(key, value, last=last))
            except KeyWrongLastSequenceError:
                if tries > 1:
                    with contextlib.suppress(KeyNotFoundError):
                        if (entry := await kv.get(key)).value == value:
                            return entry.revision or 0
                raise

        return await self.bounded(what, write)

    async def last_seq(self) -> int:
        """The stream's last sequence; asked again through an election like a publish, so that a
        handler reading its own writes pauses instead of failing."""
        try:
            info = await self._api.stream_info(STREAM)
        except Exception as exc:  # noqa: BLE001 - sorted by _retry
            info = await self._retry(
                "stream info", lambda _timeout: self._api.stream_info(STREAM), self.publish_budget, exc
            )
        return info.state.last_seq

    async def key_value(self, bucket: str) -> KeyValue:
        """A JetStream key-value bucket (latest value per key, file storage), created on first use with
        the configured replicas, byte limit and age; an existing bucket is used as it is (a service's
        NATS user may not edit it: an operator raises a bucket made before a move to a cluster)."""
        settings = self.settings
        try:
            await self.at_start(f"bucket {bucket}", lambda: self._api.stream_info(f"KV_{bucket}"))
        except NotFoundError:
            config = KeyValueConfig(
                bucket=bucket,
                history=1,
                storage=StorageType.FILE,
                replicas=settings.bucket_replicas,
                max_bytes=settings.kv_max_bytes,
                ttl=settings.kv_max_age_seconds or None,
            )
            try:
                await self.at_start(f"bucket {bucket} create", lambda: self._api.create_key_value(config))
            except APIError as exc:
                if exc.err_code != STREAM_NAME_IN_USE:
                    raise
        return await self.at_start(f"bucket {bucket}", lambda: self.js.key_value(bucket), exists=True)

    async def at_start(self, what: str, call: Callable[[], Awaitable[T]], exists: bool = False) -> T:
        """A JetStream API call made at start, retried through an election for `start_budget`. Each
        try gets a publish attempt's time, not the context's 10 s: a bucket another replica has just
        made can leave a first read unanswered (measured: the second of two routing replicas started
        together waited 10 s for its replay mark), and the next try is answered at once. `exists`:
        the call is on a stream or bucket known to exist, so 'not found' is a pause too (NotYetVisible)."""
        return await self._ask(what, lambda: _made(call()) if exists else call(), self.start_budget)

    async def _ask(self, what: str, call: Callable[[], Awaitable[T]], budget: float) -> T:
        """`call`, each try given a publish attempt's time, asked again through a pause for `budget`."""

        def attempt(timeout: float) -> Awaitable[T]:
            return asyncio.wait_for(call(), timeout)

        try:
            return await attempt(min(PUBLISH_ATTEMPT_SECONDS, budget))
        except Exception as exc:  # noqa: BLE001 - sorted by _retry
            first = exc
        return await self._retry(what, attempt, budget, first)

    async def _retry(
        self,
        what: str,
        attempt: Callable[[float], Awaitable[T]],
        budget: float,
        first: Exception,
        started: float | None = None,
    ) -> T:
        """Tries again after `first` failed, with exponential backoff, until `budget` seconds have
        passed since `started` (the loop's time; by default now); each attempt is given at most
        PUBLISH_ATTEMPT_SECONDS and what is left."""
        loop = asyncio.get_running_loop()
        deadline = (loop.time() if started is None else started) + budget
        delay = FIRST_BACKOFF_SECONDS
        failure = first
        while True:
            if isinstance(failure, CLOSED):
                raise EventBusUnavailable(f"{what}: the NATS connection is closed") from failure
            if not _transient(failure):
                raise failure
            left = deadline - loop.time()
            if left <= 0:
                raise EventBusUnavailable(
                    f"{what}: no answer from JetStream within {budget:.0f} s ({failure})"
                ) from failure
            log.debug("%s: %r; retrying", what, failure)
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, MAX_BACKOFF_SECONDS)
            try:
                return await attempt(max(0.1, min(PUBLISH_ATTEMPT_SECONDS, deadline - loop.time())))
            except Exception as exc:  # noqa: BLE001 - sorted at the top of the loop
                failure = exc

    async def close(self) -> None:
        """Drains a live connection; one still reconnecting (a NATS outage) is simply closed."""
        if self.nc.is_connected:
            await self.nc.drain()
        elif not self.nc.is_closed:
            # nats-py writes what it buffered for the lost server into the dead socket on close, and
            # fails there after it has stopped reconnecting; that buffer never reached a server.
            try:
                await asyncio.wait_for(self.nc.close(), CLOSE_SECONDS)
            except ConnectionResetError:
                pass
            except TimeoutError:
                log.warning("NATS connection not closed within %.0f s; left behind", CLOSE_SECONDS)


@contextmanager
def consumer_span(msg: Msg, env: events_pb2.Envelope, consumer: str) -> Iterator[trace.Span]:
    """A CONSUMER span that continues the producer's trace from the message headers."""
    tracer = telemetry.tracer("kcc.events")
    with telemetry.span(tracer, f"{msg.subject} process", SpanKind.CONSUMER, telemetry.extract(msg.headers)) as span:
        span.set_attribute("messaging.system", "nats")
        span.set_attribute("messaging.consumer.group.name", consumer)
        span.set_attribute("messaging.message.id", env.id)
        yield span
