"""The demo of `make demo` against the real services: what it prints reads right to a gemeente."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest

from services.callbacks.app import CallbacksApp
from services.common.config import Settings
from services.demo import run_demo
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp


@pytest.fixture
async def callbacks(settings: Settings, tenancy: TenancyApp) -> AsyncIterator[CallbacksApp]:
    app = CallbacksApp(settings)
    await app.start(0)
    yield app
    await app.stop()


async def test_the_demo_recognises_and_shows_local_deadlines_and_no_service_level_without_answers(
    settings: Settings,
    tenancy: TenancyApp,
    routing: RoutingApp,
    callbacks: CallbacksApp,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, app in (("tenancy", tenancy), ("routing", routing), ("callbacks", callbacks)):
        monkeypatch.setenv(f"KCC_{name.upper()}_TARGET", f"127.0.0.1:{app.port}")
    await run_demo(settings)
    out = capsys.readouterr().out
    assert "(not recognised)" not in out, out  # routing had each gemeente's recognizer before the calls
    figures = [line.split(maxsplit=2) for line in out.splitlines() if "service level" in line]
    nijmegen = [rest for tenant, _queue, rest in figures if tenant == "tenants/gm0268"]
    arnhem = [rest for tenant, _queue, rest in figures if tenant == "tenants/gm0202"]
    assert any("answered 1 service level 100%" in rest for rest in nijmegen), out
    # Arnhem's caller still waits: nothing answered or abandoned yet is no service level at all
    assert arnhem and all("answered 0 service level —" in rest for rest in arnhem), out
    local = r"\w{3} \d{2} \w{3} \d{4} \d{2}:\d{2} CES?T"
    assert re.search(rf"callbacks/\w+: deadline {local} \(working hours of gm0268\)", out), out
    assert re.search(rf"\(deadline {local}\)", out), out
