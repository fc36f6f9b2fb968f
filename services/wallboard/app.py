"""The wallboard process: a Starlette app served by uvicorn, pushing the board as Server-Sent Events.

`GET /login?token=` turns a one-time link into the session cookie and redirects to `/`; `/events`
streams what the viewer may see whenever the board changes (at most a few times a second,
with a heartbeat so proxies keep the stream open; the browser's EventSource reconnects by
itself); `POST /actions/...` are the trafficer's steering, each a gRPC call made as the viewer,
so the services' own checks and audit trails apply.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import uvicorn
from google.protobuf import field_mask_pb2
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kcc.routing.v1 import routing_pb2 as rt
from services.common import auth, production
from services.common.config import Settings
from services.common.errors import error_info
from services.common.events import EventBus
from services.wallboard import login, view
from services.wallboard.feed import Feed

log = logging.getLogger(__name__)

DEFAULT_PORT = 8080
MIN_GAP_SECONDS = 0.25  # at most four pushes a second per page
HEARTBEAT_SECONDS = 15.0
RECONNECT_MS = 1000
STATIC = os.path.join(os.path.dirname(__file__), "static")
HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
AGENT_STATES = {"AVAILABLE", "BREAK", "WRAP_UP", "OFFLINE"}


def port() -> int:
    return int(os.environ.get("KCC_WALLBOARD_PORT") or DEFAULT_PORT)


class Wallboard:
    """The routes, over one feed and the bucket of used login links."""

    def __init__(
        self,
        settings: Settings,
        feed: Feed,
        bus: EventBus,
        used_links: Any,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.bus = bus  # a link is marked used over it, only while it is connected
        self.clock = clock  # a session ends by it
        self.keys = auth.KeyRing.of(settings)
        self.feed = feed
        self.used_links = used_links
        self.secure_cookie = settings.env == "production"
        self._cache: tuple[tuple[int, int], dict[tuple[login.ViewerRole, frozenset[str], str], str]] = ((-1, 0), {})

    def asgi(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/", self.page),
                Route("/login", self.redeem),
                Route("/logout", self.logout, methods=["POST"]),
                Route("/events", self.events),
                Route("/healthz", self.health),
                Route("/actions/agent-state", self.agent_state, methods=["POST"]),
                Route("/actions/agent-tenants", self.agent_tenants, methods=["POST"]),
                Route("/actions/overflow-threshold", self.overflow_threshold, methods=["POST"]),
                Mount("/static", StaticFiles(directory=STATIC), name="static"),
            ]
        )

    def viewer(self, request: Request) -> login.Viewer | None:
        cookie = request.cookies.get(login.COOKIE, "")
        if not cookie:
            return None
        try:
            return login.viewer_of_session(self.keys, cookie, self.clock())
        except login.LoginRefused:
            return None

    async def health(self, request: Request) -> Response:
        return PlainTextResponse("ok")

    async def page(self, request: Request) -> Response:
        if self.viewer(request) is None:
            return PlainTextResponse(
                "Not logged in. Ask for a login link: kcc wallboard link", status_code=401, headers=HEADERS
            )
        return FileResponse(os.path.join(STATIC, "index.html"), headers=HEADERS)

    async def redeem(self, request: Request) -> Response:
        try:
            token = request.query_params.get("token", "")
            viewer = await login.redeem_link(self.keys, self.bus, self.used_links, token)
        except login.LoginRefused as exc:
            return PlainTextResponse(str(exc), status_code=403, headers=HEADERS)
        except login.LoginUnavailable as exc:
            log.warning("wallboard: a login could not be checked: %s", exc)
            return PlainTextResponse(
                "the wallboard cannot check this link just now; open it again in a minute",
                status_code=503,
                headers={**HEADERS, "Retry-After": "30"},
            )
        log.info("wallboard: login of %s (%s)", viewer.subject, viewer.role.value)
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.set_cookie(
            login.COOKIE,
            login.session_cookie(self.keys, viewer),
            max_age=login.SESSION_TTL_SECONDS,
            httponly=True,
            samesite="strict",
            secure=self.secure_cookie,
        )
        return response

    async def logout(self, request: Request) -> Response:
        response = RedirectResponse("/", status_code=303, headers=HEADERS)
        response.delete_cookie(login.COOKIE)
        return response

    async def events(self, request: Request) -> Response:
        viewer = self.viewer(request)
        if viewer is None:
            return PlainTextResponse("not logged in", status_code=401, headers=HEADERS)
        return StreamingResponse(self._stream(viewer), media_type="text/event-stream", headers=HEADERS)

    async def _stream(self, viewer: login.Viewer) -> AsyncIterator[str]:
        yield f"retry: {RECONNECT_MS}\n\n"
        seen, last = -1, ""
        while not self.feed.stopped and self.clock() < viewer.expires_at:
            version = await self.feed.wait_change(seen, min(HEARTBEAT_SECONDS, viewer.expires_at - self.clock()))
            if version == seen:
                yield ": heartbeat\n\n"
                continue
            seen = version
            data = self._rendered(viewer, version)
            if data != last:
                yield f"data: {data}\n\n"
                last = data
            await asyncio.sleep(MIN_GAP_SECONDS)

    def _rendered(self, viewer: login.Viewer, version: int) -> str:
        """The page's JSON, made once per board version for all pages that see the same."""
        scope = (viewer.role, viewer.tenants, viewer.department)
        minute = int(time.time() // 60)
        if self._cache[0] != (version, minute):
            self._cache = ((version, minute), {})
        pages = self._cache[1]
        if scope not in pages:
            pages[scope] = json.dumps(view.render(self.feed.board, viewer, minute), separators=(",", ":"))
        return pages[scope]

    # The trafficer's actions ---------------------------------------------------------------

    async def _acting(self, request: Request) -> tuple[login.Viewer, dict[str, Any]]:
        """The viewer if it may act, and the JSON body; a form post from another site cannot send JSON."""
        viewer = self.viewer(request)
        if viewer is None:
            raise ActionRefused(401, "not logged in")
        if not viewer.may_act:
            raise ActionRefused(403, "only a trafficer may change agents and overflow")
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise ActionRefused(415, "send JSON")
        try:
            body = await request.json()
        except ValueError:
            raise ActionRefused(400, "the body is not JSON") from None
        if not isinstance(body, dict):
            raise ActionRefused(400, "the body must be a JSON object")
        return viewer, body

    def _as(self, viewer: login.Viewer) -> tuple[tuple[str, str], ...]:
        """The call is made as the viewer, so routing's audit trail names who steered."""
        return self.feed.metadata(f"wallboard:{viewer.subject}", auth.Role.PLATFORM_ADMIN)

    async def _act(self, request: Request, call: Any) -> Response:
        try:
            viewer, body = await self._acting(request)
            await call(viewer, body)
        except ActionRefused as exc:
            return JSONResponse({"error": exc.message}, status_code=exc.status, headers=HEADERS)
        except grpc.aio.AioRpcError as exc:
            info = error_info(exc)
            reason = info.reason if info is not None else exc.code().name
            return JSONResponse({"error": exc.details(), "reason": reason}, status_code=_status(exc), headers=HEADERS)
        await self.feed.refresh_agents()
        return JSONResponse({"ok": True}, headers=HEADERS)

    async def agent_state(self, request: Request) -> Response:
        async def call(viewer: login.Viewer, body: dict[str, Any]) -> None:
            state = str(body.get("state", ""))
            if state not in AGENT_STATES:
                raise ActionRefused(400, f"state must be one of {', '.join(sorted(AGENT_STATES))}")
            await self.feed.routing.SetAgentState(
                rt.SetAgentStateRequest(name=_agent_name(body), state=rt.Agent.State.Value(f"STATE_{state}")),
                metadata=self._as(viewer),
                timeout=10,
            )
            log.info("wallboard: %s set %s to %s", viewer.subject, _agent_name(body), state)

        return await self._act(request, call)

    async def agent_tenants(self, request: Request) -> Response:
        async def call(viewer: login.Viewer, body: dict[str, Any]) -> None:
            agent = rt.Agent(
                name=_agent_name(body),
                tenants=[f"tenants/{t}" for t in _tenant_list(body, "tenants")],
                overflow_tenants=[f"tenants/{t}" for t in _tenant_list(body, "overflow_tenants")],
            )
            mask = field_mask_pb2.FieldMask(paths=["tenants", "overflow_tenants"])
            await self.feed.routing.UpdateAgent(
                rt.UpdateAgentRequest(agent=agent, update_mask=mask), metadata=self._as(viewer), timeout=10
            )
            log.info("wallboard: %s moved %s", viewer.subject, agent.name)

        return await self._act(request, call)

    async def overflow_threshold(self, request: Request) -> Response:
        async def call(viewer: login.Viewer, body: dict[str, Any]) -> None:
            seconds = body.get("seconds")
            if not isinstance(seconds, int) or isinstance(seconds, bool):
                raise ActionRefused(400, "seconds must be a whole number")
            tenant = str(body.get("tenant", ""))
            await self.feed.routing.SetOverflowThreshold(
                rt.SetOverflowThresholdRequest(tenant=f"tenants/{tenant}", seconds=seconds),
                metadata=self._as(viewer),
                timeout=10,
            )
            log.info("wallboard: %s set the overflow threshold of %s to %d s", viewer.subject, tenant, seconds)

        return await self._act(request, call)


class ActionRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _agent_name(body: dict[str, Any]) -> str:
    agent = body.get("agent")
    if not isinstance(agent, str) or not agent:
        raise ActionRefused(400, "name the agent")
    return f"agents/{agent}"


def _tenant_list(body: dict[str, Any], key: str) -> list[str]:
    tenants = body.get(key, [])
    if not isinstance(tenants, list) or not all(isinstance(t, str) for t in tenants):
        raise ActionRefused(400, f"{key} must be a list of gemeente ids")
    return list(tenants)


def _status(exc: grpc.aio.AioRpcError) -> int:
    return {
        grpc.StatusCode.INVALID_ARGUMENT: 400,
        grpc.StatusCode.NOT_FOUND: 404,
        grpc.StatusCode.PERMISSION_DENIED: 403,
        grpc.StatusCode.UNAUTHENTICATED: 401,
        grpc.StatusCode.FAILED_PRECONDITION: 409,
    }.get(exc.code(), 502)


class WallboardApp:
    """The process: the feed, the used-links bucket, and uvicorn on KCC_WALLBOARD_PORT."""

    def __init__(self, settings: Settings | None = None, clock: Callable[[], float] = time.time) -> None:
        """`clock`: sessions end by it (tests move it past a session's end instead of waiting)."""
        self.settings = settings or Settings()
        self.clock = clock
        self.port = 0
        self._server: uvicorn.Server | None = None
        self._serving: asyncio.Task[None] | None = None

    async def start(self, bind_port: int | None = None) -> int:
        production.check(self.settings, "wallboard")  # before anything binds or connects
        self.bus = await EventBus.connect(self.settings, "kcc-wallboard")
        used_links = await self.bus.key_value(login.USED_LINKS_BUCKET)
        self.feed = Feed(self.settings)
        self.feed.start()
        config = uvicorn.Config(
            Wallboard(self.settings, self.feed, self.bus, used_links, self.clock).asgi(),
            host=self.settings.host,
            port=port() if bind_port is None else bind_port,
            log_level="warning",
            access_log=False,  # a login link's token is in its query string
            lifespan="off",
            timeout_graceful_shutdown=2,
            # HTTPS with the services' certificate when one is configured (production off loopback)
            ssl_certfile=self.settings.tls_cert or None,
            ssl_keyfile=self.settings.tls_key or None,
        )
        self._server = uvicorn.Server(config)
        self._serving = asyncio.create_task(self._server.serve())
        while not self._server.started:
            if self._serving.done():
                await self.stop()
                raise SystemExit(f"kcc wallboard: cannot listen on {self.settings.host}:{config.port}")
            await asyncio.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        log.info("wallboard serving on http://%s:%d/", self.settings.host, self.port)
        return self.port

    async def stop(self) -> None:
        await self.feed.stop()  # ends the pages' event streams
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._serving
        await self.bus.close()

    async def serve_forever(self) -> None:
        """Until SIGINT or SIGTERM, which uvicorn catches: it drains the connections and ends."""
        await self.start()
        assert self._serving is not None
        await self._serving
        await self.stop()
