"""Planning from the platform's own history: contact events read from a real nats-server, published
as routing publishes them, and routed through the real routing service."""

from __future__ import annotations

import asyncio
import csv
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.cli import main
from services.common import auth, client, events
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsServer
from services.planning.history import measure, read_contacts
from tests.builders import make_tenant, routable

LOCAL = ZoneInfo("Europe/Amsterdam")


async def publish_history(settings: Settings) -> None:
    """Three days of gm0268 and gm0344: contacts at 09:05, 09:10, 09:40 and 10:15 local time; each
    answered after 10 s and handled for 200 s (gm0344: 400 s), except the 09:40 one, abandoned after 30 s;
    and an e-mail each day."""
    bus = await EventBus.connect(settings, "test-history")
    try:
        for days_ago in (1, 2, 3):
            day = (datetime.now(LOCAL) - timedelta(days=days_ago)).date()
            for tenant, handling in (("gm0268", 200), ("gm0344", 400)):
                for n, (hour, minute) in enumerate(((9, 5), (9, 10), (9, 40), (10, 15))):
                    name = f"{tenant}-{day}-{n}"
                    arrived = datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL).timestamp()
                    routed = events_pb2.ContactRouted(
                        contact=name, tenant=tenant, queue="algemeen", channel=common_pb2.CHANNEL_PHONE
                    )
                    routed.enqueue_time.FromNanoseconds(int(arrived * 1e9))
                    await publish(bus, tenant, "routed", arrived, contact_routed=routed)
                    steps = [("abandoned", 30)] if minute == 40 else [("accepted", 10), ("completed", 10 + handling)]
                    for change, after in steps:
                        changed = events_pb2.ContactChanged(contact=name, change=change, agent="agents/a1")
                        await publish(bus, tenant, change, arrived + after, contact_changed=changed)
            # an e-mail waits in no line: left out of the plan
            nine = datetime(day.year, day.month, day.day, 9, tzinfo=LOCAL).timestamp()
            email = events_pb2.ContactRouted(contact=f"mail-{day}", tenant="gm0268", channel=common_pb2.CHANNEL_EMAIL)
            email.enqueue_time.FromNanoseconds(int(nine * 1e9))
            await publish(bus, "gm0268", "routed", nine, contact_routed=email)
    finally:
        await bus.close()


async def publish(bus: EventBus, tenant: str, change: str, at: float, **payload: object) -> None:
    env = events.envelope(tenant, **payload)
    env.occurred_at.FromNanoseconds(int(at * 1e9))
    await bus.publish(events.subject(tenant, "contact", change), env)


async def test_history_measures_calls_handling_and_patience_from_the_stream(settings: Settings) -> None:
    await publish_history(settings)
    bus = await EventBus.connect(settings, "test-history-read")
    try:
        contacts = await read_contacts(bus.js, datetime.now(UTC) - timedelta(days=1))
    finally:
        await bus.close()
    assert len(contacts) == 27
    history = measure(contacts)
    assert history.contacts == 24 and history.days == 3
    assert history.labels == ["09:00", "09:30", "10:00"]
    by_tenant = {d.tenant: d for d in history.demands}
    assert by_tenant["gm0268"].calls == (2.0, 1.0, 1.0)
    assert by_tenant["gm0268"].aht_seconds == pytest.approx(200)
    assert by_tenant["gm0344"].aht_seconds == pytest.approx(400)
    # waits 10 + 10 + 30 + 10 s per day with one caller hanging up: mean patience 60 s
    assert by_tenant["gm0268"].patience_seconds == pytest.approx(60)


