"""Two dispatcher processes, each as the webhooks NATS user; the one delivering is killed mid-run.

The other takes the subscription over: every event reaches the receiver, in order, and the only
duplicate allowed is the event that was in flight when the process died (posted, not acked).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from kcc.webhooks.v1 import webhooks_pb2_grpc
from services.common.config import ROOT, Settings
from services.common.events import EventBus
from services.common.natsauth import LocalPasswords
from services.common.natsserver import NatsServer, NatsServerError, free_port
from services.launcher import wait_healthy
from services.webhooks.store import LEASES, key
from tests.builders import eventually
from tests.conftest import unavailable
from tests.webhook_receiver import Receiver, running
from tests.webhooks_kit import NIJMEGEN, SECRET, Metadata, publish_callback, subscribe

TIMINGS = {
    "KCC_WEBHOOK_FIRST_BACKOFF_SECONDS": "0.05",
    "KCC_WEBHOOK_MAX_BACKOFF_SECONDS": "0.3",
    "KCC_WEBHOOK_POST_TIMEOUT_SECONDS": "1",
    "KCC_WEBHOOK_ACK_WAIT_SECONDS": "3",
    "KCC_WEBHOOK_LEASE_SECONDS": "3",
}


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[tuple[NatsServer, LocalPasswords]]:
    """A nats-server with the platform's users and permissions (services/common/natsauth.py)."""
    passwords = LocalPasswords(tmp_path / "var", environ={})
    server = NatsServer(tmp_path / "nats", config=passwords.server_config())
    try:
        server.start()
    except (NatsServerError, OSError) as exc:
        unavailable(f"cannot start nats-server: {exc}")
    try:
        yield server, passwords
    finally:
        server.close()


def start_replica(tmp_path: Path, url: str, password: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {
        **os.environ,
        **TIMINGS,
        "KCC_NATS_URL": url,
        "KCC_NATS_USER": "webhooks",
        "KCC_NATS_PASSWORD": password,
        "KCC_DATA_DIR": str(tmp_path / "var"),
        "KCC_WEBHOOKS_PORT": str(port),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.launcher", "webhooks"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    return proc, port


async def holder_pid(bus: EventBus) -> int:
    """The process holding the subscription's lease (its holder id is host-pid-random)."""
    entry = await (await bus.js.key_value(LEASES)).get(key(NIJMEGEN, "crm"))
    holder = json.loads(entry.value or b"{}")
    assert holder["expires_at"] > time.time()
    return int(holder["holder"].split("-")[-2])


async def test_killing_the_delivering_replica_loses_nothing_and_repeats_at_most_the_event_in_flight(
    tmp_path: Path, secured_nats: tuple[NatsServer, LocalPasswords], admin: Metadata
) -> None:
    server, passwords = secured_nats
    settings = Settings(data_dir=tmp_path / "var", nats_url=server.url)
    replicas = [start_replica(tmp_path, server.url, passwords.get("webhooks")) for _ in range(2)]
    publisher = await EventBus.connect(
        Settings(nats_url=server.url, nats_user="callbacks", nats_password=passwords.get("callbacks")), "test"
    )
    observer = await EventBus.connect(
        Settings(nats_url=server.url, nats_user="webhooks", nats_password=passwords.get("webhooks")), "observer"
    )
    try:
        for _proc, port in replicas:
            await asyncio.to_thread(wait_healthy, f"127.0.0.1:{port}", 60.0, settings)
        async with (
            running(Receiver(SECRET)) as receiver,
            grpc.aio.insecure_channel(f"127.0.0.1:{replicas[1][1]}") as channel,
        ):
            stub = webhooks_pb2_grpc.WebhookServiceStub(channel)
            await subscribe(stub, admin, receiver.url, ["callback.*"])
            wanted: list[str] = []

            async def publish() -> None:  # a steady flow, before, during and after the kill
                for i in range(60):
                    wanted.append(await publish_callback(publisher, NIJMEGEN, "requested", i))
                    await asyncio.sleep(0.02)

            flow = asyncio.create_task(publish())
            await eventually(lambda: len(receiver.ids()) >= 10)
            victim = await holder_pid(observer)
            by_pid = {proc.pid: proc for proc, _port in replicas}
            assert victim in by_pid
            os.kill(victim, signal.SIGKILL)
            killed_at = len(receiver.received)
            await flow
            assert len(receiver.ids()) < len(wanted)  # killed mid-run, with events still to come
            await eventually(lambda: len(receiver.ids()) == len(wanted), within=40)

            assert receiver.ids() == wanted
            assert receiver.bad_signatures == 0
            # one in flight at a time: the one posted as it died, or one already on the wire
            in_flight = {r.event["id"] for r in receiver.received[max(0, killed_at - 1) : killed_at + 1]}
            assert len(receiver.duplicates()) <= 1 and set(receiver.duplicates()) <= in_flight
            survivor = next(p for p in by_pid if p != victim)
            assert await holder_pid(observer) == survivor
    finally:
        await publisher.close()
        await observer.close()
        for proc, _port in replicas:
            if proc.poll() is None:
                proc.terminate()
        for proc, _port in replicas:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
