"""RoutingService: contacts in, offers out. No database and no call to another service on the hot path.

Every change is first published to JetStream (the durable record) and then applied
to the in-memory router through the same `apply` that replays the stream on start.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator
from datetime import UTC
from functools import lru_cache
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as pb
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, events, names, paging
from services.common.citizen import normalise_phone
from services.common.errors import failed_precondition, invalid_argument, not_found, permission_denied
from services.common.events import EventBus
from services.routing.catalogue import TenantCatalogue
from services.routing.matching import AgentState, ContactState, Router
from services.routing.recognition import CONFIDENCE_THRESHOLD, ProductMatch, ProductRecognizer
from services.routing.repeats import RepeatIndex

CHANNEL = {v.number: v.name.removeprefix("CHANNEL_") for v in common_pb2.Channel.DESCRIPTOR.values}
CHANNEL_VALUE = {name: number for number, name in CHANNEL.items()}
HANDLING_VALUE = {v.name.removeprefix("HANDLING_"): v.number for v in common_pb2.Handling.DESCRIPTOR.values}
CONTACT_STATE_VALUE = {v.name.removeprefix("STATE_"): v.number for v in pb.Contact.State.DESCRIPTOR.values}
ENTRY_KINDS = {1: "PHONE_NUMBER", 2: "WEB_FORM_ORIGIN", 3: "CHAT_WIDGET"}
REAL_TIME = {"PHONE", "CHAT", "COUNTER"}
QUESTION_MAX = 2000
# Who routes and withdraws contacts; agents also read contacts and figures. Department users
# work only their callback worklist (services/callbacks), so they see no contacts here.
ROUTING_ROLES = (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION)
CONTACT_ROLES = (*ROUTING_ROLES, auth.Role.AGENT)
CONTACT_NS = uuid.UUID("5f0c1d9e-8a8b-4f55-9d1b-4f5a3c8b2e10")
CONTACT_NS_BYTES = CONTACT_NS.bytes


def stamp(seconds: float) -> Timestamp:
    """Epoch seconds as a Timestamp, rounded to the microsecond exactly as `datetime.fromtimestamp` does
    (so a stamp read back and stamped again is unchanged), without building a datetime on the hot path."""
    frac, whole = math.modf(seconds)
    micros = round(frac * 1e6)
    if micros >= 1_000_000:
        whole, micros = whole + 1, micros - 1_000_000
    elif micros < 0:
        whole, micros = whole - 1, micros + 1_000_000
    return Timestamp(seconds=int(whole), nanos=micros * 1000)


def contact_uuid(key: str) -> str:
    """`str(uuid.uuid5(CONTACT_NS, key))`, without building a UUID object on the hot path: a
    retried request_id gets the same contact id, so the contact is not routed twice."""
    digest = bytearray(hashlib.sha1(CONTACT_NS_BYTES + key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@lru_cache(maxsize=4096)
def tenant_id(name: str) -> str:
    """`tenants/gm0268` -> `gm0268`; parsed once per name (invalid names raise, and are not kept)."""
    (tenant,) = names.parse("tenant", name, "tenants")
    return tenant


def seconds_of(ts: Timestamp) -> float:
    """A Timestamp as epoch seconds, equal to `ts.ToDatetime(UTC).timestamp()` without the datetime."""
    return (ts.seconds * 1_000_000 + ts.nanos // 1000) / 1_000_000


class RecognitionCache:
    """Recent recognition results per recognizer, keyed by a hash of the question text.

    Recognition is a pure function of (catalogue, text, limit), and a contact centre hears
    the same phrases over and over: IVR speech-to-text and chat quick replies produce a
    small set of texts ("paspoort aanvragen", "afspraak maken"). A repeat then costs a
    hash and a dict look-up instead of a full scoring pass. Entries belong to one
    recognizer (a new catalogue gets a new recognizer, so a stale answer is impossible) and
    go with it; only a 128-bit hash of the text is kept, never the citizen's words.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self.hits = 0
        self.misses = 0
        self._by_recognizer: weakref.WeakKeyDictionary[
            ProductRecognizer, OrderedDict[bytes, tuple[ProductMatch, ...]]
        ] = weakref.WeakKeyDictionary()

    def recognize(self, recognizer: ProductRecognizer, text: str, limit: int) -> tuple[ProductMatch, ...]:
        if self.size <= 0:
            return tuple(recognizer.recognize(text, limit))
        entries = self._by_recognizer.get(recognizer)
        if entries is None:
            entries = self._by_recognizer[recognizer] = OrderedDict()
        key = hashlib.blake2b(text.encode(), digest_size=16, salt=limit.to_bytes(16, "little")).digest()
        found = entries.get(key)
        if found is not None:
            self.hits += 1
            entries.move_to_end(key)
            return found
        self.misses += 1
        result = tuple(recognizer.recognize(text, limit))
        entries[key] = result
        if len(entries) > self.size:
            entries.popitem(last=False)
        return result


