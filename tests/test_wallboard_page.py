"""The wallboard page in a real browser: Debian's chromium driven by Playwright.

Tenancy, routing and callbacks run in-process on a real nats-server; the wallboard reads them
over gRPC only, as in production. Without chromium the tests skip locally and fail in CI
(conftest.unavailable); `.ci/run` installs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.common import auth, client, natsauth
from services.common.app import ServiceApp
from services.common.config import Settings
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from services.wallboard import cli, login, view
from services.wallboard.app import WallboardApp
from tests.builders import Metadata, make_tenant, routable
from tests.conftest import unavailable
from tests.webhooks_kit import SECRET, figures_reaching, publish_callback, rig, subscribe

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NIJMEGEN, ARNHEM = "gm0268", "gm0202"
PRODUCTS = [("paspoort", "paspoort", "burgerzaken"), ("afvalstoffenheffing", "afvalstoffenheffing", "belastingen")]
SECONDS = 1000  # Playwright waits in milliseconds
PHONE, NOTE = "+31612345678", "Vraagt naar spoedprocedure"  # personal data: never on the page
Routing = routing_pb2_grpc.RoutingServiceStub


def test_the_used_links_bucket_is_the_one_nats_permits() -> None:
    assert login.USED_LINKS_BUCKET == natsauth.WALLBOARD_LINKS


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    if not Path(CHROMIUM).exists():  # noqa: ASYNC240 - one stat before the browser starts
        unavailable(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    try:
        from playwright.async_api import async_playwright
    except ImportError as exc:
        unavailable(f"playwright is not installed: {exc}")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest.fixture
async def callbacks(settings: Settings, tenancy: TenancyApp) -> AsyncIterator[CallbacksApp]:
    app = CallbacksApp(settings)
    await app.start(0)
    yield app
    await app.stop()


@pytest.fixture
async def platform(
    settings: Settings,
    tenancy: TenancyApp,
    routing: RoutingApp,
    callbacks: CallbacksApp,
    admin: Metadata,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
    monkeypatch: pytest.MonkeyPatch,
) -> Routing:
    """Two gemeenten, routable; the wallboard finds the services where the tests started them."""
    for name, app in (("TENANCY", tenancy), ("ROUTING", routing), ("CALLBACKS", callbacks)):
        monkeypatch.setenv(f"KCC_{name}_TARGET", f"127.0.0.1:{app.port}")
    for tenant, name in ((NIJMEGEN, "Nijmegen"), (ARNHEM, "Arnhem")):
        await make_tenant(channel_to(tenancy), admin, tenant, name, PRODUCTS)
        await routable(channel_to(routing), admin, tenant)
    return Routing(channel_to(routing))


@pytest.fixture
async def wallboard(settings: Settings, platform: Routing) -> AsyncIterator[WallboardApp]:
    app = WallboardApp(settings)
    await app.start(0)
    yield app
    await app.stop()


def link(
    settings: Settings, app: WallboardApp, role: str = "trafficer", tenants: tuple[str, ...] = (), department: str = ""
) -> str:
    viewer = login.viewer_for(role, list(tenants), f"test-{role}", department)
    token = login.issue_link(auth.KeyRing.of(settings), viewer)
    return f"http://127.0.0.1:{app.port}/login?token={token}"


async def route(routing: Routing, admin: Metadata, tenant: str, key: str) -> rt.Contact:
    reply = await routing.RouteContact(
        rt.RouteContactRequest(
            tenant=f"tenants/{tenant}",
            channel=common_pb2.CHANNEL_PHONE,
            question="Ik wil mijn paspoort verlengen",
            citizen_key=key,
            request_id=key,
        ),
        metadata=admin,
    )
    return reply.contact


async def file_callback(stub: callbacks_pb2_grpc.CallbackServiceStub, admin: Metadata, department: str) -> None:
    await stub.CreateCallback(
        cb.CreateCallbackRequest(
            parent=f"tenants/{NIJMEGEN}",
            callback=cb.Callback(
                department=f"tenants/{NIJMEGEN}/departments/{department}",
                phone_number=PHONE,
                note=NOTE,
                channel=common_pb2.CHANNEL_PHONE,
            ),
        ),
        metadata=admin,
    )


def waiting(page: Any, tenant: str, queue: str) -> Any:
    return page.locator(f'section[data-tenant="{tenant}"] tr[data-queue="{queue}"] td[data-field="waiting"]')


async def test_a_routed_contact_appears_on_the_page_within_two_seconds(
    browser: Any,
    settings: Settings,
    wallboard: WallboardApp,
    platform: Routing,
    admin: Metadata,
) -> None:
    from playwright.async_api import expect

    page = await browser.new_page()
    first_visit = link(settings, wallboard)
    await page.goto(first_visit)
    assert page.url == f"http://127.0.0.1:{wallboard.port}/", "no token in the URL after logging in"
    await expect(page.locator('section[data-tenant="gm0268"] h2')).to_have_text("Nijmegen", timeout=10 * SECONDS)
    await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    await expect(waiting(page, NIJMEGEN, "burgerzaken")).to_have_count(0)

    await route(platform, admin, NIJMEGEN, "citizen-1")
    await expect(waiting(page, NIJMEGEN, "burgerzaken")).to_have_text("1", timeout=2 * SECONDS)

    cookies = await page.context.cookies()
    (session,) = [c for c in cookies if c["name"] == login.COOKIE]
    assert session["httpOnly"] and session["sameSite"] == "Strict"
    again = await browser.new_page()
    refused = await again.goto(first_visit)
    assert refused is not None and refused.status == 403, "a login link works once"
    assert "used already" in await again.locator("body").inner_text()


async def test_callbacks_show_per_department_without_personal_data(
    browser: Any,
    settings: Settings,
    wallboard: WallboardApp,
    callbacks: CallbacksApp,
    admin: Metadata,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
) -> None:
    from playwright.async_api import expect

    stub = callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks))
    await file_callback(stub, admin, "burgerzaken")
    page = await browser.new_page()
    await page.goto(link(settings, wallboard))
    card = page.locator(f'section[data-tenant="{NIJMEGEN}"]')
    await expect(card.locator('td[data-field="open"]')).to_have_text("1", timeout=10 * SECONDS)
    await expect(card.locator('td[data-field="requested"]')).to_have_text("1")
    # what the event stream carried: the page's JSON for a trafficer, as the wallboard made it
    sent = json.dumps(view.render(wallboard.feed.board, login.viewer_for("trafficer", []), 0))
    shown = await page.content()
    for secret in (PHONE, PHONE.removeprefix("+31"), NOTE):
        assert secret not in sent and secret not in shown


async def test_a_departments_login_shows_its_own_callbacks_only(
    browser: Any,
    settings: Settings,
    wallboard: WallboardApp,
    callbacks: CallbacksApp,
    platform: Routing,
    admin: Metadata,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
) -> None:
    from playwright.async_api import expect

    stub = callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks))
    await file_callback(stub, admin, "burgerzaken")
    await file_callback(stub, admin, "belastingen")
    await route(platform, admin, NIJMEGEN, "citizen-d")
    page = await browser.new_page()
    await page.goto(link(settings, wallboard, "department", (NIJMEGEN,), "burgerzaken"))
    card = page.locator(f'section[data-tenant="{NIJMEGEN}"]')
    await expect(card.locator('td[data-field="open"]')).to_have_text("1", timeout=10 * SECONDS)
    text = await page.locator("body").inner_text()
    assert "burgerzaken" in text and "belastingen" not in text
    assert await page.locator("#totals").is_hidden() and await card.locator("tr[data-queue]").count() == 0


async def test_a_link_used_at_one_replica_is_refused_by_the_other(
    browser: Any, settings: Settings, wallboard: WallboardApp
) -> None:
    other = WallboardApp(settings)
    await other.start(0)
    try:
        token = link(settings, wallboard).split("token=")[1]
        context = await browser.new_context()
        first = await context.request.get(f"http://127.0.0.1:{wallboard.port}/login?token={token}", max_redirects=0)
        assert first.status == 303 and login.COOKIE in first.headers.get("set-cookie", "")
        second = await context.request.get(f"http://127.0.0.1:{other.port}/login?token={token}", max_redirects=0)
        assert second.status == 403 and "used already" in await second.text()
        # the session itself is good at either replica: it is signed, not stored
        page = await context.request.get(f"http://127.0.0.1:{other.port}/")
        assert page.status == 200
        await context.close()
    finally:
        await other.stop()


async def test_a_tenants_login_never_shows_another_gemeente(
    browser: Any,
    settings: Settings,
    wallboard: WallboardApp,
    platform: Routing,
    admin: Metadata,
) -> None:
    from playwright.async_api import expect

    await route(platform, admin, NIJMEGEN, "citizen-n")
    await route(platform, admin, ARNHEM, "citizen-a")
    page = await browser.new_page()
    await page.goto(link(settings, wallboard, "tenant", (ARNHEM,)))
    await expect(waiting(page, ARNHEM, "burgerzaken")).to_have_text("1", timeout=10 * SECONDS)
    # The same push carried Nijmegen's figures to the trafficer; this viewer got none of them.
    text = await page.locator("body").inner_text()
    assert "Arnhem" in text and "Nijmegen" not in text
    assert await page.locator("section[data-tenant]").count() == 1
    assert await page.locator("#agents").is_hidden()
    assert await page.locator('[data-total="waiting"] b').inner_text() == "1"
    refused = await page.request.post(
        f"http://127.0.0.1:{wallboard.port}/actions/overflow-threshold",
        data={"tenant": NIJMEGEN, "seconds": 5},
        headers={"Content-Type": "application/json"},
    )
    assert refused.status == 403


async def test_a_trafficer_action_changes_the_agent(
    browser: Any,
    settings: Settings,
    wallboard: WallboardApp,
    platform: Routing,
    admin: Metadata,
    nats_url: str,
) -> None:
    from playwright.async_api import expect

    await platform.CreateAgent(
        rt.CreateAgentRequest(
            agent_id="fatima", agent=rt.Agent(display_name="Fatima El Amrani", tenants=[f"tenants/{NIJMEGEN}"])
        ),
        metadata=admin,
    )
    agent_md = client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, [NIJMEGEN]))
    desktop = platform.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=agent_md)
    await desktop.read()
    audit = await nats.connect(nats_url)
    changes = await audit.subscribe("kcc.platform.agent.>")
    try:
        page = await browser.new_page()
        await page.goto(link(settings, wallboard))
        row = page.locator('tr[data-agent="fatima"]')
        await expect(row.locator('[data-field="state"]')).to_have_text("AVAILABLE", timeout=10 * SECONDS)
        assert "Fatima" not in await page.locator("body").inner_text(), "agents appear by id, not by name"

        await row.locator('select[data-input="state"]').select_option("BREAK")
        await row.locator('button[data-action="state"]').click()
        await expect(row.locator('[data-field="state"]')).to_have_text("BREAK", timeout=5 * SECONDS)
        agent = await platform.GetAgent(rt.GetAgentRequest(name="agents/fatima"), metadata=admin)
        assert agent.state == rt.Agent.STATE_BREAK

        await row.locator('input[data-input="tenants"]').fill(ARNHEM)
        await row.locator('input[data-input="overflow_tenants"]').fill(NIJMEGEN)
        await row.locator('button[data-action="move"]').click()
        await expect(row.locator('[data-field="tenants"]')).to_have_text(ARNHEM, timeout=5 * SECONDS)
        agent = await platform.GetAgent(rt.GetAgentRequest(name="agents/fatima"), metadata=admin)
        assert list(agent.tenants) == [f"tenants/{ARNHEM}"] and list(agent.overflow_tenants) == [f"tenants/{NIJMEGEN}"]

        # Routing's events are the audit trail: each change names the trafficer behind it.
        seen: dict[str, str] = {}

        async def audited() -> bool:
            while len(seen) < 2:
                msg = await changes.next_msg(timeout=5)
                env = events_pb2.Envelope.FromString(msg.data)
                if env.agent_changed.change in ("state", "updated"):
                    seen[env.agent_changed.change] = env.agent_changed.actor
            return True

        assert await audited()
        assert seen == {"state": "wallboard:test-trafficer", "updated": "wallboard:test-trafficer"}

        card = page.locator(f'section[data-tenant="{ARNHEM}"]')
        threshold = card.locator('input[type="number"]')
        await threshold.focus()  # the trafficer is in the field while the board redraws
        await route(platform, admin, ARNHEM, "citizen-peak")
        await expect(waiting(page, ARNHEM, "burgerzaken")).to_have_text("1", timeout=10 * SECONDS)
        assert await threshold.evaluate("input => input === document.activeElement"), "a redraw took the focus"
        await page.keyboard.type("7")
        async with page.expect_response("**/actions/overflow-threshold", timeout=15 * SECONDS) as answered:
            await card.locator('button[data-action="threshold"]').click()
        reply = await answered.value
        assert reply.ok and json.loads(reply.request.post_data or "{}") == {"tenant": ARNHEM, "seconds": 7}
        await expect(card.locator(".threshold")).to_contain_text("7 s", timeout=10 * SECONDS)
        stats = await platform.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{ARNHEM}"), metadata=admin)
        assert {q.overflow_threshold_seconds for q in stats.queues} == {7}
    finally:
        desktop.cancel()
        await audit.close()


async def test_the_page_recovers_after_the_wallboard_restarts(
    browser: Any, settings: Settings, platform: Routing, admin: Metadata
) -> None:
    from playwright.async_api import expect

    first = WallboardApp(settings)
    port = await first.start(0)
    try:
        page = await browser.new_page()
        await page.goto(link(settings, first))
        status = page.locator("#connection")
        await expect(status).to_have_attribute("data-state", "live", timeout=10 * SECONDS)
    finally:
        await first.stop()
    await expect(status).to_have_attribute("data-state", "reconnecting", timeout=10 * SECONDS)
    await route(platform, admin, NIJMEGEN, "citizen-while-down")

    restarted = WallboardApp(settings)
    await restarted.start(port)
    try:
        await expect(status).to_have_attribute("data-state", "live", timeout=15 * SECONDS)
        await expect(waiting(page, NIJMEGEN, "burgerzaken")).to_have_text("1", timeout=10 * SECONDS)
        await route(platform, admin, NIJMEGEN, "citizen-after")
        await expect(waiting(page, NIJMEGEN, "burgerzaken")).to_have_text("2", timeout=2 * SECONDS)
    finally:
        await restarted.stop()


async def test_an_expired_session_ends_the_stream_and_the_page_says_so(
    browser: Any, settings: Settings, platform: Routing, admin: Metadata
) -> None:
    """The wallboard's clock is moved past the session's end instead of waiting for it."""
    from playwright.async_api import expect

    now = [time.time()]
    wallboard = WallboardApp(settings, clock=lambda: now[0])
    await wallboard.start(0)
    try:
        viewer = login.viewer_for("trafficer", [], "test-short")
        cookie = login.session_cookie(auth.KeyRing.of(settings), viewer, ttl=60)
        context = await browser.new_context()
        url = f"http://127.0.0.1:{wallboard.port}/"
        await context.add_cookies([{"name": login.COOKIE, "value": cookie, "url": url}])
        page = await context.new_page()
        await page.goto(url)
        status = page.locator("#connection")
        await expect(status).to_have_attribute("data-state", "live", timeout=12 * SECONDS)
        now[0] += 61  # by the real clock the session has a minute left: only the wallboard's can end it
        # the stream looks at the clock when the board changes (or at its 15 s heartbeat): change it
        await route(platform, admin, NIJMEGEN, "after-the-end")
        await expect(status).to_have_attribute("data-state", "logged-out", timeout=10 * SECONDS)
        await context.close()
    finally:
        await wallboard.stop()


async def test_webhook_figures_show_for_the_subscriptions_own_gemeente_only(
    browser: Any, settings: Settings, platform: Routing, admin: Metadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real webhooks service delivers to a real receiver; the wallboard reads its figures over gRPC."""
    from playwright.async_api import expect

    board = WallboardApp(settings)
    started = False
    try:
        async with rig(settings) as r:
            monkeypatch.setenv("KCC_WEBHOOKS_TARGET", f"127.0.0.1:{r.app.port}")
            crm = await subscribe(r.stub, admin, r.receiver.url, ["callback.*"])  # Nijmegen's
            await subscribe(r.stub, admin, r.receiver.url, ["callback.*"], ARNHEM, "zaken")
            for i in range(3):
                await publish_callback(r.bus, NIJMEGEN, "requested", i)
            await figures_reaching(r.stub, admin, crm.name, lambda f: f.delivered == 3)
            await board.start(0)
            started = True
            page = await browser.new_page()
            await page.goto(link(settings, board))
            row = page.locator(f'section[data-tenant="{NIJMEGEN}"] tr[data-subscription="crm"]')
            await expect(row.locator('td[data-field="delivered"]')).to_have_text("3", timeout=15 * SECONDS)
            await expect(row.locator('td[data-field="state"]')).to_have_text("ACTIVE")
            await expect(row.locator('td[data-field="parked"]')).to_have_text("0")
            shown = await page.content()
            for secret in (r.receiver.url, SECRET, "partner-token"):
                assert secret not in shown

            arnhem = await browser.new_page()
            await arnhem.goto(link(settings, board, "tenant", (ARNHEM,)))
            own = arnhem.locator(f'section[data-tenant="{ARNHEM}"] tr[data-subscription="zaken"]')
            await expect(own.locator('td[data-field="delivered"]')).to_have_text("0", timeout=15 * SECONDS)
            assert await arnhem.locator('tr[data-subscription="crm"]').count() == 0
            assert await arnhem.locator(f'section[data-tenant="{NIJMEGEN}"]').count() == 0
        # webhooks has stopped: the board goes on and says its figures are unavailable
        note = page.locator(f'section[data-tenant="{NIJMEGEN}"] [data-field="webhooks-unavailable"]')
        await expect(note).to_be_visible(timeout=15 * SECONDS)
        await expect(row).to_have_count(0)
        await expect(page.locator("#connection")).to_have_attribute("data-state", "live")
    finally:
        if started:
            await board.stop()


