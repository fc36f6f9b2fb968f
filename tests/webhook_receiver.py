"""A partner's webhook receiver for the tests: an ASGI app under uvicorn on a free loopback port.

It verifies every signature itself (the README's recipe, not the platform's code), records
each request in arrival order with the answer it gave, and fails on purpose when told to:
`down` answers 503 without looking, `lose_answers` takes the event and then answers 503 (as a
receiver whose answer is lost), `fail_ids` answers 503 for chosen event ids, `stall` takes the
event but answers only after `stall_seconds` (past the platform's time-out).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

TOLERANCE_SECONDS = 300


@dataclass
class Received:
    event: dict[str, Any]
    headers: dict[str, str]
    body: bytes
    answered: int  # the HTTP status the receiver gave
    late: bool = False  # given after the platform's time-out: the platform saw no answer


@dataclass
class Receiver:
    secret: str
    down: bool = False
    lose_answers: int = 0  # this many events are taken, then answered 503
    fail_ids: set[str] = field(default_factory=set)
    stall: int = 0
    stall_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    refused: int = 0  # requests answered 503 while down
    bad_signatures: int = 0
    url: str = ""

    def verify(self, request_headers: dict[str, str], body: bytes) -> bool:
        msg_id, timestamp = request_headers["webhook-id"], request_headers["webhook-timestamp"]
        if abs(time.time() - int(timestamp)) > TOLERANCE_SECONDS:
            return False
        signed = f"{msg_id}.{timestamp}.".encode() + body
        key = base64.b64decode(self.secret[6:]) if self.secret.startswith("whsec_") else self.secret.encode()
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(
            hmac.compare_digest(v, expected)
            for version, _, v in (s.partition(",") for s in request_headers["webhook-signature"].split())
            if version == "v1"
        )

    async def hook(self, request: Request) -> Response:
        if self.down:
            self.refused += 1
            return Response(status_code=503)
        body = await request.body()
        headers = dict(request.headers)
        if not self.verify(headers, body):
            self.bad_signatures += 1
            return Response(status_code=401)
        event = json.loads(body)
        status = 200
        if self.lose_answers > 0:
            self.lose_answers -= 1
            status = 503
        elif event["id"] in self.fail_ids:
            status = 503
        late = self.stall > 0
        self.received.append(Received(event, headers, body, status, late))
        if late:
            self.stall -= 1
            await asyncio.sleep(self.stall_seconds)  # the partner's slow answer, not the test waiting
        return Response(status_code=status)

    # -- what the tests count ---------------------------------------------------------------------

    def ids(self) -> list[str]:
        """Event ids in the order first taken with a 2xx."""
        seen: list[str] = []
        for r in self.received:
            if r.answered == 200 and r.event["id"] not in seen:
                seen.append(r.event["id"])
        return seen

    def duplicates(self) -> list[str]:
        """Ids taken more than once (answered 2xx, in time or not)."""
        ok = [r.event["id"] for r in self.received if r.answered == 200]
        return sorted({i for i in ok if ok.count(i) > 1})

    def failed_before(self, event_id: str) -> bool:
        """Whether the receiver saw this id answered with an error, or too late, before it took it."""
        return any(r.event["id"] == event_id and (r.answered != 200 or r.late) for r in self.received)


@asynccontextmanager
async def running(receiver: Receiver) -> AsyncIterator[Receiver]:
    app = Starlette(routes=[Route("/hook", receiver.hook, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