class RoutingState:
    """What the service knows: catalogues by tenant, entry points, the router and open callbacks."""

    def __init__(self) -> None:
        self.catalogues: dict[str, TenantCatalogue] = {}
        self.entry_points: dict[tuple[str, str], str] = {}
        self.router = Router()
        self.repeats = RepeatIndex()
        self.changed = asyncio.Event()
        self.streams: dict[str, asyncio.Queue[pb.ConnectAgentResponse]] = {}

    def apply(self, env: events_pb2.Envelope, replay: bool = False) -> None:
        """Applies one event to memory; used live and when replaying the stream on start."""
        kind = env.WhichOneof("payload")
        if kind == "contact_routed":
            self._routed(env.contact_routed)
        elif kind == "contact_changed":
            self._contact_changed(env.contact_changed, seconds_of(env.occurred_at), replay)
        elif kind == "callback_changed":
            self.repeats.apply(env.tenant, env.callback_changed)
        self.changed.set()

    def _routed(self, e: events_pb2.ContactRouted) -> None:
        target = e.service_level_target
        self.router.enqueue(
            ContactState(
                name=e.contact,
                tenant=e.tenant,
                queue=e.queue,
                department=e.department,
                channel=CHANNEL[e.channel],
                priority=e.priority,
                enqueued_at=seconds_of(e.enqueue_time),
                overflow_after=float(target.seconds),
                answer_target_seconds=target.seconds,
                product_uri=e.product_uri,
                language=e.language,
                repeat_contact=e.repeat_contact,
                citizen_key=e.citizen_key,
            )
        )
        self.router.figures[(e.tenant, e.queue)].target_percent = target.percent

    def _contact_changed(self, e: events_pb2.ContactChanged, at: float, replay: bool) -> None:
        router = self.router
        contact = router.contacts.get(e.contact)
        if contact is None:
            return
        if e.change == "abandoned":
            router.abandon(e.contact, at)
        elif replay and e.agent and e.agent not in router.agents:
            return
        elif e.change == "offered" and not replay and contact.state == "OFFERED":
            return  # the live matcher already applied its own decision
        elif e.change == "accepted" and contact.state in ("QUEUED", "OFFERED"):
            if replay:
                contact.agent = e.agent
            router.accept(e.agent, e.contact, at)
        elif e.change in ("rejected", "offer_expired") and replay:
            contact.declined_by.add(e.agent)
        elif e.change == "completed" and contact.state == "CONNECTED":
            router.complete(e.agent, e.contact, at)


def agent_from_message(name: str, msg: pb.Agent) -> AgentState:
    return AgentState(
        name=name,
        display_name=msg.display_name,
        tenants=frozenset(t.removeprefix("tenants/") for t in msg.tenants),
        overflow_tenants=frozenset(t.removeprefix("tenants/") for t in msg.overflow_tenants),
        departments=frozenset(msg.departments),
        languages=frozenset(msg.languages),
        channels=frozenset(CHANNEL[c] for c in msg.channels),
        capacity={CHANNEL[c.channel]: c.capacity for c in msg.capacities},
    )


def agent_message(agent: AgentState) -> pb.Agent:
    return pb.Agent(
        name=agent.name,
        display_name=agent.display_name,
        tenants=[f"tenants/{t}" for t in sorted(agent.tenants)],
        overflow_tenants=[f"tenants/{t}" for t in sorted(agent.overflow_tenants)],
        departments=sorted(agent.departments),
        languages=sorted(agent.languages),
        channels=[common_pb2.Channel.Value(f"CHANNEL_{c}") for c in sorted(agent.channels)],
        capacities=[
            pb.ChannelCapacity(channel=common_pb2.Channel.Value(f"CHANNEL_{c}"), capacity=n)
            for c, n in sorted(agent.capacity.items())
        ],
        state=pb.Agent.State.Value(f"STATE_{agent.state}"),
        state_time=stamp(agent.state_since or time.time()),
    )


