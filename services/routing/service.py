"""RoutingService: contacts in, offers out. No database and no call to another service on the hot path.

Any replica serves every call. A call that changes something publishes one event to JetStream
and answers once the replica has applied that event from the stream
(services/routing/state.py), so the stored event is the commit and the answer is what the
stream holds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as pb
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, events, names, paging, server, validation
from services.common.citizen import normalise_phone
from services.common.enums import AGENT_STATES, CHANNELS
from services.common.errors import (
    ApiError,
    already_exists,
    failed_precondition,
    invalid_argument,
    not_found,
    permission_denied,
)
from services.common.events import EventBus
from services.routing import corrections, referral
from services.routing.catalogue import TenantCatalogue
from services.routing.follower import StreamFollower
from services.routing.matching import AgentState, ContactState
from services.routing.recognition import ProductMatch, ProductRecognizer
from services.routing.state import Desktop, RoutingState, agent_from_message, agent_message, stamp

HANDLING_VALUE = {v.name.removeprefix("HANDLING_"): v.number for v in common_pb2.Handling.DESCRIPTOR.values}
ENTRY_KINDS = {1: "PHONE_NUMBER", 2: "WEB_FORM_ORIGIN", 3: "CHAT_WIDGET"}
REAL_TIME = {"PHONE", "CHAT", "COUNTER"}
QUESTION_MAX = validation.limit("question")
MAX_OVERFLOW_THRESHOLD = 3600
LOCAL = ZoneInfo("Europe/Amsterdam")  # "today" of SetOverflowThreshold: the gemeenten's day
# Who routes and withdraws contacts; agents also read contacts and figures. Department users
# work only their callback worklist (services/callbacks), so they see no contacts here.
ROUTING_ROLES = (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE, auth.Role.TENANT_INTEGRATION)
CONTACT_ROLES = (*ROUTING_ROLES, auth.Role.AGENT)
CONTACT_NS = uuid.UUID("5f0c1d9e-8a8b-4f55-9d1b-4f5a3c8b2e10")
CONTACT_NS_BYTES = CONTACT_NS.bytes


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


def _actor() -> str:
    """Who made a change, for routing's audit trail; "" when no caller is bound (a desktop stream closing)."""
    try:
        return auth.current().subject
    except ApiError:
        return ""


def _scope(into: pb.Referral, body: str) -> str:
    """The scope: "gemeente", or "elsewhere" with the body's name, phone and website filled in."""
    if not body:
        return referral.GEMEENTE
    found = referral.bodies()[body]
    into.body, into.phone, into.website = found.name, found.phone, found.website
    return referral.ELSEWHERE


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