def test_kcc_wallboard_link_names_the_port_and_refuses_a_tenant_role_without_a_tenant(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from services.cli import main

    monkeypatch.setenv("KCC_WALLBOARD_PORT", "18081")
    assert main(["wallboard", "link", "--role", "tenant", "--tenant", NIJMEGEN]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("http://127.0.0.1:18081/login?token=")
    viewer = login._verify(auth.KeyRing.of(Settings()), url.split("token=")[1], login.LINK_AUDIENCE)[0]
    assert viewer.role == login.ViewerRole.TENANT and viewer.tenants == {NIJMEGEN}
    with pytest.raises(SystemExit, match="needs --tenant"):
        main(["wallboard", "link", "--role", "tenant"])
    with pytest.raises(SystemExit, match="one --tenant and --department"):
        main(["wallboard", "link", "--role", "department", "--tenant", NIJMEGEN])
    assert main(["wallboard", "link", "--role", "department", "--tenant", NIJMEGEN, "--department", "burgerzaken"]) == 0
    token = capsys.readouterr().out.strip().split("token=")[1]
    department = login._verify(auth.KeyRing.of(Settings()), token, login.LINK_AUDIENCE)[0]
    assert (department.role, department.department) == (login.ViewerRole.DEPARTMENT, "burgerzaken")
    assert cli.base_url(Settings()) == "http://127.0.0.1:18081"
