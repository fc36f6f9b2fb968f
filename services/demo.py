"""The demo behind `make demo`: three gemeenten share one KCC, through every service.

It talks to the running services over gRPC only, like a partner integration and an
agent desktop would. Safe to run again: creates use request ids.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC
from zoneinfo import ZoneInfo

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from services.common import auth, client
from services.common.citizen import current_key
from services.common.config import Settings
from services.tenancy.onboarding import onboard_tenant

GEMEENTEN = (("gm0268", "Nijmegen", "14024"), ("gm0202", "Arnhem", "14026"), ("gm0344", "Utrecht", "14030"))
# What the demo citizens say; the evaluation questions live in shared/ and are not used here.
DEMO_CONTACTS = (
    ("gm0268", "Ik wil mijn paspoort verlengen", "+31612345001"),
    ("gm0268", "Er ligt grofvuil naast de container in mijn straat", "+31612345002"),
    ("gm0202", "Hoe vraag ik kwijtschelding van de afvalstoffenheffing aan?", "+31612345003"),
    ("gm0344", "Ik heb hulp nodig in de huishouding, kan dat via de Wmo?", "+31612345004"),
)


def say(text: str) -> None:
    print(text, flush=True)


async def run_demo(settings: Settings) -> None:
    admin = client.metadata(client.token(settings))
    run = uuid.uuid4().hex[:8]
    async with (
        client.channel(settings, "tenancy") as tenancy_channel,
        client.channel(settings, "routing") as routing_channel,
        client.channel(settings, "callbacks") as callbacks_channel,
    ):
        tenancy = tenancy_pb2_grpc.TenancyServiceStub(tenancy_channel)
        routing = routing_pb2_grpc.RoutingServiceStub(routing_channel)
        callbacks = callbacks_pb2_grpc.CallbackServiceStub(callbacks_channel)

        say("== 1. Onboarding three gemeenten (departments + 450 UPL products each)")
        for tenant, name, short_number in GEMEENTEN:
            summary = await onboard_tenant(tenancy, admin, tenant, name, short_number)
            say(f"   tenants/{tenant} {name}: {summary}")
        await _wait_for_catalogues(routing, admin, [g[0] for g in GEMEENTEN])

        say("== 2. One pool of agents: Fatima serves Nijmegen and takes Arnhem/Utrecht overflow")
        agent_name = f"agents/demo-{run}"
        await routing.CreateAgent(
            rt.CreateAgentRequest(
                agent_id=f"demo-{run}",
                agent=rt.Agent(
                    display_name="Fatima (demo)",
                    tenants=["tenants/gm0268"],
                    overflow_tenants=["tenants/gm0202", "tenants/gm0344"],
                ),
            ),
            metadata=admin,
        )
        agent_md = client.metadata(
            auth.issue_token(settings.auth_secret, f"demo-{run}", auth.Role.AGENT, ["gm0268", "gm0202", "gm0344"])
        )
        desktop = routing.ConnectAgent(rt.ConnectAgentRequest(name=agent_name), metadata=agent_md)
        await desktop.read()  # the first message is the agent's own state

        say("== 3. Citizens phone in; routing recognises the product from what they say")
        routed = []
        for tenant, question, phone in DEMO_CONTACTS:
            partner = _partner(settings, tenant)
            reply = await routing.RouteContact(
                rt.RouteContactRequest(
                    entry_point=rt.EntryPointRef(kind=1, value=dict((g[0], g[2]) for g in GEMEENTEN)[tenant]),
                    channel=common_pb2.CHANNEL_PHONE,
                    question=question,
                    citizen_key=current_key(settings, phone),
                    request_id=f"demo-{run}-{phone}",
                ),
                metadata=partner,
            )
            c = reply.contact
            say(
                f'   {tenant} "{question}"\n      -> product {c.product_name or "(not recognised)"}, '
                f"queue {c.queue}, priority {c.priority}, target {c.service_level_target.percent}% "
                f"within {c.service_level_target.seconds}s"
            )
            routed.append((tenant, phone, c))

        say("== 4. The agent desktop receives the Nijmegen offer, accepts and completes it")
        offer = await asyncio.wait_for(desktop.read(), 10)
        contact = offer.offer.contact
        say(f"   offer to {agent_name}: {contact.product_name} ({contact.tenant})")
        await routing.AcceptOffer(rt.AcceptOfferRequest(agent=agent_name, contact=contact.name), metadata=agent_md)
        await routing.CompleteContact(
            rt.CompleteContactRequest(agent=agent_name, contact=contact.name, outcome="callback-filed"),
            metadata=agent_md,
        )

        say("== 5. The KCC cannot answer it first-line: a callback for the department")
        tenant, phone = routed[0][0], routed[0][1]
        created = await callbacks.CreateCallback(
            cb.CreateCallbackRequest(
                parent=f"tenants/{tenant}",
                callback=cb.Callback(
                    department=contact.department,
                    product_uri=contact.product_uri,
                    contact=contact.name,
                    phone_number=phone,
                    preferred_times="na 14:00",
                    note="Vraagt naar spoedprocedure",
                    channel=common_pb2.CHANNEL_PHONE,
                ),
                request_id=f"demo-{run}-callback",
            ),
            metadata=_partner(settings, tenant),
        )
        calendar = await tenancy.GetBusinessCalendar(
            tenancy_pb2.GetBusinessCalendarRequest(name=f"tenants/{tenant}/businessCalendar"), metadata=admin
        )
        zone = ZoneInfo(calendar.time_zone or "Europe/Amsterdam")
        say(f"   {created.name}: deadline {local(created.deadline, zone)} (working hours of {tenant})")
        worklist = await callbacks.ListCallbacks(
            cb.ListCallbacksRequest(parent=f"tenants/{tenant}", department=contact.department),
            metadata=_partner(settings, tenant),
        )
        say(f"   worklist of {contact.department}: {len(worklist.callbacks)} open callback(s)")

        say("== 6. The same citizen calls again: a repeat contact, flagged with the open callback")
        await asyncio.sleep(1.0)  # the callback event reaches routing's index
        again = await routing.RouteContact(
            rt.RouteContactRequest(
                tenant=f"tenants/{tenant}",
                channel=common_pb2.CHANNEL_PHONE,
                question="Ik bel nog een keer over mijn paspoort",
                citizen_key=current_key(settings, phone),
                request_id=f"demo-{run}-again",
            ),
            metadata=_partner(settings, tenant),
        )
        refs = ", ".join(f"{o.callback} (deadline {local(o.deadline, zone)})" for o in again.contact.open_callbacks)
        say(f"   repeat contact: {again.contact.repeat_contact}; open: {refs or 'none'}")

        say("== 7. Live figures per tenant and queue")
        stats = await routing.GetQueueStats(rt.GetQueueStatsRequest(), metadata=admin)
        for q in stats.queues:
            say(
                f"   {q.tenant:16} {q.queue:24} waiting {q.waiting} answered {q.answered} "
                f"service level {service_level(q)} overflowed {q.overflowed} repeat {q.repeat_contacts}"
            )
        desktop.cancel()
    say("== demo done")


def service_level(queue: rt.QueueStats) -> str:
    """The share answered within target, or a dash while nothing was answered or abandoned (not 100%)."""
    return f"{queue.service_level:.0%}" if queue.answered + queue.abandoned else "—"


def local(moment: Timestamp, zone: ZoneInfo) -> str:
    """A moment as the gemeente's staff read it: their own time, with the zone's abbreviation."""
    return moment.ToDatetime(UTC).astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")


def _partner(settings: Settings, tenant: str) -> tuple[tuple[str, str], ...]:
    """The credentials a gemeente's telephony platform would use: one tenant only."""
    return client.metadata(
        auth.issue_token(settings.auth_secret, f"{tenant}-integration", auth.Role.TENANT_INTEGRATION, [tenant])
    )


async def _wait_for_catalogues(
    routing: routing_pb2_grpc.RoutingServiceStub, metadata: tuple[tuple[str, str], ...], tenants: list[str]
) -> None:
    """Snapshots reach routing asynchronously, and its recognizer for a new catalogue is built in the
    background; wait until each tenant's questions are recognised."""
    for tenant in tenants:
        for _ in range(300):
            try:
                reply = await routing.ClassifyQuestion(
                    rt.ClassifyQuestionRequest(tenant=f"tenants/{tenant}", question="paspoort"), metadata=metadata
                )
                if reply.products:
                    break
            except grpc.RpcError:
                pass
            await asyncio.sleep(0.1)
