"""RouteContact throughput and latency at 64 concurrent callers, against the bare stack in the same run.

Loads a catalogue for every gemeente in data/gemeenten.csv (the 450 UPL gemeente
products each, default department mapping) as snapshots in JetStream KV, starts the
routing service as its own process, and drives it over gRPC. The bare stack is a
gRPC echo server, also its own process, that publishes one JetStream message per
call: the floor any routed contact pays. Run: .venv/bin/python bench/route_contacts.py
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import grpc
import nats

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client, snapshots
from services.common.config import DATA, Settings
from services.common.events import EventBus
from services.common.natsserver import NatsServer
from services.common.snapshots import ProductSnapshot, TenantSnapshot
from services.launcher import wait_healthy
from services.tenancy.catalogue import (
    DEFAULT_DEPARTMENTS,
    FALLBACK_DEPARTMENT,
    default_department_for,
    read_upl_csv,
    slug,
)

ECHO_METHOD = "/bench.Echo/Call"
PHRASES = ("ik heb een vraag over {}", "hoe zit het met {}", "{} aanvragen", "informatie over {} graag")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def load_catalogues(nats_url: str) -> list[tuple[str, str]]:
    """Writes one snapshot per gemeente; returns (tenant, question) pairs to route."""
    products = read_upl_csv()
    items = [
        ProductSnapshot(
            uri=p.uri, slug=slug(p.uri), name=p.name, department=default_department_for(p.name), handling="CALLBACK"
        )
        for p in products
    ]
    bus = await EventBus.connect(Settings(nats_url=nats_url), "bench-loader")
    kv = await snapshots.bucket(bus)
    with (DATA / "gemeenten.csv").open() as handle:
        tenants = [(row["gemeentecode"].lower(), row["naam"]) for row in csv.DictReader(handle)]
    for tenant, name in tenants:
        snapshot = TenantSnapshot(
            tenant=tenant,
            display_name=name,
            version=1,
            departments=dict(DEFAULT_DEPARTMENTS),
            fallback_department=FALLBACK_DEPARTMENT,
            products=items,
        )
        await kv.put(tenant, snapshot.to_json())
    await bus.close()
    rng = random.Random(7)
    return [(rng.choice(tenants)[0], rng.choice(PHRASES).format(rng.choice(products).name)) for _ in range(2000)]


async def drive(call, requests: int, concurrency: int) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
    """Runs `requests` calls with `concurrency` callers; returns (calls per second, latencies in ms)."""
    latencies: list[float] = []
    counter = iter(range(requests))

    async def caller() -> None:
        for i in counter:
            start = time.perf_counter()
            await call(i)
            latencies.append((time.perf_counter() - start) * 1000)

    began = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return requests / (time.perf_counter() - began), latencies


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


async def bench(requests: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as nats_server:
        began = time.perf_counter()
        work = await load_catalogues(nats_server.url)
        print(f"loaded {len({t for t, _ in work})} tenants' catalogues in {time.perf_counter() - began:.1f} s")
        settings = Settings(data_dir=Path(tmp) / "var", nats_url=nats_server.url)
        routing_port, echo_port = free_port(), free_port()
        env = {
            **os.environ,
            "KCC_NATS_URL": nats_server.url,
            "KCC_DATA_DIR": str(settings.data_dir),
            "KCC_ROUTING_PORT": str(routing_port),
        }
        procs = [
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "services.launcher", "routing"], env=env, stderr=subprocess.DEVNULL
            ),
            subprocess.Popen([sys.executable, __file__, "--echo-server", str(echo_port), nats_server.url]),  # noqa: ASYNC220
        ]
        try:
            began = time.perf_counter()
            wait_healthy(f"127.0.0.1:{routing_port}", 300)
            print(f"routing ready in {time.perf_counter() - began:.1f} s (all catalogues indexed)")
            md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.SERVICE))
            async with (
                grpc.aio.insecure_channel(f"127.0.0.1:{routing_port}") as ch,
                grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}") as echo_ch,
            ):
                stub = routing_pb2_grpc.RoutingServiceStub(ch)
                echo = echo_ch.unary_unary(ECHO_METHOD)
                await wait_echo(echo)

                async def route(i: int) -> None:
                    tenant, question = work[i % len(work)]
                    await stub.RouteContact(
                        rt.RouteContactRequest(
                            tenant=f"tenants/{tenant}",
                            channel=common_pb2.CHANNEL_PHONE,
                            question=question,
                            citizen_key=f"k{i}",
                        ),
                        metadata=md,
                    )

                async def bare(i: int) -> None:
                    await echo(
                        rt.RouteContactRequest(
                            tenant="tenants/gm0268", question=work[i % len(work)][1]
                        ).SerializeToString()
                    )

                await drive(route, 500, concurrency)  # warm-up
                await drive(bare, 500, concurrency)
                ours, lat = await drive(route, requests, concurrency)
                base, base_lat = await drive(bare, requests, concurrency)
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()
    print(f"bare stack: {base:.0f}/s p50 {pct(base_lat, 50):.2f} ms p99 {pct(base_lat, 99):.2f} ms")
    print(
        f"route_contacts: {ours:.0f}/s p50 {pct(lat, 50):.2f} ms p99 {pct(lat, 99):.2f} ms; "
        f"bare stack: {base:.0f}/s; ratio {ours / base:.2f}"
    )


async def wait_echo(echo) -> None:  # type: ignore[no-untyped-def]
    for _ in range(100):
        try:
            await echo(b"", timeout=1)
            return
        except grpc.RpcError:
            await asyncio.sleep(0.1)


async def echo_server(port: int, nats_url: str) -> None:
    """The bare stack: decode nothing, publish one JetStream message, answer."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    counter = 0

    async def call(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        nonlocal counter
        counter += 1
        await js.publish("kcc.bench.echo.call", request, headers={"Nats-Msg-Id": f"echo-{os.getpid()}-{counter}"})
        return request

    server = grpc.aio.server()
    handler = grpc.method_handlers_generic_handler("bench.Echo", {"Call": grpc.unary_unary_rpc_method_handler(call)})
    server.add_generic_rpc_handlers((handler,))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--echo-server", nargs=2, metavar=("PORT", "NATS_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_server(int(args.echo_server[0]), args.echo_server[1]))
    else:
        asyncio.run(bench(args.requests, args.concurrency))
