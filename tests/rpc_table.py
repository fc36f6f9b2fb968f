"""The platform's RPCs as a table: a world of two gemeenten, and for each RPC who may call it
and how to build its request. The access matrix and the malformed-request tests read it."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import grpc
from google.protobuf import field_mask_pb2
from google.protobuf.message import Message

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.common import auth, client
from services.common.app import ServiceApp
from services.common.config import Settings
from services.common.errors import field_violations
from services.common.server import STREAM_OPEN
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, Metadata, eventually, make_tenant, routable

OWN, OTHER, UNKNOWN = "gm0268", "gm0202", "gm0999"
MAIN_NUMBER = {OWN: "0243299999", OTHER: "0263777777"}
PROTOS = (tp, rt, cb)
ROLES = tuple(auth.Role)
DENIED = (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED)
BROKEN = (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE)


@dataclass(frozen=True)
class Side:
    """The names a request is built from: one tenant's resources (real or guessed)."""

    tenant: str
    agent: str
    callback: str = ""
    contact: str = ""
    department: str = "burgerzaken"
    product: str = "paspoort"
    sla_policy: str = "standaard"
    entry_point: str = "algemeen-nummer"

    @property
    def parent(self) -> str:
        return f"tenants/{self.tenant}"

    def name(self, collection: str, rid: str) -> str:
        return f"{self.parent}/{collection}/{rid}"


class World:
    """Nijmegen and Arnhem onboarded with a department, product, SLA policy, entry point, agent,
    a waiting contact and a callback each; `fresh_*` make throwaway ones for calls that change them."""

    def __init__(self, settings: Settings, apps: dict[str, ServiceApp], channels: dict[str, grpc.aio.Channel]) -> None:
        self.settings = settings
        self.apps = apps
        self.admin = self.metadata(auth.Role.PLATFORM_ADMIN)
        self.tenancy = tenancy_pb2_grpc.TenancyServiceStub(channels["tenancy"])
        self.routing = routing_pb2_grpc.RoutingServiceStub(channels["routing"])
        self.callbacks = callbacks_pb2_grpc.CallbackServiceStub(channels["callbacks"])
        self.stubs = {"tenancy": self.tenancy, "routing": self.routing, "callbacks": self.callbacks}
        self.channels = channels
        self.sides: dict[str, Side] = {}
        self._ids = itertools.count()

    def metadata(self, role: auth.Role) -> Metadata:
        """A caller of Nijmegen in `role` (admins and services reach every tenant anyway)."""
        tenants = [] if role in (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE) else [OWN]
        subject = {auth.Role.AGENT: "agent-own"}.get(role, f"{role.value}-caller")
        department = "burgerzaken" if role == auth.Role.DEPARTMENT_USER else ""
        return client.metadata(auth.issue_token(self.settings.auth_secret, subject, role, tenants, department))

    async def build(self) -> None:
        for tenant, display, agent in ((OWN, "Nijmegen", "agent-own"), (OTHER, "Arnhem", "agent-other")):
            await make_tenant(
                self.channels["tenancy"], self.admin, tenant, display, [("paspoort", "Paspoort", "burgerzaken")]
            )
            await self.tenancy.CreateEntryPoint(
                tp.CreateEntryPointRequest(
                    parent=f"tenants/{tenant}",
                    entry_point_id="algemeen-nummer",
                    entry_point=tp.EntryPoint(kind=tp.EntryPoint.KIND_PHONE_NUMBER, value=MAIN_NUMBER[tenant]),
                ),
                metadata=self.admin,
            )
            await self.tenancy.CreateSlaPolicy(
                tp.CreateSlaPolicyRequest(
                    parent=f"tenants/{tenant}", sla_policy_id="standaard", sla_policy=sla_policy()
                ),
                metadata=self.admin,
            )
            await self.routing.CreateAgent(
                rt.CreateAgentRequest(agent_id=agent, agent=agent_for(tenant)), metadata=self.admin
            )
            await routable(self.channels["routing"], self.admin, tenant)
            side = Side(tenant, f"agents/{agent}")
            self.sides[tenant] = replace(side, contact=await self.new_contact(side), callback="")
            self.sides[tenant] = replace(self.sides[tenant], callback=await self.fresh_callback(self.sides[tenant]))

    async def new_contact(self, side: Side) -> str:
        reply = await self.routing.RouteContact(
            rt.RouteContactRequest(tenant=side.parent, channel=common_pb2.CHANNEL_PHONE, question="paspoort"),
            metadata=self.admin,
        )
        return str(reply.contact.name)

    async def fresh_callback(self, side: Side) -> str:
        made = await create_callback(self.callbacks, self.admin, side)
        return str(made.name)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids)}"

    @property
    def own(self) -> Side:
        return self.sides[OWN]

    def others(self) -> dict[str, Side]:
        """Arnhem's real names, guessed names under Arnhem, and names under a gemeente that does not exist."""
        real = self.sides[OTHER]
        guessed = Side(
            OTHER,
            "agents/agent-guessed",
            callback=f"tenants/{OTHER}/callbacks/00000000-0000-0000-0000-000000000000",
            contact=f"tenants/{OTHER}/contacts/00000000-0000-0000-0000-000000000000",
            department="geraden",
            product="geraden",
            sla_policy="geraden",
            entry_point="geraden",
        )
        unknown = replace(
            guessed,
            tenant=UNKNOWN,
            callback=guessed.callback.replace(OTHER, UNKNOWN),
            contact=guessed.contact.replace(OTHER, UNKNOWN),
        )
        return {"real": real, "guessed": guessed, "unknown": unknown}


