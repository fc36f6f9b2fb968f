"""`kcc agents ...` against a real routing service: create, list, get and update, one test per command."""

from __future__ import annotations

import asyncio
import json

import pytest

from services import cli
from services.common.config import Settings
from services.routing.app import RoutingApp

Admin = tuple[tuple[str, str], ...]


@pytest.fixture
def kcc(routing: RoutingApp, admin: Admin, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Runs a `kcc` command line against the routing service; returns exit code, stdout and stderr."""
    monkeypatch.setenv("KCC_ROUTING_TARGET", f"127.0.0.1:{routing.port}")
    monkeypatch.setenv("KCC_TOKEN", admin[0][1].removeprefix("Bearer "))

    async def run(*argv: str) -> tuple[int, str, str]:
        code = await asyncio.to_thread(cli.main, list(argv))
        out, err = capsys.readouterr()
        return code, out, err

    return run


CREATE = ("agents", "create", "--id", "fatima", "--name", "Fatima", "--tenant", "gm0268", "--overflow", "gm0202")


async def test_create_adds_the_agent_and_names_the_token_its_desktop_needs(kcc, routing: RoutingApp) -> None:  # type: ignore[no-untyped-def]
    code, out, err = await kcc(*CREATE, "--channel", "PHONE", "--channel", "CHAT", "--capacity", "CHAT=2")
    assert code == 0, err
    made = json.loads(out)
    assert (made["name"], made["tenants"]) == ("agents/fatima", ["tenants/gm0268"])
    assert made["overflowTenants"] == ["tenants/gm0202"]
    assert routing.state.router.agents["agents/fatima"].capacity == {"CHAT": 2}
    assert "kcc auth issue-token --subject fatima --role agent --tenant gm0202 --tenant gm0268" in err
    code, _, err = await kcc(*CREATE)
    assert code == 1 and "ALREADY_EXISTS" in err


async def test_create_refuses_a_malformed_capacity(kcc, routing: RoutingApp) -> None:  # type: ignore[no-untyped-def]
    code, _, err = await kcc(*CREATE, "--capacity", "CHAT")
    assert code == 2 and "CHANNEL=N" in err
    assert "agents/fatima" not in routing.state.router.agents


async def test_list_and_get_show_the_agents(kcc) -> None:  # type: ignore[no-untyped-def]
    assert (await kcc(*CREATE))[0] == 0
    assert (await kcc("agents", "create", "--id", "sem", "--tenant", "gm0202"))[0] == 0
    code, out, _ = await kcc("agents", "list")
    assert code == 0 and [json.loads(line)["name"] for line in out.splitlines()] == ["agents/fatima", "agents/sem"]
    code, out, _ = await kcc("agents", "get", "sem")
    assert code == 0 and json.loads(out)["tenants"] == ["tenants/gm0202"]
    code, _, err = await kcc("agents", "get", "nobody")
    assert code == 1 and "NOT_FOUND" in err


async def test_update_moves_an_agent_between_gemeenten(kcc, routing: RoutingApp, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    assert (await kcc(*CREATE))[0] == 0
    code, out, _ = await kcc("agents", "update", "fatima", "--overflow", "gm0344", "--overflow", "gm0202")
    assert code == 0 and json.loads(out)["overflowTenants"] == ["tenants/gm0202", "tenants/gm0344"]
    assert routing.state.router.agents["agents/fatima"].overflow_tenants == {"gm0202", "gm0344"}
    assert routing.state.router.agents["agents/fatima"].tenants == {"gm0268"}
    code, _, err = await kcc("agents", "update", "fatima")
    assert code == 2 and "--tenant or --overflow" in err
