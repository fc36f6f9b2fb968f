"""Wallboard login links against a nats-server with `kcc up`'s users: the wallboard's own NATS user
may mark a link used, and nothing else of the platform's."""

from __future__ import annotations

import asyncio
import http.client
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import nats
import pytest

from services.common import auth, natsauth
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsServer
from services.wallboard import login
from services.wallboard.app import WallboardApp
from tests.conftest import running_nats


@pytest.fixture
def passwords(tmp_path: Path) -> natsauth.LocalPasswords:
    return natsauth.LocalPasswords(tmp_path / "credentials", environ={})


@pytest.fixture
def secured(tmp_path: Path, passwords: natsauth.LocalPasswords) -> Iterator[NatsServer]:
    yield from running_nats(NatsServer(tmp_path / "nats", config=passwords.server_config()))


async def test_a_link_lets_in_once_as_the_wallboards_own_nats_user(
    tmp_path: Path, secured: NatsServer, passwords: natsauth.LocalPasswords
) -> None:
    settings = Settings(
        data_dir=tmp_path / "var", nats_url=secured.url, nats_user="wallboard", nats_password=passwords.get("wallboard")
    )
    keys = auth.KeyRing.of(settings)
    bus = await EventBus.connect(settings, "test-wallboard")
    try:
        used = await bus.key_value(login.USED_LINKS_BUCKET)
        viewer = login.viewer_for("tenant", ["gm0268"], "kcc-007")
        token = login.issue_link(keys, viewer)
        redeemed = await login.redeem_link(keys, bus, used, token)
        assert (redeemed.subject, redeemed.role, redeemed.tenants) == ("kcc-007", login.ViewerRole.TENANT, {"gm0268"})
        await login.redeem_link(keys, bus, used, login.issue_link(keys, viewer))  # a new link for the same viewer works
        with pytest.raises(login.LoginRefused, match="used already"):
            await login.redeem_link(keys, bus, used, token)

        session = login.session_cookie(keys, viewer)
        with pytest.raises(login.LoginRefused, match="not a valid"):
            await login.redeem_link(keys, bus, used, session)  # a session is no link
        with pytest.raises(login.LoginRefused, match="not a valid"):
            login.viewer_of_session(keys, token)  # nor a link a session
        with pytest.raises(login.LoginRefused, match="unknown key"):
            await login.redeem_link(auth.KeyRing((("other", "s" * 40),)), bus, used, token)
        forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        with pytest.raises(login.LoginRefused, match="not a valid"):
            await login.redeem_link(keys, bus, used, forged)
        expired = login._sign(keys, viewer, login.LINK_AUDIENCE, -1, jti="old")
        with pytest.raises(login.LoginRefused, match="expired"):
            await login.redeem_link(keys, bus, used, expired)
    finally:
        await bus.close()


async def test_the_wallboards_nats_user_cannot_forge_events(
    secured: NatsServer, passwords: natsauth.LocalPasswords
) -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def on_error(exc: Exception) -> None:
        await errors.put(exc)

    nc = await nats.connect(
        secured.url, user="wallboard", password=passwords.get("wallboard"), error_cb=on_error, allow_reconnect=False
    )
    try:
        await nc.publish("kcc.gm0268.callback.requested", b"forged")
        assert "permissions violation" in str(await asyncio.wait_for(errors.get(), 10)).lower()
        await nc.subscribe("kcc.>")
        assert "permissions violation" in str(await asyncio.wait_for(errors.get(), 10)).lower()
    finally:
        await nc.close()


def visit(url: str) -> int:
    """The status of one GET, redirects not followed (a good login answers 303 to the page)."""
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.netloc, timeout=10)
    try:
        connection.request("GET", f"{parts.path}?{parts.query}")
        return connection.getresponse().status
    finally:
        connection.close()


async def test_a_link_opened_while_nats_is_away_is_refused_for_now_and_lets_in_later(
    settings: Settings, nats_server: NatsServer
) -> None:
    """The used-links bucket cannot be asked: 503 at once, not an error page after the connection's
    10 s, and the link stays unused (the client must not keep the mark to send on reconnecting)."""
    wallboard = WallboardApp(settings)
    await wallboard.start(0)
    try:
        viewer = login.viewer_for("trafficer", [], "test-outage")
        url = f"http://127.0.0.1:{wallboard.port}/login?token={login.issue_link(auth.KeyRing.of(settings), viewer)}"
        nats_server.kill()
        assert await asyncio.to_thread(visit, url) == 503
        await asyncio.to_thread(nats_server.restart)
        statuses = [await asyncio.to_thread(visit, url)]
        while statuses[-1] == 503 and len(statuses) < 30:  # until the wallboard has reconnected
            await asyncio.sleep(0.5)
            statuses.append(await asyncio.to_thread(visit, url))
        assert statuses[-1] == 303 and set(statuses[:-1]) <= {503}
        assert await asyncio.to_thread(visit, url) == 403  # and now it is used
    finally:
        await wallboard.stop()
