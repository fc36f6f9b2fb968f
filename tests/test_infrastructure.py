"""The fixtures in conftest.py start real servers, and they behave as the other tests assume."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from nats.js.api import StorageType
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, inspect, select

from services.common.natsserver import NatsServer, NatsServerError, free_ports
from tests.support.postgres import EmbeddedPostgres

pytestmark = pytest.mark.timeout(60)


async def _connect(url: str, **options: object) -> Client:
    async def quiet(_exc: Exception) -> None:  # disconnects are the point of these tests
        pass

    return await nats.connect(url, connect_timeout=2, error_cb=quiet, **options)


# -- NATS ---------------------------------------------------------------------------------------


def test_chosen_ports_are_never_ones_the_system_hands_out_meanwhile() -> None:
    """Below the ephemeral range, so a test beside this one binding port 0 cannot take one before
    its server binds it (a `kcc up --cluster` replica once could not bind its port in a full run)."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if not ephemeral.is_file():
        pytest.skip("no Linux ephemeral port range here: ports come from the system")
    low = int(ephemeral.read_text().split()[0])
    ports = free_ports(50)
    assert len(set(ports)) == 50 and all(port < low for port in ports)


async def test_nats_server_is_ours_on_loopback(nats_server: NatsServer, nats_url: str) -> None:
    assert nats_url == f"nats://127.0.0.1:{nats_server.port}"
    assert nats_server.port != 4222
    assert nats_server.store_dir.is_dir()
    nc = await _connect(nats_url)
    try:
        assert nc.connected_url is not None and nc.connected_url.port == nats_server.port
        info = await nc.jetstream().account_info()  # fails unless JetStream is on
        assert info.streams == 0
    finally:
        await nc.close()


async def test_acked_message_survives_kill_and_restart(nats_server: NatsServer) -> None:
    reconnected = asyncio.Event()

    async def on_reconnect() -> None:
        reconnected.set()

    nc = await _connect(
        nats_server.url,
        reconnected_cb=on_reconnect,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=100,
    )
    try:
        js = nc.jetstream(timeout=5)
        await js.add_stream(name="EVENTS", subjects=["events.>"], storage=StorageType.FILE)
        ack = await js.publish("events.created", b'{"id": 1}', headers={"Nats-Msg-Id": "evt-1", "Kcc-Tenant": "0363"})
        assert ack.stream == "EVENTS"
        port, pid = nats_server.port, nats_server.pid

        nats_server.kill()  # SIGKILL right after the ack: no graceful flush
        assert not nats_server.running
        nats_server.restart()
        assert nats_server.port == port and nats_server.pid != pid

        # Requests sent before the client noticed the crash are lost; wait for the reconnect.
        await asyncio.wait_for(reconnected.wait(), timeout=10)
        msg = await js.get_msg("EVENTS", ack.seq)
        assert msg.data == b'{"id": 1}'
        assert msg.headers is not None and msg.headers["Kcc-Tenant"] == "0363"
        assert (await js.stream_info("EVENTS")).state.messages == 1
        # The duplicate window survived too: the same Msg-Id is not stored twice.
        again = await js.publish("events.created", b'{"id": 1}', headers={"Nats-Msg-Id": "evt-1"})
        assert again.duplicate and again.seq == ack.seq
    finally:
        await nc.close()


def test_graceful_restart_keeps_port_and_store(nats_server: NatsServer) -> None:
    port = nats_server.port
    nats_server.restart()
    assert nats_server.port == port
    assert nats_server.running


def test_taken_port_is_a_clear_error(nats_server: NatsServer) -> None:
    other = NatsServer(port=nats_server.port, start_timeout=5)
    try:
        with pytest.raises(NatsServerError, match="exited") as failure:
            other.start()
        assert "address already in use" in str(failure.value)  # the log tail is in the error
        assert not other.running
    finally:
        other.close()


@pytest.mark.parametrize("nats_server", [{"config": "max_payload: 4096"}], indirect=True)
async def test_extra_config_is_applied(nats_url: str) -> None:
    nc = await _connect(nats_url)
    try:
        assert nc.max_payload == 4096
    finally:
        await nc.close()


# -- Databases ----------------------------------------------------------------------------------

probe = Table(
    "probe",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String(50), nullable=False),
)


def _round_trip(url: str) -> str:
    engine = create_engine(url)
    try:
        assert inspect(engine).get_table_names() == [], "the database is not empty"
        probe.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(probe.insert(), [{"name": "Utrecht"}, {"name": "Zwolle"}])
        with engine.connect() as conn:
            names = conn.execute(select(probe.c.name).order_by(probe.c.id)).scalars().all()
        assert names == ["Utrecht", "Zwolle"]
        return engine.dialect.name
    finally:
        engine.dispose()


@pytest.mark.parametrize("run", [1, 2])  # the second run would see the first one's table
def test_postgres_url_is_a_fresh_database(postgres_url: str, run: int) -> None:
    assert postgres_url.startswith("postgresql+psycopg://")
    assert _round_trip(postgres_url) == "postgresql"


def test_postgres_server_runs_postgresql_18(postgres_server: EmbeddedPostgres) -> None:
    engine = create_engine(postgres_server.url)
    try:
        with engine.connect() as conn:
            version = conn.exec_driver_sql("SHOW server_version").scalar_one()
            fsync = conn.exec_driver_sql("SHOW fsync").scalar_one()
    finally:
        engine.dispose()
    assert version.startswith("18.")
    assert fsync == "off"


def test_database_url_covers_both_backends(database_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["database_url"]
    assert _round_trip(database_url) == backend
    assert request.node.get_closest_marker("postgres") is not None or backend == "sqlite"
