"""Subscriptions, their delivery state and their dead letters, all in JetStream.

Three KV buckets (replicated like the stream) and one durable consumer per subscription:
- `webhooks-subscriptions`, key `<tenant>.<subscription>`: what the tenant asked for; written
  by the API only (create, pause, resume, replay, redeliver, delete).
- `webhooks-state`, same key: how far delivery came; written only by the dispatcher holding
  the subscription's lease.
- `webhooks-dead-letters`, key `<tenant>.<subscription>.<stream sequence>`: parked events; the
  event itself stays in the KCC stream and is read back by its sequence.
- consumer `webhook-<tenant>-<subscription>` on the KCC stream, filtered on the tenant's
  subjects the subscription wants, at most one message in flight: the cursor of delivery and
  the order of it, the same whichever replica delivers.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue

from services.common.errors import invalid_argument
from services.common.events import STREAM

SUBSCRIPTIONS = "webhooks-subscriptions"
STATE = "webhooks-state"
DEAD_LETTERS = "webhooks-dead-letters"
LEASES = "webhooks-leases"
CONSUMER_PREFIX = "webhook-"

ACTIVE = "ACTIVE"
PAUSED = "PAUSED"

SUBSCRIPTION_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
# `callback.requested`, `callback.*`, `*`: aggregate and event as in kcc.<tenant>.<aggregate>.<event>.
EVENT_TYPE = re.compile(r"^\*$|^[a-z][a-z_]{0,30}\.(\*|[a-z][a-z_]{0,30})$")
MAX_EVENT_TYPES = 20


def key(tenant: str, subscription: str) -> str:
    return f"{tenant}.{subscription}"


def consumer_name(tenant: str, subscription: str) -> str:
    return f"{CONSUMER_PREFIX}{tenant}-{subscription}"


def check_event_types(field_name: str, event_types: list[str]) -> list[str]:
    """The filters, sorted and without those another one covers (JetStream refuses overlaps)."""
    if len(event_types) > MAX_EVENT_TYPES:
        raise invalid_argument(field_name, f"at most {MAX_EVENT_TYPES} event types")
    for i, value in enumerate(event_types):
        if not EVENT_TYPE.fullmatch(value):
            raise invalid_argument(f"{field_name}[{i}]", "must be `*`, `<aggregate>.*` or `<aggregate>.<event>`")
    wanted = set(event_types)
    if not wanted or "*" in wanted:
        return ["*"]
    covered = {t for t in wanted if not t.endswith(".*") and t.split(".")[0] + ".*" in wanted}
    return sorted(wanted - covered)


def subjects(tenant: str, event_types: list[str]) -> list[str]:
    """The stream subjects of the tenant's events that the filters match; never another tenant's."""
    if event_types == ["*"]:
        return [f"kcc.{tenant}.>"]
    return [f"kcc.{tenant}.{t}" for t in event_types]


@dataclass
class Replay:
    generation: int = 0
    start_sequence: int = 0
    start_time: str = ""  # RFC 3339, when not from a sequence


@dataclass
class SubscriptionRecord:
    tenant: str
    subscription: str
    url: str
    event_types: list[str]
    secret: str
    headers: list[tuple[str, str]]
    state: str = ACTIVE
    create_time: str = ""
    request_id: str = ""
    replay: Replay = field(default_factory=Replay)
    redeliver_generation: int = 0

    @property
    def key(self) -> str:
        return key(self.tenant, self.subscription)

    @property
    def name(self) -> str:
        return f"tenants/{self.tenant}/subscriptions/{self.subscription}"

    @property
    def consumer(self) -> str:
        return consumer_name(self.tenant, self.subscription)

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SubscriptionRecord:
        raw = json.loads(data)
        raw["replay"] = Replay(**raw["replay"])
        raw["headers"] = [tuple(h) for h in raw["headers"]]
        return cls(**raw)


@dataclass
class DeliveryState:
    """Written by the lease holder after each post; a replica taking over continues from it."""

    delivered: int = 0
    parked: int = 0
    last_sequence: int = 0  # the last stream sequence acknowledged by the receiver
    head_sequence: int = 0  # the event being posted, 0 when none
    head_time: str = ""  # when it happened (RFC 3339)
    head_attempts: int = 0  # failed posts of it so far
    head_first_failure: float = 0.0  # epoch seconds; the retry period counts from here
    last_error: str = ""
    replay_applied: int = 0
    redeliver_applied: int = 0
    # The subscription's create_time: a state left by one deleted before under the same name
    # (written by a replica that had not yet seen the delete) is not this one's.
    incarnation: str = ""

    def reset_head(self) -> None:
        self.head_sequence, self.head_time, self.head_attempts, self.head_first_failure = 0, "", 0, 0.0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DeliveryState:
        return cls(**json.loads(data))


@dataclass
class DeadLetterRecord:
    tenant: str
    subscription: str
    sequence: int
    event_id: str
    type: str
    event_time: str
    park_time: str
    attempts: int
    last_error: str
    redelivering: bool = False

    @property
    def key(self) -> str:
        return f"{key(self.tenant, self.subscription)}.{self.sequence}"

    @property
    def name(self) -> str:
        return f"tenants/{self.tenant}/subscriptions/{self.subscription}/deadLetters/{self.sequence}"

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> DeadLetterRecord:
        return cls(**json.loads(data))


def now_rfc3339() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


async def get_json(kv: KeyValue, k: str) -> tuple[bytes, int] | None:
    """The value and revision of a key; None when absent or deleted."""
    try:
        entry = await kv.get(k)
    except KeyNotFoundError:
        return None
    if not entry.value:
        return None
    return entry.value, entry.revision or 0


async def keys(kv: KeyValue, pattern: str) -> list[str]:
    """Keys matching a subject-style pattern, read through a filtered watch (nats-py's `keys`
    reads the whole bucket and filters by substring)."""
    watcher = await kv.watch(pattern, ignore_deletes=True, meta_only=True)
    found = []
    try:
        async for entry in watcher:
            if entry is None:  # the end of the current values
                break
            found.append(entry.key)
    finally:
        await watcher.stop()
    return found


class Store:
    def __init__(
        self, js: JetStreamContext, subscriptions: KeyValue, state: KeyValue, dead_letters: KeyValue, ack_wait: float
    ) -> None:
        self.js = js
        self.subscriptions = subscriptions
        self.state = state
        self.dead_letters = dead_letters
        self.ack_wait = ack_wait

    async def subscription(self, tenant: str, subscription: str) -> tuple[SubscriptionRecord, int] | None:
        found = await get_json(self.subscriptions, key(tenant, subscription))
        return (SubscriptionRecord.from_json(found[0]), found[1]) if found else None

    async def delivery_state(self, record: SubscriptionRecord) -> DeliveryState:
        found = await get_json(self.state, record.key)
        state = DeliveryState.from_json(found[0]) if found else None
        if state is None or state.incarnation != record.create_time:
            return DeliveryState(incarnation=record.create_time)
        return state

    async def put_state(self, k: str, state: DeliveryState) -> None:
        await self.state.put(k, state.to_json())

    async def dead_letter_records(self, tenant: str, subscription: str) -> list[DeadLetterRecord]:
        found = []
        for k in await keys(self.dead_letters, f"{key(tenant, subscription)}.*"):
            value = await get_json(self.dead_letters, k)
            if value is not None:
                found.append(DeadLetterRecord.from_json(value[0]))
        return sorted(found, key=lambda d: d.sequence)

    async def ensure_consumer(self, record: SubscriptionRecord, replay: Replay | None = None, after: int = 0) -> None:
        """Creates the subscription's durable consumer: from now, from a replay's start, or after
        the last acknowledged sequence (a consumer lost by an operator)."""
        filters = subjects(record.tenant, record.event_types)
        config = ConsumerConfig(
            durable_name=record.consumer,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
            max_ack_pending=1,  # one in flight: in order, whichever replica delivers
            max_deliver=-1,  # the dispatcher retries and parks by itself
            ack_wait=self.ack_wait,
        )
        if len(filters) == 1:
            config.filter_subject = filters[0]
        else:
            config.filter_subjects = filters
        if replay is not None and replay.start_time:
            start = datetime.fromisoformat(replay.start_time.replace("Z", "+00:00"))
            config.deliver_policy, config.opt_start_time = DeliverPolicy.BY_START_TIME, start
        elif replay is not None:
            config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, max(1, replay.start_sequence)
        elif after:
            config.deliver_policy, config.opt_start_seq = DeliverPolicy.BY_START_SEQUENCE, after + 1
        await self.js.add_consumer(STREAM, config)

    async def delete_consumer(self, name: str) -> None:
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(STREAM, name)
