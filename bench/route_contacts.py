"""RouteContact throughput and latency at 64 concurrent callers, against the bare stack in the same run.

Loads a catalogue for every gemeente in services/data/gemeenten.csv (the 450 UPL gemeente
products each, default department mapping) as snapshots in JetStream KV, starts the
routing service as its own process, and drives it over gRPC. The bare stack is a
gRPC echo server, also its own process, that publishes one JetStream message per
call: the floor any routed contact pays. Both are driven by the same client code with
the same request bytes and metadata, in alternating rounds so that a noisy neighbour
hits both sides alike; the figures are medians over the rounds.

The questions are the citizen questions of the evaluation sets (tests/data/questions-holdout.tsv,
and ../shared/data/eval/questions-dev.tsv when present), each sent to a random gemeente.
Routing caches recognition results per catalogue; `--no-recognition-cache` turns that
off (KCC_RECOGNITION_CACHE=0) to show the cost when no question text ever repeats.
Run: .venv/bin/python bench/route_contacts.py
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
from services.common import auth, client, lexicon, snapshots
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
REPO = Path(__file__).resolve().parents[1]
QUESTION_FILES = (
    REPO / "tests" / "data" / "questions-holdout.tsv",
    REPO.parent / "shared" / "data" / "eval" / "questions-dev.tsv",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_questions() -> list[str]:
    """Question texts (first column) of the evaluation files that exist; `#` lines are comments."""
    questions = []
    for path in QUESTION_FILES:
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip() and not line.startswith("#"):
                    questions.append(line.partition("\t")[0].strip())
    if not questions:
        raise SystemExit(f"no question file found: {', '.join(map(str, QUESTION_FILES))}")
    return questions


async def load_catalogues(nats_url: str) -> tuple[int, list[tuple[str, str]]]:
    """Writes one snapshot per gemeente; returns their number and (tenant, question) pairs to route."""
    products = read_upl_csv()
    phrases = lexicon.default()  # as tenancy compiles it for a tenant that keeps the default lexicon
    items = [
        ProductSnapshot(
            uri=p.uri,
            slug=slug(p.uri),
            name=p.name,
            department=default_department_for(p.name),
            handling="CALLBACK",
            synonyms=phrases.phrases.get(slug(p.uri), ()),
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
            lexicon_version=phrases.version,
            departments=dict(DEFAULT_DEPARTMENTS),
            fallback_department=FALLBACK_DEPARTMENT,
            products=items,
        )
        await kv.put(tenant, snapshot.to_json())
    await bus.close()
    rng = random.Random(7)
    questions = read_questions()
    return len(tenants), [(rng.choice(tenants)[0], rng.choice(questions)) for _ in range(2000)]


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


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (Linux /proc); NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bench(requests: int, concurrency: int, rounds: int, recognition_cache: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as nats_server:
        began = time.perf_counter()
        loaded, work = await load_catalogues(nats_server.url)
        questions = len({q for _, q in work})
        print(f"loaded {loaded} gemeenten's catalogues in {time.perf_counter() - began:.1f} s; {questions} questions")
        settings = Settings(data_dir=Path(tmp) / "var", nats_url=nats_server.url)
        routing_port, echo_port = free_port(), free_port()
        env = {
            **os.environ,
            "KCC_NATS_URL": nats_server.url,
            "KCC_DATA_DIR": str(settings.data_dir),
            "KCC_ROUTING_PORT": str(routing_port),
            "KCC_RECOGNITION_CACHE": "" if recognition_cache else "0",
        }
        procs = [
            subprocess.Popen(  # noqa: ASYNC220
                [sys.executable, "-m", "services.launcher", "routing"], env=env, stderr=subprocess.DEVNULL
            ),
            subprocess.Popen([sys.executable, __file__, "--echo-server", str(echo_port), nats_server.url]),  # noqa: ASYNC220
        ]
        sides: dict[str, list[tuple[float, list[float], float, float]]] = {"route": [], "bare": []}
        try:
            began = time.perf_counter()
            wait_healthy(f"127.0.0.1:{routing_port}", 300, process=procs[0])
            print(f"routing ready in {time.perf_counter() - began:.1f} s (all catalogues indexed)")
            md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.SERVICE))
            async with (
                grpc.aio.insecure_channel(f"127.0.0.1:{routing_port}") as ch,
                grpc.aio.insecure_channel(f"127.0.0.1:{echo_port}") as echo_ch,
            ):
                # The same client pattern for both: same request message, serializer and metadata.
                route_call = routing_pb2_grpc.RoutingServiceStub(ch).RouteContact
                echo = echo_ch.unary_unary(ECHO_METHOD, request_serializer=rt.RouteContactRequest.SerializeToString)
                await wait_echo(echo_ch.unary_unary(ECHO_METHOD))

                def request(i: int) -> rt.RouteContactRequest:
                    tenant, question = work[i % len(work)]
                    return rt.RouteContactRequest(
                        tenant=f"tenants/{tenant}",
                        channel=common_pb2.CHANNEL_PHONE,
                        question=question,
                        citizen_key=f"k{i}",
                        request_id=f"bench-{i}",  # as the README's integration example: retries are safe
                    )

                offset = 0

                async def route(i: int) -> None:
                    await route_call(request(offset + i), metadata=md)

                async def bare(i: int) -> None:
                    await echo(request(offset + i), metadata=md)

                calls = {"route": (route, procs[0].pid), "bare": (bare, procs[1].pid)}
                for call, _ in calls.values():  # warm-up
                    await drive(call, 500, concurrency)
                    offset += 500
                for r in range(rounds):
                    for side in ("route", "bare") if r % 2 == 0 else ("bare", "route"):
                        call, pid = calls[side]
                        cpu, own = cpu_seconds(pid), time.process_time()
                        rate, lat = await drive(call, requests, concurrency)
                        server_ms = (cpu_seconds(pid) - cpu) / requests * 1000
                        client_ms = (time.process_time() - own) / requests * 1000
                        sides[side].append((rate, lat, server_ms, client_ms))
                        offset += requests
                    print(
                        f"round {r + 1}: route {sides['route'][-1][0]:.0f}/s, bare {sides['bare'][-1][0]:.0f}/s, "
                        f"ratio {sides['route'][-1][0] / sides['bare'][-1][0]:.2f}"
                    )
        finally:
            for proc in procs:
                proc.kill()
                proc.wait()

    def summary(side: str) -> tuple[float, list[float], float, float]:
        runs = sides[side]
        return (
            statistics.median(r[0] for r in runs),
            [x for r in runs for x in r[1]],
            statistics.median(r[2] for r in runs),
            statistics.median(r[3] for r in runs),
        )

    ours, lat, ours_cpu, ours_client = summary("route")
    base, base_lat, base_cpu, base_client = summary("bare")
    print(
        f"CPU per call: routing server {ours_cpu:.3f} ms, bare server {base_cpu:.3f} ms; "
        f"client {ours_client:.3f} ms vs {base_client:.3f} ms"
    )
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
    parser.add_argument("--requests", type=int, default=3000, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds of each side")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--no-recognition-cache", action="store_true", help="route with KCC_RECOGNITION_CACHE=0")
    parser.add_argument("--echo-server", nargs=2, metavar=("PORT", "NATS_URL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.echo_server:
        asyncio.run(echo_server(int(args.echo_server[0]), args.echo_server[1]))
    else:
        asyncio.run(bench(args.requests, args.concurrency, args.rounds, not args.no_recognition_cache))