def sla_policy() -> tp.SlaPolicy:
    return tp.SlaPolicy(
        channel=common_pb2.CHANNEL_PHONE,
        answer_target=common_pb2.ServiceLevelTarget(seconds=20, percent=80),
        callback_working_hours=16,
    )


def agent_for(tenant: str) -> rt.Agent:
    return rt.Agent(
        display_name="Medewerker",
        tenants=[f"tenants/{tenant}"],
        languages=["nl"],
        channels=[common_pb2.CHANNEL_PHONE],
    )


async def create_callback(stub: callbacks_pb2_grpc.CallbackServiceStub, md: Metadata, side: Side) -> cb.Callback:
    request = cb.CreateCallbackRequest(
        parent=side.parent,
        callback=cb.Callback(
            department=side.name("departments", side.department),
            product_uri=UPL + "paspoort",
            phone_number="0612345678",
            channel=common_pb2.CHANNEL_PHONE,
        ),
    )
    return await stub.CreateCallback(request, metadata=md)  # type: ignore[no-any-return]


# -- One row per RPC: who may call it for their own tenant, and how to build its request -----

Build = Callable[[World, Side, bool], Awaitable[Message]]
ADMIN = frozenset({auth.Role.PLATFORM_ADMIN})
PLATFORM = frozenset({auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE})
EVERYONE = frozenset(ROLES)
INTEGRATION = PLATFORM | {auth.Role.TENANT_INTEGRATION}
# KCC agents file callbacks and see them when the citizen calls again; departments work their list.
WORKLIST = INTEGRATION | {auth.Role.DEPARTMENT_USER, auth.Role.AGENT}
DESKTOP = PLATFORM | {auth.Role.AGENT}
ROUTING_READS = INTEGRATION | {auth.Role.AGENT}


@dataclass(frozen=True)
class Row:
    allowed: frozenset[auth.Role]
    build: Build


def const(make: Callable[[Side], Message]) -> Build:
    async def build(world: World, side: Side, own: bool) -> Message:
        return make(side)

    return build


async def fresh_department(world: World, side: Side, own: bool) -> str:
    if not own:
        return side.name("departments", side.department)
    rid = world.unique("weg")
    await world.tenancy.CreateDepartment(
        tp.CreateDepartmentRequest(parent=side.parent, department_id=rid, department=tp.Department(display_name="Weg")),
        metadata=world.admin,
    )
    return side.name("departments", rid)


async def fresh_callback(world: World, side: Side, own: bool) -> str:
    return await world.fresh_callback(side) if own else side.callback