class RoutingService(routing_pb2_grpc.RoutingServiceServicer):
    def __init__(
        self,
        state: RoutingState,
        bus: EventBus,
        follower: StreamFollower,
        agents_kv: KeyValue,
        recognition_cache_size: int = 4096,
        replica: str = "",
        question_secret: str = "",
    ) -> None:
        self.question_secret = question_secret  # keys the hash of a question kept for corrections
        self.replica = replica  # named in the desktop sessions held here
        self.state = state
        self.bus = bus
        self.follower = follower
        self.agents_kv = agents_kv  # agent definitions (JetStream KV), followed by every replica
        self.recognition = RecognitionCache(recognition_cache_size)

    async def _commit(self, subject: str, env: events_pb2.Envelope) -> None:
        """Publishes an event and returns once this replica has applied it from the stream."""
        ack = await self.bus.publish(subject, env)
        await self.follower.applied(ack.seq)

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
        if not CHANNELS.name(request.channel):
            raise invalid_argument("channel", "is required")
        if len(request.citizen_key) > 128:
            raise invalid_argument("citizen_key", "at most 128 characters")
        contact_id = (
            contact_uuid(f"{tenant}/{names.check_request_id(request.request_id)}")
            if request.request_id
            else str(uuid.uuid4())
        )
        name = f"tenants/{tenant}/contacts/{contact_id}"
        if name not in self.state.router.contacts:  # else a retry: answer what the stream holds
            await self._commit(events.subject(tenant, "contact", "routed"), self._routed(request, catalogue, name))
        return self.route_response(self.state.router.contacts[name])

    def _routed(self, request: pb.RouteContactRequest, catalogue: TenantCatalogue, name: str) -> events_pb2.Envelope:
        """Recognises the product and decides queue and priority: the contact.routed event."""
        tenant = catalogue.snapshot.tenant
        channel = CHANNELS.name(request.channel)
        routed = events_pb2.ContactRouted(
            contact=name,
            tenant=tenant,
            channel=request.channel,
            citizen_key=request.citizen_key,
            language=request.language[:16],
        )
        product = None
        subject = request.WhichOneof("subject")
        if subject == "product_uri":
            product = catalogue.by_uri.get(request.product_uri) or catalogue.by_slug.get(
                request.product_uri.rsplit("/", 1)[-1]
            )
            if product is None:
                raise not_found(f"product {request.product_uri}")
        elif subject == "ivr_code":
            product = catalogue.product_for_code(request.ivr_code)
        elif subject == "question":
            if len(request.question) > QUESTION_MAX:
                raise invalid_argument("question", f"at most {QUESTION_MAX} characters")
            answer = catalogue.answer(request.question, 5, self.recognition.recognize)
            add_candidate = routed.candidates.add  # built in place: no copy into the event
            for m in answer.matches:
                add_candidate(uri=m.uri, name=m.name, score=m.score)
            product = answer.product
            if answer.referral is not None:
                routed.refer_to = answer.referral.name
            routed.question_words.extend(corrections.question_words(request.question, catalogue.recognizer))
            routed.question_hash = corrections.question_hash(self.question_secret, request.question)
        snapshot = catalogue.snapshot
        department = product.department if product else (snapshot.fallback_department or "algemeen")
        sla = snapshot.sla_for(channel, department, product.slug if product else "")
        open_callbacks = self.state.repeats.open_for(tenant, request.citizen_key)
        routed.department = routed.queue = department
        routed.priority = (5 if channel in REAL_TIME else 1) + (2 if open_callbacks else 0)
        routed.repeat_contact = bool(open_callbacks)
        routed.enqueue_time.CopyFrom(stamp(time.time()))
        routed.service_level_target.seconds = sla.answer_seconds
        routed.service_level_target.percent = sla.answer_percent
        if product is not None:
            routed.recognised = True
            routed.product_uri, routed.product_name = product.uri, product.name
            routed.handling = HANDLING_VALUE[product.handling]  # type: ignore[assignment]
        for o in open_callbacks:
            routed.open_callbacks.append(o.callback)
            detail = routed.open_callback_details.add(
                callback=o.callback, department=o.department, product_uri=o.product_uri, status=o.status
            )
            if o.deadline is not None:
                detail.deadline.FromDatetime(o.deadline)
        return events.envelope(tenant, name.rsplit("/", 1)[-1], contact_routed=routed)

    def route_response(self, contact: ContactState) -> pb.RouteContactResponse:
        response = pb.RouteContactResponse(recognised=contact.recognised)
        response.scope = _scope(response.referral, contact.refer_to)
        response.contact.CopyFrom(self.state.contact_message(contact))
        add_candidate = response.candidates.add
        for c in contact.candidates:
            add_candidate(uri=c.uri, name=c.name, score=c.score)
        return response

    async def _caught_up(self, holds: Callable[[], bool]) -> bool:
        """Whether `holds()`, if need be once this replica has applied all the stream holds so far: a
        step taken through another replica (a contact routed, an offer made) may not be here yet."""
        if holds():
            return True
        await self.follower.sync()
        return holds()

    async def _contact(self, field: str, name: str) -> ContactState:
        principal = auth.current()
        principal.require_role(*CONTACT_ROLES)
        tenant, _ = names.parse(field, name, "tenants", "contacts")
        principal.require_tenant(tenant)
        if not await self._caught_up(lambda: name in self.state.router.contacts):
            raise not_found(name)
        return self.state.router.contacts[name]

    async def _change(
        self,
        contact: ContactState,
        change: str,
        agent: str = "",
        outcome: str = "",
        correction: events_pb2.RecognitionCorrection | None = None,
    ) -> pb.Contact:
        env = events.envelope(
            contact.tenant,
            contact_changed=events_pb2.ContactChanged(
                contact=contact.name,
                change=change,
                agent=agent,
                outcome=outcome,
                queue=contact.queue,
                correction=correction,
            ),
        )
        await self._commit(events.subject(contact.tenant, "contact", change), env)
        return self.state.contact_message(contact)

    async def WithdrawContact(self, request: pb.WithdrawContactRequest, context: Any) -> pb.Contact:
        auth.current().require_role(*ROUTING_ROLES)
        contact = await self._contact("name", request.name)
        if contact.state == "ABANDONED":  # withdrawn: a retry whose first answer was lost
            return self.state.contact_message(contact)
        if contact.state not in ("QUEUED", "OFFERED"):
            raise failed_precondition("CONTACT_NOT_WAITING", f"contact is {contact.state.lower()}")
        return await self._change(contact, "abandoned")

    async def GetContact(self, request: pb.GetContactRequest, context: Any) -> pb.Contact:
        return self.state.contact_message(await self._contact("name", request.name))

    async def ClassifyQuestion(self, request: pb.ClassifyQuestionRequest, context: Any) -> pb.ClassifyQuestionResponse:
        auth.current().require_role(*CONTACT_ROLES)
        (tenant,) = names.parse("tenant", request.tenant, "tenants")
        catalogue = self._catalogue(tenant)
        if not request.question.strip() or len(request.question) > QUESTION_MAX:
            raise invalid_argument("question", f"1..{QUESTION_MAX} characters")
        limit = request.limit or 5
        if not 1 <= limit <= 50:
            raise invalid_argument("limit", "must be 1..50")
        answer = catalogue.answer(request.question, limit, self.recognition.recognize)
        response = pb.ClassifyQuestionResponse(
            products=[pb.ProductCandidate(uri=m.uri, name=m.name, score=m.score) for m in answer.matches]
        )
        response.scope = _scope(response.referral, answer.referral.name if answer.referral else "")
        return response

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

    async def _agent_change(self, agent: str, change: str, state: int = 0, session: str = "") -> None:
        changed = events_pb2.AgentChanged(agent=agent, change=change, state=state, session=session, actor=_actor())
        if change == "connected":
            changed.replica = self.replica
        env = events.envelope("platform", agent_changed=changed)
        await self._commit(events.subject("platform", "agent", change), env)

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
        definition = request.agent.SerializeToString(deterministic=True)
        try:
            # (the same definition stored by another admin in the very moment reads as this call's own)
            await self.bus.kv_write("agent create", self.agents_kv, agent_id, definition)
        except KeyWrongLastSequenceError:
            # Only a retry of the very same definition (with a request_id) answers; nothing is replaced.
            try:
                stored = (await self.bus.bounded("agent read", lambda: self.agents_kv.get(agent_id))).value
            except KeyNotFoundError:
                stored = None
            if not request.request_id or stored != definition:
                raise already_exists(name) from None
        self.state.router.upsert_agent(agent_from_message(name, request.agent))
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
        state = AGENT_STATES.name(request.state)
        if state in ("", "BUSY"):
            raise invalid_argument("state", "set AVAILABLE, WRAP_UP, BREAK or OFFLINE (BUSY follows from contacts)")
        if state == "AVAILABLE" and not await self._caught_up(lambda: agent.connected):
            raise failed_precondition("AGENT_NOT_CONNECTED", "connect the desktop stream first")
        await self._agent_change(agent.name, "state", state=request.state)
        return agent_message(self.state.router.agents[agent.name])

    async def UpdateAgent(self, request: pb.UpdateAgentRequest, context: Any) -> pb.Agent:
        """The trafficer moves an agent between gemeenten: the definition in the agents bucket (which
        every replica follows) changes, and an `updated` event records who did it."""
        auth.current().require_role(auth.Role.PLATFORM_ADMIN)
        agent = self._agent(request.agent.name, own=False)
        paths = set(request.update_mask.paths)
        if not paths or not paths <= {"tenants", "overflow_tenants"}:
            raise invalid_argument("update_mask", "supported paths: tenants, overflow_tenants")
        agent_id = agent.name.removeprefix("agents/")
        entry = await self.bus.bounded("agent read", lambda: self.agents_kv.get(agent_id))
        definition = pb.Agent.FromString(entry.value or b"")
        for path in sorted(paths):
            tenants = list(getattr(request.agent, path))
            for t in tenants:
                names.parse(f"agent.{path}", t, "tenants")
            getattr(definition, path)[:] = tenants
        if not definition.tenants:
            raise invalid_argument("agent.tenants", "an agent serves at least one tenant")
        try:
            written = definition.SerializeToString(deterministic=True)
            await self.bus.kv_write("agent update", self.agents_kv, agent_id, written, last=entry.revision)
        except KeyWrongLastSequenceError:
            raise failed_precondition("CONCURRENT_UPDATE", f"{agent.name} changed meanwhile; read it again") from None
        self.state.router.upsert_agent(agent_from_message(agent.name, definition))
        await self._agent_change(agent.name, "updated")
        return agent_message(self.state.router.agents[agent.name])

    async def SetOverflowThreshold(self, request: pb.SetOverflowThresholdRequest, context: Any) -> pb.OverflowThreshold:
        """For the rest of the gemeente's day (a peak): contacts waiting now and routed later use it."""
        auth.current().require_role(auth.Role.PLATFORM_ADMIN)
        tenant = tenant_id(request.tenant)
        self._catalogue(tenant)
        if not 0 <= request.seconds <= MAX_OVERFLOW_THRESHOLD:
            raise invalid_argument("seconds", f"must be 0..{MAX_OVERFLOW_THRESHOLD} (0: the SLA target again)")
        local = datetime.now(LOCAL)
        expire = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), LOCAL)
        change = events_pb2.OverflowThresholdSet(seconds=request.seconds, actor=_actor())
        change.expire_time.FromDatetime(expire)
        env = events.envelope(tenant, overflow_threshold_set=change)
        await self._commit(events.subject(tenant, "queue", "threshold_set"), env)
        return pb.OverflowThreshold(tenant=request.tenant, seconds=request.seconds, expire_time=change.expire_time)

    async def ConnectAgent(
        self, request: pb.ConnectAgentRequest, context: Any
    ) -> AsyncIterator[pb.ConnectAgentResponse]:
        """The agent's desktop, on any replica. A new connection takes over from an older one (a desktop
        that reconnects after its replica died), and gets the offer it holds, if any."""
        agent = self._agent(request.name)
        desktop = Desktop(uuid.uuid4().hex)
        replaced = self.state.desktops.get(agent.name)
        self.state.desktops[agent.name] = desktop
        if replaced is not None:
            replaced.queue.put_nowait(None)
        try:
            await self._agent_change(agent.name, "connected", session=desktop.session)
            agent = self.state.router.agents[agent.name]
            yield server.OPEN  # connected
            yield pb.ConnectAgentResponse(agent=agent_message(agent))
            # The offer held from an earlier session; one made since the connection is in the queue.
            if agent.offer and agent.session == desktop.session and agent.offer != desktop.offered:
                desktop.offered = agent.offer
                yield self.state.offer_message(self.state.router.contacts[agent.offer])
            while (message := await desktop.queue.get()) is not None:
                yield message
        finally:
            if self.state.desktops.get(agent.name) is desktop:
                del self.state.desktops[agent.name]
            # In a task of its own: the stream may be closing because its task was cancelled.
            disconnect = asyncio.ensure_future(self._agent_change(agent.name, "disconnected", session=desktop.session))
            disconnect.add_done_callback(lambda f: f.cancelled() or f.exception())

    async def _offered_to(self, agent_name: str, contact_name: str, field: str = "contact") -> ContactState:
        agent = self._agent(agent_name)
        contact = await self._contact(field, contact_name)
        if not await self._caught_up(lambda: contact.agent == agent.name and contact.state == "OFFERED"):
            raise failed_precondition("NO_SUCH_OFFER", "this contact is not offered to this agent")
        return contact

    async def _answer_offer(self, request: pb.AcceptOfferRequest | pb.RejectOfferRequest, change: str) -> pb.Contact:
        if change == "accepted":
            known = await self._contact("contact", request.contact)
            if known.state == "CONNECTED" and known.agent == self._agent(request.agent).name:
                return self.state.contact_message(known)  # a retry whose first answer was lost
        contact = await self._offered_to(request.agent, request.contact)
        message = await self._change(contact, change, agent=request.agent)
        if change == "accepted" and (contact.state != "CONNECTED" or contact.agent != request.agent):
            raise failed_precondition("NO_SUCH_OFFER", "the offer was withdrawn or timed out first")
        return message

    async def AcceptOffer(self, request: pb.AcceptOfferRequest, context: Any) -> pb.Contact:
        return await self._answer_offer(request, "accepted")

    async def RejectOffer(self, request: pb.RejectOfferRequest, context: Any) -> pb.Contact:
        return await self._answer_offer(request, "rejected")

    async def CompleteContact(self, request: pb.CompleteContactRequest, context: Any) -> pb.Contact:
        self._agent(request.agent)
        contact = await self._contact("contact", request.contact)
        await self._caught_up(lambda: contact.agent == request.agent and contact.state in ("CONNECTED", "COMPLETED"))
        if contact.agent == request.agent and contact.state == "COMPLETED":
            return self.state.contact_message(contact)  # a retry whose first answer was lost
        if contact.agent != request.agent or contact.state != "CONNECTED":
            raise failed_precondition("CONTACT_NOT_CONNECTED", "this agent is not connected to this contact")
        if len(request.outcome) > 64:
            raise invalid_argument("outcome", "at most 64 characters")
        fix = None
        if request.HasField("correction"):
            fix = corrections.correction(contact, self._catalogue(contact.tenant), request.correction)
        return await self._change(contact, "completed", agent=request.agent, outcome=request.outcome, correction=fix)

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
                        overflowed_in=int(fig["overflowed_in"]),
                        repeat_contacts=int(fig["repeat_contacts"]),
                        target=common_pb2.ServiceLevelTarget(
                            seconds=int(fig["target_seconds"]), percent=int(fig["target_percent"])
                        ),
                        overflow_threshold_seconds=self.state.overflow_threshold(tenant, now),
                        referrals=self.state.router.referrals(tenant, str(fig["queue"]), now),
                    )
                )
        return result

    async def GetQueueStats(self, request: pb.GetQueueStatsRequest, context: Any) -> pb.GetQueueStatsResponse:
        return pb.GetQueueStatsResponse(queues=self._stats(request.tenant))

    async def WatchQueueStats(
        self, request: pb.WatchQueueStatsRequest, context: Any
    ) -> AsyncIterator[pb.WatchQueueStatsResponse]:
        interval, last, stats = max(request.interval_ms or 1000, 100) / 1000, None, self._stats(request.tenant)
        yield server.OPEN  # the caller passed the checks of _stats
        while True:
            if stats != last:
                yield pb.WatchQueueStatsResponse(queues=stats)
                last = stats
            await asyncio.sleep(interval)
            stats = self._stats(request.tenant)
