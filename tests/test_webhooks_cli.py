"""`kcc events ...` against the real service: a partner subscribes with one command and is delivered to."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from services.cli import main
from services.common.config import ROOT, Settings
from tests.builders import eventually
from tests.webhooks_kit import NIJMEGEN, Metadata, figures_reaching, publish_callback, rig


def readme_verify() -> Callable[[str, dict[str, str], bytes], bool]:
    """The README's Python verification snippet, as a partner would paste it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("**Verifying the signature.**") :]
    snippet = section[section.index("```python\n") + 10 : section.index("```\n", section.index("```python"))]
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # noqa: S102 - the documentation's own code, nothing from outside
    return namespace["verify"]  # type: ignore[no-any-return]


async def kcc(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[dict[str, Any]], str]:
    """Runs the command (in a thread: it runs its own event loop); exit code, JSON lines, stderr."""
    code = await asyncio.to_thread(main, list(argv))
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines() if line.strip()], err


async def test_subscribe_list_pause_replay_and_delete_from_the_command_line(
    settings: Settings, admin: Metadata, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with rig(settings) as r:
        monkeypatch.setenv("KCC_WEBHOOKS_TARGET", f"127.0.0.1:{r.app.port}")
        code, (created,), err = await kcc(
            capsys, "events", "subscribe", "--tenant", NIJMEGEN, "--url", r.receiver.url, "--filter", "callback.*",
            "--id", "crm", "--header", "Authorization: Token abc",
        )  # fmt: skip
        assert code == 0 and created["name"] == f"tenants/{NIJMEGEN}/subscriptions/crm"
        assert "secret" not in created and created["event_types"] == ["callback.*"]
        found = re.search(r"signing secret \(shown once\): (whsec_\S+)", err)
        assert found
        r.receiver.secret = found.group(1)  # the receiver verifies with what the partner was given

        ids = [await publish_callback(r.bus, NIJMEGEN, "requested", i) for i in range(3)]
        await eventually(lambda: r.receiver.ids() == ids)
        assert r.receiver.bad_signatures == 0
        assert r.receiver.received[0].headers["authorization"] == "Token abc"
        verify = readme_verify()
        assert all(verify(r.receiver.secret, x.headers, x.body) for x in r.receiver.received)
        tampered = r.receiver.received[0]
        assert not verify(r.receiver.secret, tampered.headers, tampered.body.replace(b"requested", b"completed"))

        await figures_reaching(r.stub, admin, created["name"], lambda f: f.delivered == 3)
        code, listed, _ = await kcc(capsys, "events", "list", "--tenant", NIJMEGEN)
        assert code == 0 and [s["name"] for s in listed] == [created["name"]]
        assert listed[0]["figures"]["delivered"] == "3"  # int64 in JSON

        code, (paused,), _ = await kcc(capsys, "events", "pause", "crm", "--tenant", NIJMEGEN)
        assert paused["state"] == "STATE_PAUSED"
        code, (resumed,), _ = await kcc(capsys, "events", "resume", created["name"])
        assert resumed["state"] == "STATE_ACTIVE"

        second = r.receiver.received[1].event["sequence"]
        code, _, _ = await kcc(capsys, "events", "replay", "--subscription", created["name"], "--from", second)
        assert code == 0
        await eventually(lambda: [x.event["id"] for x in r.receiver.received] == [*ids, *ids[1:]])

        code, letters, _ = await kcc(capsys, "events", "dead-letters", "--subscription", "crm", "--tenant", NIJMEGEN)
        assert code == 0 and letters == []
        code, _, err = await kcc(
            capsys, "events", "replay", "--subscription", "crm", "--tenant", NIJMEGEN, "--from", "x"
        )
        assert code == 2 and "RFC 3339" in err

        code, _, _ = await kcc(capsys, "events", "delete", "crm", "--tenant", NIJMEGEN)
        code, _, err = await kcc(capsys, "events", "get", "crm", "--tenant", NIJMEGEN)
        assert code == 1 and "NOT_FOUND" in err