def on_callback(make: Callable[[str, Side], Message]) -> Build:
    """Calls that change a callback get a fresh one of their own tenant, so the rows do not interfere."""

    async def build(world: World, side: Side, own: bool) -> Message:
        return make(await fresh_callback(world, side, own), side)

    return build


def fresh_tenant(make: Callable[[str], Message]) -> Build:
    """A throwaway gemeente to delete on the caller's own side; the other sides' names as they are."""

    async def build(world: World, side: Side, own: bool) -> Message:
        if not own:
            return make(side.parent)
        tenant = f"gm07{next(world._ids) % 100:02d}"
        await world.tenancy.CreateTenant(
            tp.CreateTenantRequest(tenant_id=tenant, tenant=tp.Tenant(display_name="Weg")), metadata=world.admin
        )
        return make(f"tenants/{tenant}")

    return build


def on_department(make: Callable[[str], Message]) -> Build:
    async def build(world: World, side: Side, own: bool) -> Message:
        return make(await fresh_department(world, side, own))

    return build


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def upl_row() -> tp.UplRow:
    return tp.UplRow(line=2, name="Rijbewijs", uri=UPL + "rijbewijs")


# Requests that name no tenant: what they return is checked for other tenants' data instead.
NAMES_NO_TENANT = frozenset({"ListTenants", "ListAgents", "CreateAgent"})

