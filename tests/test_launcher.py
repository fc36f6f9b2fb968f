"""`kcc up --cluster` as a user runs it: three nats-server nodes, R3 streams, two replicas of each
service answering health, NATS users on every node, and everything gone after SIGTERM."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nats
import pytest

from services.common.config import ROOT, Settings
from services.common.events import STREAM
from services.common.natsauth import LocalPasswords
from services.common.natsserver import HOST, NatsServerError, find_nats_server, free_port
from services.launcher import REPLICA_PORT_OFFSET, SERVICES, nats_port, wait_healthy
from tests.conftest import unavailable

STARTUP_SECONDS = 90.0


def replica_ports() -> int:
    """A free port whose replica port (+ REPLICA_PORT_OFFSET) is free too."""
    while True:
        port = free_port()
        if port + REPLICA_PORT_OFFSET < 65536 and _free(port + REPLICA_PORT_OFFSET):
            return port


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


async def stream_replicas(url: str, password: str) -> int:
    """The KCC stream's replicas, read on one node as the routing service's user."""
    nc = await nats.connect(url, user="routing", password=password, allow_reconnect=False)
    try:
        return (await nc.jetstream().stream_info(STREAM)).config.num_replicas or 1
    finally:
        await nc.close()


@pytest.mark.long
def test_kcc_up_cluster_runs_three_nodes_and_two_replicas_and_stops_them_all(tmp_path: Path) -> None:
    try:
        find_nats_server()
    except NatsServerError as exc:
        unavailable(str(exc))
    ports = {service: replica_ports() for service in SERVICES}
    env = {
        **os.environ,
        "KCC_DATA_DIR": str(tmp_path / "var"),
        **{f"KCC_{service.upper()}_PORT": str(port) for service, port in ports.items()},
    }
    wallboard_port = env["KCC_WALLBOARD_PORT"] = str(replica_ports())
    errors = tmp_path / "stderr.log"  # the launcher's and its children's logs, shown if it fails
    with errors.open("w") as log:
        launcher = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "up", "--cluster", "--no-demo", "--nats-port", "0"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
    try:
        lines: list[str] = []
        deadline = time.monotonic() + STARTUP_SECONDS
        assert launcher.stdout is not None
        while not lines or not lines[-1].startswith("serving"):
            line = launcher.stdout.readline()
            if not line or time.monotonic() > deadline:
                tail = "\n".join(errors.read_text().splitlines()[-40:])
                pytest.fail(f"kcc up --cluster did not come up; it printed {lines}; its log ends:\n{tail}")
            lines.append(line.strip())
        output = "\n".join(lines)

        settings = Settings(data_dir=tmp_path / "var")
        for port in ports.values():
            for replica in (port, port + REPLICA_PORT_OFFSET):
                assert f"{HOST}:{replica} (pid" in output
                wait_healthy(f"{HOST}:{replica}", timeout=5, settings=settings)
        (link,) = re.findall(r"wallboard login \(one-time link\): (http://\S+/login\?token=\S+)", output)
        assert link.split("/login")[0] == f"http://{HOST}:{wallboard_port}"
        for replica in (int(wallboard_port), int(wallboard_port) + REPLICA_PORT_OFFSET):
            assert f"http://{HOST}:{replica}/ (pid" in output
            with urllib.request.urlopen(f"http://{HOST}:{replica}/healthz", timeout=5) as reply:
                assert reply.status == 200
        urls = re.findall(r"nats://[\d.]+:\d+", output)
        pids = [int(pid) for pid in re.findall(r"\(pid (\d+)\)", output)]
        assert len(urls) == 3 and len(pids) == 3 + 2 * len(SERVICES) + 2  # and two wallboards

        # Each node holds the users: the routing service's own pair reads the stream, on any node.
        password = LocalPasswords(tmp_path / "var").get("routing")
        assert [asyncio.run(stream_replicas(url, password)) for url in urls] == [3, 3, 3]

        launcher.send_signal(signal.SIGTERM)
        time.sleep(0.2)  # a second signal while it stops (a supervisor and a terminal) cuts nothing short
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(30) == 0
        stopped_by = time.monotonic() + 10
        while any(alive(pid) for pid in pids) and time.monotonic() < stopped_by:
            time.sleep(0.1)
        assert [pid for pid in pids if alive(pid)] == []
    finally:
        if launcher.poll() is None:
            launcher.kill()
            launcher.wait()


@pytest.mark.parametrize(
    ("given", "url", "port"),
    [
        (None, "", 4222),
        (None, "nats://127.0.0.1:4333", 4333),
        (None, "nats://localhost:4334,nats://localhost:4335", 4334),
        (4500, "nats://127.0.0.1:4333", 4500),
        (0, "", 0),
    ],
)
def test_kcc_up_starts_nats_where_kcc_nats_url_says_unless_given_a_port(
    given: int | None, url: str, port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KCC_NATS_URL", url)
    assert nats_port(given) == port


def test_kcc_up_refuses_a_kcc_nats_url_off_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KCC_NATS_URL", "nats://nats.example.nl:4222")
    with pytest.raises(SystemExit, match="another host"):
        nats_port(None)


def test_waiting_for_a_service_whose_process_exited_stops_at_once() -> None:
    """`kcc up` says which service died (a port taken, a bad setting) instead of waiting a minute for it."""
    died = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    died.wait(30)
    with pytest.raises(SystemExit, match="exited with code 3 before it became healthy"):
        wait_healthy(f"{HOST}:{free_port()}", timeout=30, process=died)


def test_a_service_whose_port_is_taken_says_so_without_a_traceback(tmp_path: Path, nats_url: str) -> None:
    """What `kcc up` shows above "exited with code 1" when a port is held (50051-50054 lie in Linux's
    ephemeral range, so an outgoing connection can hold one for a moment)."""
    with socket.socket() as holder:
        holder.bind((HOST, 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "serve", "tenancy"],
            env={**os.environ, "KCC_NATS_URL": nats_url, "KCC_DATA_DIR": str(tmp_path), "KCC_TENANCY_PORT": str(port)},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert f"kcc serve tenancy: cannot listen on {HOST}:{port}: another process holds it" in done.stderr
    assert "Traceback" not in done.stderr
