"""Webhook delivery rate: a partner coming back to a backlog, for one subscription and for several.

Everything runs on this machine: a nats-server we start ourselves, the webhooks service in this
process, and a receiver (Starlette under uvicorn, verifying every signature) in a process of its
own, as a partner's would be. The backlog is published first, then the
subscriptions are resumed and the clock runs until the receiver has every event. Delivery is
one event in flight per subscription (order), so one subscription's rate is bounded by its round
trips (fetch, post, ack); subscriptions run side by side. The CPU this process (the dispatcher)
spends per event is printed too: on a shared machine it says more than the rate.
Run: .venv/bin/python bench/webhooks.py [--events 2000] [--subscriptions 1 10]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kcc.events.v1 import events_pb2
from kcc.webhooks.v1 import webhooks_pb2 as pb
from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common import auth, client, events
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsServer, free_port
from services.webhooks.app import WebhooksApp
from services.webhooks.delivery import Policy

SECRET = "bench-secret-0123456789abcdef"


class Counter:
    """The receiver: verifies each signature and counts; GET /count tells the bench how far it is."""

    def __init__(self) -> None:
        self.taken = 0
        self.bad = 0

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        signed = f"{request.headers['webhook-id']}.{request.headers['webhook-timestamp']}.".encode() + body
        digest = base64.b64encode(hmac.new(SECRET.encode(), signed, hashlib.sha256).digest()).decode()
        if request.headers["webhook-signature"] != "v1," + digest:
            self.bad += 1
            return Response(status_code=401)
        self.taken += 1
        return Response(status_code=204)

    async def count(self, _request: Request) -> Response:
        return Response(f"{self.taken} {self.bad}")


def serve_receiver(port: int) -> None:
    counter = Counter()
    routes = [Route("/hook", counter.hook, methods=["POST"]), Route("/count", counter.count)]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning", lifespan="off")


async def counted(http: httpx.AsyncClient, port: int) -> tuple[int, int]:
    taken, bad = (await http.get(f"http://127.0.0.1:{port}/count")).text.split()
    return int(taken), int(bad)


async def run(subscriptions: int, count: int, workdir: Path, nats: NatsServer, port: int) -> tuple[float, float, int]:
    """Seconds until the receiver has every event, this process's CPU seconds meanwhile, bad signatures."""
    settings = Settings(data_dir=workdir / f"var-{subscriptions}", nats_url=nats.url)
    url = f"http://127.0.0.1:{port}/hook"
    http = httpx.AsyncClient()
    for _attempt in range(100):  # the receiver process starting
        try:
            await counted(http, port)
            break
        except httpx.TransportError:
            await asyncio.sleep(0.1)
    app = WebhooksApp(settings, Policy())
    await app.start(0)
    bus = await EventBus.connect(settings, "bench")
    md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.PLATFORM_ADMIN))
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") as channel:
            stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
            tenants = [f"gm{1000 + i:04d}" for i in range(subscriptions)]
            names = []
            for tenant in tenants:
                created = await stub.CreateSubscription(
                    pb.CreateSubscriptionRequest(
                        parent=f"tenants/{tenant}",
                        subscription_id="bench",
                        subscription=pb.Subscription(
                            url=url, secret=SECRET, event_types=["callback.*"], state=pb.Subscription.STATE_PAUSED
                        ),
                    ),
                    metadata=md,
                )
                names.append(created.name)
            for i in range(count):  # the backlog
                for tenant in tenants:
                    env = events.envelope(
                        tenant,
                        callback_changed=events_pb2.CallbackChanged(
                            callback=f"tenants/{tenant}/callbacks/cb-{i}", change="requested", status="REQUESTED"
                        ),
                    )
                    await bus.publish(events.subject(tenant, "callback", "requested"), env)
            started, cpu = time.perf_counter(), time.process_time()
            for name in names:
                await stub.ResumeSubscription(pb.ResumeSubscriptionRequest(name=name), metadata=md)
            for _poll in range(2400):  # at most 10 minutes
                taken = await counted(http, port)
                if taken[0] >= subscriptions * count:
                    break
                await asyncio.sleep(0.25)
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    finally:
        await http.aclose()
        await bus.close()
        await app.stop()
    return elapsed, cpu, taken[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000, help="backlog per subscription")
    parser.add_argument("--subscriptions", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--receiver", type=int, default=0, help=argparse.SUPPRESS)  # the receiver process
    args = parser.parse_args()
    if args.receiver:
        serve_receiver(args.receiver)
        return
    with tempfile.TemporaryDirectory() as tmp:
        for subscriptions in args.subscriptions:
            nats = NatsServer(Path(tmp) / f"nats-{subscriptions}")
            nats.start()
            port = free_port()
            receiver = subprocess.Popen([sys.executable, __file__, "--receiver", str(port)])
            try:
                elapsed, cpu, bad = asyncio.run(run(subscriptions, args.events, Path(tmp), nats, port))
            finally:
                receiver.terminate()
                receiver.wait(10)
                nats.close()
            total = subscriptions * args.events
            print(
                f"{subscriptions:3d} subscription(s) x {args.events} events: {total} delivered in {elapsed:.1f} s"
                f" = {total / elapsed:,.0f} events/s ({args.events / elapsed:,.0f} per subscription),"
                f" dispatcher CPU {cpu / total * 1000:.2f} ms per event, bad signatures {bad}",
                flush=True,
            )


if __name__ == "__main__":
    main()