CASES: dict[str, Row] = {
    # tenancy: the platform admin configures; callers of a tenant read their own tenant's set-up
    "CreateTenant": Row(
        ADMIN, const(lambda s: tp.CreateTenantRequest(tenant_id=s.tenant, tenant=tp.Tenant(display_name="X")))
    ),
    "GetTenant": Row(EVERYONE, const(lambda s: tp.GetTenantRequest(name=s.parent))),
    "ListTenants": Row(EVERYONE, const(lambda s: tp.ListTenantsRequest())),
    "UpdateTenant": Row(
        ADMIN,
        const(
            lambda s: tp.UpdateTenantRequest(
                tenant=tp.Tenant(name=s.parent, display_name="Y"), update_mask=mask("display_name")
            )
        ),
    ),
    "DeleteTenant": Row(ADMIN, fresh_tenant(lambda n: tp.DeleteTenantRequest(name=n))),
    "CreateEntryPoint": Row(
        ADMIN,
        const(
            lambda s: tp.CreateEntryPointRequest(
                parent=s.parent,
                entry_point_id="chat",
                entry_point=tp.EntryPoint(
                    kind=tp.EntryPoint.KIND_WEB_FORM_ORIGIN, value=f"https://{s.tenant}.example.nl"
                ),
            )
        ),
    ),
    "ListEntryPoints": Row(EVERYONE, const(lambda s: tp.ListEntryPointsRequest(parent=s.parent))),
    "DeleteEntryPoint": Row(ADMIN, const(lambda s: tp.DeleteEntryPointRequest(name=s.name("entryPoints", "geen")))),
    "ResolveEntryPoint": Row(
        EVERYONE,
        const(
            lambda s: tp.ResolveEntryPointRequest(
                kind=tp.EntryPoint.KIND_PHONE_NUMBER, value=MAIN_NUMBER.get(s.tenant, "0301234567")
            )
        ),
    ),
    "CreateDepartment": Row(
        ADMIN,
        const(
            lambda s: tp.CreateDepartmentRequest(
                parent=s.parent, department_id="nieuw", department=tp.Department(display_name="N")
            )
        ),
    ),
    "GetDepartment": Row(EVERYONE, const(lambda s: tp.GetDepartmentRequest(name=s.name("departments", s.department)))),
    "ListDepartments": Row(EVERYONE, const(lambda s: tp.ListDepartmentsRequest(parent=s.parent))),
    "UpdateDepartment": Row(
        ADMIN,
        on_department(
            lambda n: tp.UpdateDepartmentRequest(
                department=tp.Department(name=n, display_name="Z"), update_mask=mask("display_name")
            )
        ),
    ),
    "DeleteDepartment": Row(ADMIN, on_department(lambda n: tp.DeleteDepartmentRequest(name=n))),
    "CreateProduct": Row(
        ADMIN,
        const(
            lambda s: tp.CreateProductRequest(
                parent=s.parent,
                product_id="rijbewijs",
                product=tp.Product(
                    upl_uri=UPL + "rijbewijs", display_name="Rijbewijs", department=s.name("departments", s.department)
                ),
            )
        ),
    ),
    "GetProduct": Row(EVERYONE, const(lambda s: tp.GetProductRequest(name=s.name("products", s.product)))),
    "ListProducts": Row(EVERYONE, const(lambda s: tp.ListProductsRequest(parent=s.parent))),
    "UpdateProduct": Row(
        ADMIN,
        const(
            lambda s: tp.UpdateProductRequest(
                product=tp.Product(name=s.name("products", s.product), synonyms=["reisdocument"]),
                update_mask=mask("synonyms"),
            )
        ),
    ),
    "DeleteProduct": Row(ADMIN, const(lambda s: tp.DeleteProductRequest(name=s.name("products", "geen")))),
    "ImportUplProducts": Row(ADMIN, const(lambda s: tp.ImportUplProductsRequest(parent=s.parent, rows=[upl_row()]))),
    "GetProductLexicon": Row(
        EVERYONE, const(lambda s: tp.GetProductLexiconRequest(name=s.name("products", s.product) + "/lexicon"))
    ),
    "UpdateProductLexicon": Row(
        ADMIN,
        const(
            lambda s: tp.UpdateProductLexiconRequest(
                name=s.name("products", s.product) + "/lexicon", add=["reisboekje"]
            )
        ),
    ),
    # agents' corrections: a gemeente's integration (its admin) reads its own, the platform all
    "ListLexiconSuggestions": Row(INTEGRATION, const(lambda s: tp.ListLexiconSuggestionsRequest(parent=s.parent))),
    "GetRecognitionAccuracy": Row(INTEGRATION, const(lambda s: tp.GetRecognitionAccuracyRequest(tenant=s.parent))),
    "OnboardTenant": Row(
        ADMIN, const(lambda s: tp.OnboardTenantRequest(tenant_id=s.tenant, tenant=tp.Tenant(display_name="X")))
    ),
    "CreateSlaPolicy": Row(
        ADMIN,
        const(lambda s: tp.CreateSlaPolicyRequest(parent=s.parent, sla_policy_id="chat", sla_policy=sla_policy())),
    ),
    "GetSlaPolicy": Row(EVERYONE, const(lambda s: tp.GetSlaPolicyRequest(name=s.name("slaPolicies", s.sla_policy)))),
    "ListSlaPolicies": Row(EVERYONE, const(lambda s: tp.ListSlaPoliciesRequest(parent=s.parent))),
    "UpdateSlaPolicy": Row(
        ADMIN,
        const(
            lambda s: tp.UpdateSlaPolicyRequest(
                sla_policy=tp.SlaPolicy(name=s.name("slaPolicies", s.sla_policy), warning_percent=70),
                update_mask=mask("warning_percent"),
            )
        ),
    ),
    "DeleteSlaPolicy": Row(ADMIN, const(lambda s: tp.DeleteSlaPolicyRequest(name=s.name("slaPolicies", "geen")))),
    "GetBusinessCalendar": Row(
        EVERYONE, const(lambda s: tp.GetBusinessCalendarRequest(name=f"{s.parent}/businessCalendar"))
    ),
    "UpdateBusinessCalendar": Row(
        ADMIN,
        const(
            lambda s: tp.UpdateBusinessCalendarRequest(
                business_calendar=tp.BusinessCalendar(
                    name=f"{s.parent}/businessCalendar", observe_public_holidays=True
                ),
                update_mask=mask("observe_public_holidays"),
            )
        ),
    ),
    # routing: integrations route their tenant's contacts; agents work their own desktop
    "RouteContact": Row(
        INTEGRATION,
        const(lambda s: rt.RouteContactRequest(tenant=s.parent, channel=common_pb2.CHANNEL_CHAT, question="paspoort")),
    ),
    "WithdrawContact": Row(INTEGRATION, const(lambda s: rt.WithdrawContactRequest(name=s.contact))),
    "GetContact": Row(ROUTING_READS, const(lambda s: rt.GetContactRequest(name=s.contact))),
    "ClassifyQuestion": Row(
        ROUTING_READS, const(lambda s: rt.ClassifyQuestionRequest(tenant=s.parent, question="paspoort"))
    ),
    "CreateAgent": Row(ADMIN, const(lambda s: rt.CreateAgentRequest(agent_id="nieuw", agent=agent_for(s.tenant)))),
    "GetAgent": Row(DESKTOP, const(lambda s: rt.GetAgentRequest(name=s.agent))),
    "ListAgents": Row(DESKTOP, const(lambda s: rt.ListAgentsRequest())),
    "SetAgentState": Row(DESKTOP, const(lambda s: rt.SetAgentStateRequest(name=s.agent, state=rt.Agent.STATE_BREAK))),
    "UpdateAgent": Row(
        ADMIN,
        const(
            lambda s: rt.UpdateAgentRequest(
                agent=rt.Agent(name=s.agent, tenants=[s.parent]),
                update_mask=field_mask_pb2.FieldMask(paths=["tenants"]),
            )
        ),
    ),
    "SetOverflowThreshold": Row(ADMIN, const(lambda s: rt.SetOverflowThresholdRequest(tenant=s.parent, seconds=60))),
    "ConnectAgent": Row(DESKTOP, const(lambda s: rt.ConnectAgentRequest(name=s.agent))),
    "AcceptOffer": Row(DESKTOP, const(lambda s: rt.AcceptOfferRequest(agent=s.agent, contact=s.contact))),
    "RejectOffer": Row(DESKTOP, const(lambda s: rt.RejectOfferRequest(agent=s.agent, contact=s.contact))),
    "CompleteContact": Row(DESKTOP, const(lambda s: rt.CompleteContactRequest(agent=s.agent, contact=s.contact))),
    "GetQueueStats": Row(ROUTING_READS, const(lambda s: rt.GetQueueStatsRequest(tenant=s.parent))),
    "WatchQueueStats": Row(ROUTING_READS, const(lambda s: rt.WatchQueueStatsRequest(tenant=s.parent))),
    # callbacks: integrations file and follow them; department users work their department's list
    "CreateCallback": Row(
        WORKLIST,
        const(
            lambda s: cb.CreateCallbackRequest(
                parent=s.parent,
                callback=cb.Callback(department=s.name("departments", s.department), phone_number="0612345678"),
            )
        ),
    ),
    "GetCallback": Row(WORKLIST, const(lambda s: cb.GetCallbackRequest(name=s.callback))),
    "ListCallbacks": Row(WORKLIST, const(lambda s: cb.ListCallbacksRequest(parent=s.parent))),
    "WatchCallbacks": Row(WORKLIST, const(lambda s: cb.WatchCallbacksRequest(parent=s.parent))),
    "ClaimCallback": Row(WORKLIST, on_callback(lambda n, s: cb.ClaimCallbackRequest(name=n))),
    "RecordAttempt": Row(
        WORKLIST,
        on_callback(lambda n, s: cb.RecordAttemptRequest(name=n, result=cb.RecordAttemptRequest.RESULT_NOT_REACHED)),
    ),
    "CompleteCallback": Row(
        WORKLIST, on_callback(lambda n, s: cb.CompleteCallbackRequest(name=n, outcome="beantwoord"))
    ),
    "ForwardCallback": Row(
        WORKLIST,
        on_callback(lambda n, s: cb.ForwardCallbackRequest(name=n, department=s.name("departments", "algemeen"))),
    ),
    "ReturnCallbackToKcc": Row(
        WORKLIST, on_callback(lambda n, s: cb.ReturnCallbackToKccRequest(name=n, reason="geen vraag voor ons"))
    ),
    "CancelCallback": Row(WORKLIST, on_callback(lambda n, s: cb.CancelCallbackRequest(name=n, reason="dubbel"))),
    "ListAuditEntries": Row(WORKLIST, const(lambda s: cb.ListAuditEntriesRequest(parent=s.callback))),
    "GetCallbackStats": Row(WORKLIST, const(lambda s: cb.GetCallbackStatsRequest(parent=s.parent))),
    "GetUsageReport": Row(
        INTEGRATION,
        const(lambda s: cb.GetUsageReportRequest(parent=s.parent, start_date="2026-01-01", end_date="2026-12-31")),
    ),
    "GetAccountabilityReport": Row(
        INTEGRATION,
        const(
            lambda s: cb.GetAccountabilityReportRequest(parent=s.parent, start_date="2026-01-01", end_date="2026-12-31")
        ),
    ),
}