def test_kcc_plan_from_history(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KCC_NATS_URL", nats_server.url)
    asyncio.run(publish_history(Settings(data_dir=tmp_path, nats_url=nats_server.url)))
    assert main(["plan", "--from-history", "--history-days", "7", "--target", "0.8"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert "24 contacts over 3 days" in out[0] and "erlang-a" in out[1]
    plan = json.loads(out[-1])
    assert plan["intervals"] == 3 and set(plan["tenants"]) == {"gm0268", "gm0344"}
    assert plan["apart"] >= plan["pooled"] >= 1


def test_kcc_plan_from_history_without_a_stream_or_contacts_says_so(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KCC_NATS_URL", nats_server.url)
    assert main(["plan", "--from-history"]) == 2
    assert "no KCC stream" in capsys.readouterr().err

    async def empty_stream() -> None:
        bus = await EventBus.connect(Settings(data_dir=tmp_path, nats_url=nats_server.url), "test-empty")
        await bus.close()

    asyncio.run(empty_stream())
    assert main(["plan", "--from-history"]) == 2
    assert "no PHONE contacts" in capsys.readouterr().err


async def test_history_of_contacts_routed_through_the_real_routing_service(
    tenancy, routing, channel_to, admin, settings: Settings
) -> None:  # type: ignore[no-untyped-def]
    """Two calls routed by RouteContact: one offered to a desktop, accepted and completed, one withdrawn."""
    await make_tenant(channel_to(tenancy), admin, "gm0268", "Nijmegen", [("paspoort", "paspoort", "burgerzaken")])
    await routable(channel_to(routing), admin, "gm0268")
    stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
    partner = client.metadata(
        auth.issue_token(settings.auth_secret, "gm0268-int", auth.Role.TENANT_INTEGRATION, ["gm0268"])
    )
    agent = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, ["gm0268"]))
    await stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
    )
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=agent)
    await desktop.read()  # the agent as connected
    phone = rt.RouteContactRequest(tenant="tenants/gm0268", channel=common_pb2.CHANNEL_PHONE, question="paspoort")
    answered = await stub.RouteContact(phone, metadata=partner)
    offer = await asyncio.wait_for(desktop.read(), 5)
    assert offer.offer.contact.name == answered.contact.name
    await stub.AcceptOffer(rt.AcceptOfferRequest(agent="agents/fatima", contact=answered.contact.name), metadata=agent)
    await stub.CompleteContact(
        rt.CompleteContactRequest(agent="agents/fatima", contact=answered.contact.name, outcome="answered"),
        metadata=agent,
    )
    withdrawn = await stub.RouteContact(phone, metadata=partner)  # fatima is free again: offered, then withdrawn
    await stub.WithdrawContact(rt.WithdrawContactRequest(name=withdrawn.contact.name), metadata=partner)
    desktop.cancel()

    bus = await EventBus.connect(settings, "test-history-routed")
    try:
        contacts = await read_contacts(bus.js)
    finally:
        await bus.close()
    assert set(contacts) == {answered.contact.name, withdrawn.contact.name}
    done, gone = contacts[answered.contact.name], contacts[withdrawn.contact.name]
    assert done.tenant == "gm0268" and done.channel == "PHONE"
    assert done.arrived <= done.answered <= done.completed and not done.abandoned
    assert not gone.answered and gone.abandoned >= gone.arrived
    history = measure(contacts)
    (demand,) = history.demands
    assert demand.tenant == "gm0268" and sum(demand.calls) == 2
    assert demand.aht_seconds >= 1.0 and demand.patience_seconds is not None


def test_kcc_simulate_from_history(
    nats_server: NatsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The measured day (calls 09:00-10:30, handling 200 and 400 s, patience 60 s) simulated pooled and apart."""
    monkeypatch.setenv("KCC_NATS_URL", nats_server.url)
    asyncio.run(publish_history(Settings(data_dir=tmp_path, nats_url=nats_server.url)))
    assert main(["simulate", "--from-history", "--days", "40", "--out", str(tmp_path / "sim")]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for scenario in ("separate", "pooled", "overflow"):
        figures = report["scenarios"][scenario]
        assert set(figures["tenants"]) == {"gm0268", "gm0344"}
        assert 40 * 8 * 0.7 < figures["calls"] < 40 * 8 * 1.3  # 8 calls a day measured
    with (tmp_path / "sim" / "intervals.csv").open(encoding="utf-8") as f:
        assert {row["interval"] for row in csv.DictReader(f)} == {"09:00", "09:30", "10:00"}
    assert main(["simulate", "--from-history", "--tenant", "gm0268=1000"]) == 2
    assert "leave out --tenant" in capsys.readouterr().err
