"""Key-value reads and writes on a call's path (agent definitions, login links) against a real
nats-server: a leader being elected is a pause, as for a publish, and a retry that meets the write
its lost answer hid is known for the caller's own. The faults are put in front of the real bucket."""

from __future__ import annotations

import grpc
import nats.errors
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth
from services.common.config import Settings
from services.common.events import EventBus
from services.routing.app import RoutingApp
from services.wallboard import login
from tests.support.faults import ELECTION, refusing, stored_then_lost


async def test_a_create_and_an_update_whose_answers_were_lost_are_the_callers_own_on_the_retry(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    kv = await bus.key_value("TEST")
    monkeypatch.setattr(kv, "create", stored_then_lost(kv.create))
    created = await bus.kv_write("create", kv, "fatima", b"mine 1")
    assert (await kv.get("fatima")).revision == created

    monkeypatch.setattr(kv, "update", stored_then_lost(kv.update))
    updated = await bus.kv_write("update", kv, "fatima", b"mine 2", last=created)
    entry = await kv.get("fatima")
    assert (entry.revision, entry.value) == (updated, b"mine 2")

    # Another writer's value is not taken for one's own: it existed, or it changed meanwhile.
    with pytest.raises(KeyWrongLastSequenceError):
        await bus.kv_write("create", kv, "fatima", b"someone else's")
    with pytest.raises(KeyWrongLastSequenceError):
        await bus.kv_write("update", kv, "fatima", b"someone else's", last=created)


async def test_a_read_and_a_write_that_meet_an_election_wait_it_out(
    bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    kv = await bus.key_value("TEST")
    monkeypatch.setattr(kv, "create", refusing(kv.create, [ELECTION]))
    await bus.kv_write("create", kv, "k", b"v")
    monkeypatch.setattr(kv, "get", refusing(kv.get, [nats.errors.NoRespondersError()]))
    assert (await bus.bounded("read", lambda: kv.get("k"))).value == b"v"


async def test_agents_are_created_and_moved_through_an_election_and_a_lost_answer(
    settings: Settings, routing: RoutingApp, admin: tuple[tuple[str, str], ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, CreateAgent answered UNAVAILABLE on a lost answer (and its retry without a request_id
    ALREADY_EXISTS), and UpdateAgent UNAVAILABLE at the election's first refusal."""
    agents: KeyValue = routing.servicer.agents_kv
    monkeypatch.setattr(agents, "create", stored_then_lost(agents.create))
    monkeypatch.setattr(agents, "get", refusing(agents.get, [ELECTION]))
    monkeypatch.setattr(agents, "update", refusing(agents.update, [ELECTION]))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{routing.port}") as channel:
        stub = routing_pb2_grpc.RoutingServiceStub(channel)
        created = await stub.CreateAgent(
            rt.CreateAgentRequest(agent_id="fatima", agent=rt.Agent(tenants=["tenants/gm0268"])), metadata=admin
        )
        assert created.name == "agents/fatima"
        moved = await stub.UpdateAgent(
            rt.UpdateAgentRequest(
                agent=rt.Agent(name="agents/fatima", tenants=["tenants/gm0344"]),
                update_mask=FieldMask(paths=["tenants"]),
            ),
            metadata=admin,
        )
        assert list(moved.tenants) == ["tenants/gm0344"]
        assert rt.Agent.FromString((await agents.get("fatima")).value).tenants == ["tenants/gm0344"]


async def test_a_login_link_whose_mark_was_stored_but_not_answered_lets_in_once(
    settings: Settings, bus: EventBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, the login was refused for now and the link read as used: nobody got in with it."""
    keys = auth.KeyRing.of(settings)
    used = await bus.key_value(login.USED_LINKS_BUCKET)
    monkeypatch.setattr(used, "create", stored_then_lost(used.create))
    token = login.issue_link(keys, login.viewer_for("trafficer", [], "test-lost-answer"))
    assert (await login.redeem_link(keys, bus, used, token)).subject == "test-lost-answer"
    with pytest.raises(login.LoginRefused, match="used already"):
        await login.redeem_link(keys, bus, used, token)