def rpcs() -> dict[str, tuple[str, str, bool]]:
    """Every RPC of the platform: name -> (service key, full service name, server-streaming)."""
    found = {}
    for module in PROTOS:
        for service in module.DESCRIPTOR.services_by_name.values():
            key = service.name.removesuffix("Service").lower().replace("callback", "callbacks")
            for method in service.methods:
                found[method.name] = (key, service.full_name, method.server_streaming)
    return found


class Answer(NamedTuple):
    code: grpc.StatusCode
    body: bytes  # the serialised reply (the first message of a stream), empty on error
    violations: dict[str, str]  # BadRequest field path -> description


async def opened(stream: grpc.aio.UnaryStreamCall) -> bool:
    """Whether a server stream was accepted: its initial metadata carries STREAM_OPEN. Without it
    the answer was trailers only, and the call has ended."""
    if STREAM_OPEN in tuple(await stream.initial_metadata() or ()):
        return True
    try:
        await asyncio.wait_for(stream.code(), timeout=10)  # a bound on a failure only: it has ended
    except TimeoutError:
        raise AssertionError("a server stream sent its headers without the kcc-stream marker") from None
    return False


async def call(world: World, rpc: str, request: Message, md: Metadata, first: bool = False) -> Answer:
    """One call, as it ended; a stream as it opened or ended, with its first message if `first`
    (for requests that have something to send at once)."""
    service, _full, streaming = rpcs()[rpc]
    method = getattr(world.stubs[service], rpc)
    try:
        if streaming:
            stream = method(request, metadata=md)
            try:
                if not await opened(stream):
                    await stream.read()  # raises the error it ended with; EOF if it ended OK at once
                    return Answer(grpc.StatusCode.OK, b"", {})
                if not first:
                    return Answer(grpc.StatusCode.OK, b"", {})
                message = await asyncio.wait_for(stream.read(), timeout=10)  # a bound on a failure only
                return Answer(grpc.StatusCode.OK, b"" if message is grpc.aio.EOF else message.SerializeToString(), {})
            finally:
                stream.cancel()
        reply = await method(request, metadata=md)
        return Answer(grpc.StatusCode.OK, reply.SerializeToString(), {})
    except grpc.aio.AioRpcError as err:
        return Answer(err.code(), b"", field_violations(err))


@contextlib.asynccontextmanager
async def running_world(tmp_path: Path, nats_url: str) -> AsyncIterator[World]:
    """The three services on one nats-server, with Nijmegen and Arnhem set up through their APIs."""
    settings = Settings(data_dir=tmp_path / "var", nats_url=nats_url)
    apps: dict[str, ServiceApp] = {
        "tenancy": TenancyApp(settings),
        "routing": RoutingApp(settings),
        "callbacks": CallbacksApp(settings),
    }
    channels: dict[str, grpc.aio.Channel] = {}
    try:
        for key, app in apps.items():
            await app.start(0)
            channels[key] = grpc.aio.insecure_channel(f"127.0.0.1:{app.port}")
        built = World(settings, apps, channels)
        await built.build()
        await eventually(lambda: all(s.callback for s in built.sides.values()))
        yield built
    finally:
        for ch in channels.values():
            await ch.close()
        for app in reversed(list(apps.values())):
            if app.server is not None:
                await app.stop(0.5)
