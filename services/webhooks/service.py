"""WebhookService handlers: a tenant integration manages its own subscriptions, an admin all.

Every write is a compare-and-set on the subscription's KV entry, so two replicas answering at
once cannot lose each other's change. The dispatcher acts on what the entry says (paused,
replay asked, dead letters queued); these handlers never post anything themselves.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

import grpc
from google.protobuf import empty_pb2
from nats.js.errors import APIError, KeyWrongLastSequenceError

from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import auth, names, paging
from services.common.errors import already_exists, failed_precondition, invalid_argument, not_found
from services.webhooks import figures, targets
from services.webhooks.store import (
    ACTIVE,
    PAUSED,
    SUBSCRIPTION_ID,
    DeadLetterRecord,
    Replay,
    Store,
    SubscriptionRecord,
    check_event_types,
    keys,
    now_rfc3339,
)

# Headers the platform sets itself; a subscription may not replace them.
RESERVED_HEADERS = frozenset(
    {"content-type", "content-length", "host", "webhook-id", "webhook-timestamp", "webhook-signature", "user-agent"}
)
MAX_HEADERS = 10
MIN_SECRET = 16
STATES = {ACTIVE: pb.Subscription.STATE_ACTIVE, PAUSED: pb.Subscription.STATE_PAUSED}


def _caller(tenant: str) -> auth.Principal:
    """Platform admins, the platform's services and the tenant's own integration; nobody else."""
    principal = auth.current()
    principal.require_role(auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION)
    principal.require_tenant(tenant)
    return principal


def _timestamp(value: str, into: object) -> None:
    if value:
        into.FromJsonString(value)  # type: ignore[attr-defined]


class WebhookService(webhooks_pb2_grpc.WebhookServiceServicer):
    def __init__(self, store: Store, production: bool, clock: Callable[[], float]) -> None:
        self.store = store
        self.production = production
        self.clock = clock

    # -- subscriptions --------------------------------------------------------------------------

    async def CreateSubscription(  # noqa: N802
        self, request: pb.CreateSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        _caller(tenant)
        names.check_request_id(request.request_id)
        sub = request.subscription
        subscription_id = request.subscription_id or _generated_id(tenant, request.request_id)
        if not SUBSCRIPTION_ID.fullmatch(subscription_id):
            raise invalid_argument("subscription_id", "must be lower-case letters, digits and - (at most 63)")
        if len(sub.secret) < MIN_SECRET:
            raise invalid_argument("subscription.secret", f"at least {MIN_SECRET} characters")
        await targets.check_field("subscription.url", sub.url, self.production)
        record = SubscriptionRecord(
            tenant=tenant,
            subscription=subscription_id,
            url=sub.url,
            event_types=check_event_types("subscription.event_types", list(sub.event_types)),
            secret=sub.secret,
            headers=_headers(sub.headers),
            state=PAUSED if sub.state == pb.Subscription.STATE_PAUSED else ACTIVE,
            create_time=now_rfc3339(),
            request_id=request.request_id,
        )
        held = await self.store.subscription(tenant, subscription_id)
        if held is None:
            try:
                await self.store.ensure_consumer(record)
            except APIError:  # left by a subscription of this name deleted half-way: not anyone's now
                await self.store.delete_consumer(record.consumer)
                await self.store.ensure_consumer(record)
            try:
                await self.store.subscriptions.create(record.key, record.to_json())
            except KeyWrongLastSequenceError:
                held = await self.store.subscription(tenant, subscription_id)
        if held is not None:
            if not request.request_id or held[0].request_id != request.request_id:
                raise already_exists(record.name)
            record = held[0]  # a retry of the call that made it
        return await self._message(record)

    async def GetSubscription(  # noqa: N802
        self, request: pb.GetSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        record, _revision = await self._find(request.name)
        return await self._message(record)

    async def ListSubscriptions(  # noqa: N802
        self, request: pb.ListSubscriptionsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListSubscriptionsResponse:
        (tenant,) = names.parse("parent", request.parent, "tenants")
        _caller(tenant)
        size = paging.page_size(request.page_size)
        offset = paging.decode(request.page_token, request.parent)
        ids = sorted(k.split(".", 1)[1] for k in await keys(self.store.subscriptions, f"{tenant}.*"))
        page = []
        for subscription in ids[offset : offset + size]:
            found = await self.store.subscription(tenant, subscription)
            if found is not None:
                page.append(await self._message(found[0]))
        return pb.ListSubscriptionsResponse(
            subscriptions=page, next_page_token=paging.next_token(offset, size, len(ids) - offset, request.parent)
        )

    async def PauseSubscription(  # noqa: N802
        self, request: pb.PauseSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        return await self._message(await self._change(request.name, _set_state(PAUSED)))

    async def ResumeSubscription(  # noqa: N802
        self, request: pb.ResumeSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        return await self._message(await self._change(request.name, _set_state(ACTIVE)))

    async def DeleteSubscription(  # noqa: N802
        self, request: pb.DeleteSubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> empty_pb2.Empty:
        record, _revision = await self._find(request.name)
        await self.store.subscriptions.delete(record.key)  # the dispatcher stops at this
        await self.store.delete_consumer(record.consumer)
        for letter in await self.store.dead_letter_records(record.tenant, record.subscription):
            await self.store.dead_letters.purge(letter.key)
        await self.store.state.purge(record.key)
        return empty_pb2.Empty()

    async def ReplaySubscription(  # noqa: N802
        self, request: pb.ReplaySubscriptionRequest, context: grpc.aio.ServicerContext
    ) -> pb.Subscription:
        start = request.WhichOneof("start")
        if start is None:
            raise invalid_argument("start_time", "give start_time or start_sequence")
        if start == "start_sequence" and request.start_sequence < 1:
            raise invalid_argument("start_sequence", "must be 1 or more")
        if start == "start_time" and request.start_time.ToDatetime(UTC) > datetime.now(UTC):
            raise invalid_argument("start_time", "lies in the future")

        def replay(record: SubscriptionRecord) -> None:
            generation = record.replay.generation + 1
            if start == "start_time":
                record.replay = Replay(generation, start_time=request.start_time.ToJsonString())
            else:
                record.replay = Replay(generation, start_sequence=request.start_sequence)

        return await self._message(await self._change(request.name, replay))

    # -- dead letters ---------------------------------------------------------------------------

    async def ListDeadLetters(  # noqa: N802
        self, request: pb.ListDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListDeadLettersResponse:
        record, _revision = await self._find(request.parent, "parent")
        size = paging.page_size(request.page_size)
        offset = paging.decode(request.page_token, request.parent)
        letters = await self.store.dead_letter_records(record.tenant, record.subscription)
        return pb.ListDeadLettersResponse(
            dead_letters=[_dead_letter(d) for d in letters[offset : offset + size]],
            next_page_token=paging.next_token(offset, size, len(letters) - offset, request.parent),
        )

    async def RedeliverDeadLetters(  # noqa: N802
        self, request: pb.RedeliverDeadLettersRequest, context: grpc.aio.ServicerContext
    ) -> pb.RedeliverDeadLettersResponse:
        record, _revision = await self._find(request.parent, "parent")
        letters = await self.store.dead_letter_records(record.tenant, record.subscription)
        if request.names:
            by_name = {d.name: d for d in letters}
            missing = [n for n in request.names if n not in by_name]
            if missing:
                raise not_found(missing[0])
            letters = [by_name[n] for n in request.names]
        for letter in letters:
            letter.redelivering = True
            await self.store.dead_letters.put(letter.key, letter.to_json())

        def bump(held: SubscriptionRecord) -> None:
            held.redeliver_generation += 1

        await self._change(request.parent, bump, "parent")
        return pb.RedeliverDeadLettersResponse(dead_letters=[_dead_letter(d) for d in letters])

    # -- helpers --------------------------------------------------------------------------------

    async def _find(self, name: str, field: str = "name") -> tuple[SubscriptionRecord, int]:
        tenant, subscription = names.parse(field, name, "tenants", "subscriptions")
        _caller(tenant)
        found = await self.store.subscription(tenant, subscription)
        if found is None:
            raise not_found(name)
        return found

    async def _change(
        self, name: str, change: Callable[[SubscriptionRecord], None], field: str = "name"
    ) -> SubscriptionRecord:
        """Applies `change` with compare-and-set, reading again if another writer came first."""
        for _attempt in range(5):
            record, revision = await self._find(name, field)
            change(record)
            try:
                await self.store.subscriptions.update(record.key, record.to_json(), last=revision)
            except KeyWrongLastSequenceError:
                continue
            return record
        raise failed_precondition("CONCURRENT_CHANGE", f"{name} changed meanwhile; try again")

    async def _message(self, record: SubscriptionRecord) -> pb.Subscription:
        """The resource as answered: no secret, header names without their values."""
        message = pb.Subscription(
            name=record.name,
            url=record.url,
            event_types=record.event_types,
            headers=[pb.Header(key=k) for k, _v in record.headers],
            state=STATES[record.state],
            figures=await figures.of(self.store, record, self.clock()),
        )
        _timestamp(record.create_time, message.create_time)
        return message


def _set_state(state: str) -> Callable[[SubscriptionRecord], None]:
    def change(record: SubscriptionRecord) -> None:
        record.state = state

    return change


def _generated_id(tenant: str, request_id: str) -> str:
    """A retry with the same request_id names the same subscription."""
    if not request_id:
        return "s-" + uuid.uuid4().hex[:16]
    return "s-" + hashlib.sha256(f"{tenant}/{request_id}".encode()).hexdigest()[:16]


def _headers(headers: Iterable[pb.Header]) -> list[tuple[str, str]]:
    result = []
    items = list(headers)
    if len(items) > MAX_HEADERS:
        raise invalid_argument("subscription.headers", f"at most {MAX_HEADERS}")
    for i, header in enumerate(items):
        name = header.key.strip().lower()
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise invalid_argument(f"subscription.headers[{i}].key", "must be a header name")
        if name in RESERVED_HEADERS:
            raise invalid_argument(f"subscription.headers[{i}].key", "is set by the platform")
        if "\r" in header.value or "\n" in header.value:
            raise invalid_argument(f"subscription.headers[{i}].value", "must be one line")
        result.append((name, header.value))
    return result


def _dead_letter(letter: DeadLetterRecord) -> pb.DeadLetter:
    message = pb.DeadLetter(
        name=letter.name,
        event_id=letter.event_id,
        type=letter.type,
        sequence=letter.sequence,
        attempts=letter.attempts,
        last_error=letter.last_error,
        redelivering=letter.redelivering,
    )
    _timestamp(letter.event_time, message.event_time)
    _timestamp(letter.park_time, message.park_time)
    return message