class RoutingService(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(self, state: RoutingState, bus: EventBus, save_agent: Any, recognition_cache_size: int = 4096) -> None:
        self.state = state
        self.bus = bus
        self.save_agent = save_agent  # persists an agent definition (JetStream KV)
        self.recognition = RecognitionCache(recognition_cache_size)

    # Contacts ---------------------------------------------------------------

    def _tenant(self, request: pb.RouteContactRequest) -> str:
        target = request.WhichOneof("target")
        if target == "tenant":
            return tenant_id(request.tenant)
        if target == "entry_point":
            kind = ENTRY_KINDS.get(request.entry_point.kind)
            if kind is None:
                raise invalid_argument("entry_point.kind", "must be 1 (phone), 2 (web form) or 3 (chat)")
            value = request.entry_point.value.strip()
            if kind == "PHONE_NUMBER":
                value = normalise_phone("entry_point.value", value, allow_short=True)
            elif kind == "WEB_FORM_ORIGIN":
                value = value.lower()
            owner = self.state.entry_points.get((kind, value))
            if owner is None or not auth.current().may_access(owner):
                raise not_found("entry point")
            return owner
        raise invalid_argument("target", "give tenant or entry_point")

    def _catalogue(self, tenant: str) -> TenantCatalogue:
        auth.current().require_tenant(tenant)
        catalogue = self.state.catalogues.get(tenant)
        if catalogue is None:
            raise not_found(f"tenants/{tenant}")
        if catalogue.snapshot.state != "ACTIVE":
            raise failed_precondition("TENANT_NOT_ACTIVE", f"tenants/{tenant} is {catalogue.snapshot.state.lower()}")
        return catalogue

    async def RouteContact(self, request: pb.RouteContactRequest, context: Any) -> pb.RouteContactResponse:
        auth.current().require_role(*ROUTING_ROLES)
        tenant = self._tenant(request)
        catalogue = self._catalogue(tenant)
        channel = CHANNEL.get(request.channel, "UNSPECIFIED")
        if channel == "UNSPECIFIED":
            raise invalid_argument("channel", "is required")
        if len(request.citizen_key) > 128:
            raise invalid_argument("citizen_key", "at most 128 characters")
        contact_id = (
            contact_uuid(f"{tenant}/{names.check_request_id(request.request_id)}")
            if request.request_id
            else str(uuid.uuid4())
        )
        name = f"tenants/{tenant}/contacts/{contact_id}"
        known = self.state.router.contacts.get(name)
        response = pb.RouteContactResponse()
        product = None
        subject = request.WhichOneof("subject")
        if subject == "product_uri":
            product = catalogue.by_uri.get(request.product_uri) or catalogue.by_slug.get(
                request.product_uri.rsplit("/", 1)[-1]
            )
            if product is None:
                raise not_found(f"product {request.product_uri}")
        elif subject == "ivr_code":
            product = catalogue.by_ivr.get(request.ivr_code.strip())
        elif subject == "question":
            if len(request.question) > QUESTION_MAX:
                raise invalid_argument("question", f"at most {QUESTION_MAX} characters")
            matches = self.recognition.recognize(catalogue.recognizer, request.question, 5)
            add_candidate = response.candidates.add  # built in place: no copy into the reply
            for m in matches:
                add_candidate(uri=m.uri, name=m.name, score=m.score)
            if matches and matches[0].score >= CONFIDENCE_THRESHOLD:
                product = catalogue.by_uri.get(matches[0].uri)
        snapshot = catalogue.snapshot
        department = product.department if product else (snapshot.fallback_department or "algemeen")
        sla = snapshot.sla_for(channel, department, product.slug if product else "")
        open_callbacks = self.state.repeats.open_for(tenant, request.citizen_key)
        priority = (5 if channel in REAL_TIME else 1) + (2 if open_callbacks else 0)
        if known is None:
            enqueue = time.time()
            routed = events_pb2.ContactRouted(
                contact=name,
                tenant=tenant,
                channel=request.channel,
                product_uri=product.uri if product else "",
                product_name=product.name if product else "",
                department=department,
                queue=department,
                priority=priority,
                repeat_contact=bool(open_callbacks),
                citizen_key=request.citizen_key,
                enqueue_time=stamp(enqueue),
                handling=HANDLING_VALUE[product.handling] if product else 0,
                service_level_target=common_pb2.ServiceLevelTarget(
                    seconds=sla.answer_seconds, percent=sla.answer_percent
                ),
                language=request.language[:16],
                open_callbacks=[c.callback for c in open_callbacks],
            )
            env = events.envelope(tenant, contact_id, contact_routed=routed)
            await self.bus.publish(events.subject(tenant, "contact", "routed"), env)
            self.state.apply(env)
        response.contact.CopyFrom(self.contact_message(self.state.router.contacts[name]))
        response.recognised = product is not None
        return response

    def contact_message(self, c: ContactState) -> pb.Contact:
        catalogue = self.state.catalogues.get(c.tenant)
        product = catalogue.by_uri.get(c.product_uri) if catalogue and c.product_uri else None
        sla_target = common_pb2.ServiceLevelTarget(
            seconds=c.answer_target_seconds, percent=self.state.router.figures[(c.tenant, c.queue)].target_percent
        )
        open_callbacks = [
            pb.OpenCallbackRef(
                callback=o.callback,
                department=o.department,
                product_uri=o.product_uri,
                deadline=stamp(o.deadline.replace(tzinfo=UTC).timestamp()) if o.deadline else None,
                status=o.status,
            )
            for o in self.state.repeats.open_for(c.tenant, c.citizen_key)
        ]
        return pb.Contact(
            name=c.name,
            tenant=f"tenants/{c.tenant}",
            channel=CHANNEL_VALUE[c.channel],
            product_uri=c.product_uri,
            product_name=product.name if product else "",
            department=f"tenants/{c.tenant}/departments/{c.department}",
            queue=c.queue,
            priority=c.priority,
            service_level_target=sla_target,
            handling=HANDLING_VALUE[product.handling] if product else 0,
            state=CONTACT_STATE_VALUE[c.state],
            enqueue_time=stamp(c.enqueued_at),
            agent=c.agent,
            overflowed=c.overflowed,
            open_callbacks=open_callbacks,
            repeat_contact=c.repeat_contact,
        )

    def _contact(self, field: str, name: str) -> ContactState:
        principal = auth.current()
        principal.require_role(*CONTACT_ROLES)
        tenant, _ = names.parse(field, name, "tenants", "contacts")
        principal.require_tenant(tenant)
        contact = self.state.router.contacts.get(name)
        if contact is None:
            raise not_found(name)
        return contact

    async def _publish_change(self, contact: ContactState, change: str, agent: str = "", outcome: str = "") -> None:
        env = events.envelope(
            contact.tenant,
            contact_changed=events_pb2.ContactChanged(
                contact=contact.name, change=change, agent=agent, outcome=outcome, queue=contact.queue
            ),
        )
        await self.bus.publish(events.subject(contact.tenant, "contact", change), env)
        self.state.apply(env)

    async def WithdrawContact(self, request: pb.WithdrawContactRequest, context: Any) -> pb.Contact:
        auth.current().require_role(*ROUTING_ROLES)
        contact = self._contact("name", request.name)
        if contact.state not in ("QUEUED", "OFFERED"):
            raise failed_precondition("CONTACT_NOT_WAITING", f"contact is {contact.state.lower()}")
        agent = contact.agent
        await self._publish_change(contact, "abandoned")
        if agent in self.state.streams:
            self.state.streams[agent].put_nowait(pb.ConnectAgentResponse(offer_revoked=contact.name))
        return self.contact_message(contact)

    async def GetContact(self, request: pb.GetContactRequest, context: Any) -> pb.Contact:
        return self.contact_message(self._contact("name", request.name))

    async def ClassifyQuestion(self, request: pb.ClassifyQuestionRequest, context: Any) -> pb.ClassifyQuestionResponse:
        auth.current().require_role(*CONTACT_ROLES)
        (tenant,) = names.parse("tenant", request.tenant, "tenants")
        catalogue = self._catalogue(tenant)
        if not request.question.strip() or len(request.question) > QUESTION_MAX:
            raise invalid_argument("question", f"1..{QUESTION_MAX} characters")
        limit = request.limit or 5
        if not 1 <= limit <= 50:
            raise invalid_argument("limit", "must be 1..50")
        matches = self.recognition.recognize(catalogue.recognizer, request.question, limit)
        return pb.ClassifyQuestionResponse(
            products=[pb.ProductCandidate(uri=m.uri, name=m.name, score=m.score) for m in matches]
        )

    # Agents -----------------------------------------------------------------

    def _agent(self, name: str, own: bool = True) -> AgentState:
        (agent_id,) = names.parse("name", name, "agents")
        principal = auth.current()
        if own and principal.role == auth.Role.AGENT and principal.subject != agent_id:
            raise permission_denied("agents act only for themselves")
        if principal.role in (auth.Role.TENANT_INTEGRATION, auth.Role.DEPARTMENT_USER):
            raise permission_denied("agents are managed by the platform")
        agent = self.state.router.agents.get(name)
        if agent is None:
            raise not_found(name)
        return agent

    async def CreateAgent(self, request: pb.CreateAgentRequest, context: Any) -> pb.Agent:
        auth.current().require_role(auth.Role.PLATFORM_ADMIN)
        agent_id = names.check_id("agent_id", request.agent_id)
        name = f"agents/{agent_id}"
        if not request.agent.tenants:
            raise invalid_argument("agent.tenants", "an agent serves at least one tenant")
        for field, tenants in (
            ("agent.tenants", request.agent.tenants),
            ("agent.overflow_tenants", request.agent.overflow_tenants),
        ):
            for t in tenants:
                names.parse(field, t, "tenants")
        if any(c.capacity < 1 or c.capacity > 10 for c in request.agent.capacities):
            raise invalid_argument("agent.capacities", "capacity must be 1..10")
        if name in self.state.router.agents and not request.request_id:
            raise failed_precondition("AGENT_EXISTS", f"{name} already exists")
        agent = agent_from_message(name, request.agent)
        await self.save_agent(name, request.agent)
        self.state.router.upsert_agent(agent)
        return agent_message(self.state.router.agents[name])

    async def GetAgent(self, request: pb.GetAgentRequest, context: Any) -> pb.Agent:
        return agent_message(self._agent(request.name))

    async def ListAgents(self, request: pb.ListAgentsRequest, context: Any) -> pb.ListAgentsResponse:
        principal = auth.current()
        principal.require_role(auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.AGENT)
        size = paging.page_size(request.page_size)
        offset = paging.decode(request.page_token, "agents")
        agents = sorted(self.state.router.agents.values(), key=lambda a: a.name)
        if principal.role == auth.Role.AGENT:
            agents = [a for a in agents if a.name == f"agents/{principal.subject}"]
        page = agents[offset : offset + size + 1]
        return pb.ListAgentsResponse(
            agents=[agent_message(a) for a in page[:size]],
            next_page_token=paging.next_token(offset, size, len(page), "agents"),
        )

    async def SetAgentState(self, request: pb.SetAgentStateRequest, context: Any) -> pb.Agent:
        agent = self._agent(request.name)
        state = pb.Agent.State.Name(request.state).removeprefix("STATE_")
        if state in ("UNSPECIFIED", "BUSY"):
            raise invalid_argument("state", "set AVAILABLE, WRAP_UP, BREAK or OFFLINE (BUSY follows from contacts)")
        if state == "AVAILABLE" and not agent.connected:
            raise failed_precondition("AGENT_NOT_CONNECTED", "connect the desktop stream first")
        revoked = agent.offer
        self.state.router.set_state(agent.name, state, time.time())
        if revoked and agent.name in self.state.streams:
            self.state.streams[agent.name].put_nowait(pb.ConnectAgentResponse(offer_revoked=revoked))
        self.state.changed.set()
        return agent_message(agent)

    async def ConnectAgent(
        self, request: pb.ConnectAgentRequest, context: Any
    ) -> AsyncIterator[pb.ConnectAgentResponse]:
        agent = self._agent(request.name)
        if agent.connected:
            raise failed_precondition("AGENT_ALREADY_CONNECTED", "this agent has a desktop stream open")
        queue: asyncio.Queue[pb.ConnectAgentResponse] = asyncio.Queue()
        self.state.streams[agent.name] = queue
        agent.connected = True
        self.state.router.set_state(agent.name, "AVAILABLE", time.time())
        self.state.changed.set()
        try:
            yield pb.ConnectAgentResponse(agent=agent_message(agent))
            while True:
                yield await queue.get()
        finally:
            agent.connected = False
            self.state.streams.pop(agent.name, None)
            self.state.router.set_state(agent.name, "OFFLINE", time.time())
            self.state.changed.set()

    def _offered_to(self, agent_name: str, contact_name: str, field: str = "contact") -> ContactState:
        agent = self._agent(agent_name)
        contact = self._contact(field, contact_name)
        if contact.agent != agent.name or contact.state != "OFFERED":
            raise failed_precondition("NO_SUCH_OFFER", "this contact is not offered to this agent")
        return contact

    async def AcceptOffer(self, request: pb.AcceptOfferRequest, context: Any) -> pb.Contact:
        contact = self._offered_to(request.agent, request.contact)
        await self._publish_change(contact, "accepted", agent=request.agent)
        return self.contact_message(contact)

    async def RejectOffer(self, request: pb.RejectOfferRequest, context: Any) -> pb.Contact:
        contact = self._offered_to(request.agent, request.contact)
        await self._publish_change(contact, "rejected", agent=request.agent)
        self.state.router.reject(request.agent, contact.name)
        self.state.changed.set()
        return self.contact_message(contact)

    async def CompleteContact(self, request: pb.CompleteContactRequest, context: Any) -> pb.Contact:
        self._agent(request.agent)
        contact = self._contact("contact", request.contact)
        if contact.agent != request.agent or contact.state != "CONNECTED":
            raise failed_precondition("CONTACT_NOT_CONNECTED", "this agent is not connected to this contact")
        if len(request.outcome) > 64:
            raise invalid_argument("outcome", "at most 64 characters")
        await self._publish_change(contact, "completed", agent=request.agent, outcome=request.outcome)
        return self.contact_message(contact)

    # Figures ----------------------------------------------------------------

    def _stats(self, tenant_name: str) -> list[pb.QueueStats]:
        principal = auth.current()
        principal.require_role(*CONTACT_ROLES)
        if tenant_name:
            (tenant,) = names.parse("tenant", tenant_name, "tenants")
            principal.require_tenant(tenant)
            tenants = [tenant]
        else:
            tenants = sorted({t for (t, _q) in self.state.router.figures if principal.may_access(t)})
        now = time.time()
        result = []
        for tenant in tenants:
            for fig in self.state.router.queue_figures(tenant, now):
                result.append(
                    pb.QueueStats(
                        tenant=f"tenants/{tenant}",
                        queue=str(fig["queue"]),
                        waiting=int(fig["waiting"]),
                        longest_wait_seconds=float(fig["longest_wait_seconds"]),
                        offered=int(fig["offered"]),
                        answered=int(fig["answered"]),
                        answered_within_target=int(fig["answered_within_target"]),
                        service_level=float(fig["service_level"]),
                        average_speed_of_answer_seconds=float(fig["average_speed_of_answer_seconds"]),
                        abandoned=int(fig["abandoned"]),
                        short_abandoned=int(fig["short_abandoned"]),
                        abandonment_rate=float(fig["abandonment_rate"]),
                        agents_available=int(fig["agents_available"]),
                        agents_eligible=int(fig["agents_eligible"]),
                        overflowed=int(fig["overflowed"]),
                        repeat_contacts=int(fig["repeat_contacts"]),
                        target=common_pb2.ServiceLevelTarget(
                            seconds=int(fig["target_seconds"]), percent=int(fig["target_percent"])
                        ),
                    )
                )
        return result

    async def GetQueueStats(self, request: pb.GetQueueStatsRequest, context: Any) -> pb.GetQueueStatsResponse:
        return pb.GetQueueStatsResponse(queues=self._stats(request.tenant))

    async def WatchQueueStats(
        self, request: pb.WatchQueueStatsRequest, context: Any
    ) -> AsyncIterator[pb.WatchQueueStatsResponse]:
        interval = max(request.interval_ms or 1000, 100) / 1000
        last = None
        while True:
            stats = self._stats(request.tenant)
            if stats != last:
                yield pb.WatchQueueStatsResponse(queues=stats)
                last = stats
            await asyncio.sleep(interval)
