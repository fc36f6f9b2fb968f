"""The processes of a fault run (bench/chaos.py): a 3-node NATS cluster, an embedded PostgreSQL and
two replicas each of tenancy, routing and callbacks, each service its own process."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from services.common.natsserver import NatsCluster, free_port
from services.launcher import wait_healthy

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from tests.support.postgres import EmbeddedPostgres  # noqa: E402 - test support, not in the package


@dataclass
class Replica:
    service: str
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> str:
        return f"127.0.0.1:{self.port}"

    def wait_healthy(self) -> None:
        """Until it serves; one that exits first says why from the end of its log (the run's
        directory is gone after it)."""
        try:
            wait_healthy(self.target, 120, process=self.proc)
        except SystemExit as exc:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-40:])
            raise SystemExit(f"{self.service}: {exc}; its log ends:\n{tail}") from None


class Platform:
    """Every process of the run; services restart on the same port, as a pod behind its Service."""

    def __init__(self, workdir: Path, lease_seconds: float) -> None:
        self.workdir = workdir
        self.lease_seconds = lease_seconds
        self.cluster = NatsCluster(workdir / "nats", size=3)
        self.postgres = EmbeddedPostgres()  # a directory of its own, which `nobody` can enter as root
        self.database_url = ""
        self.replicas: dict[str, list[Replica]] = {
            service: [Replica(service, 0, workdir / f"{service}-{i}.log") for i in range(count)]
            for service, count in (("tenancy", 2), ("routing", 2), ("callbacks", 2))
        }

    def start(self) -> None:
        self.cluster.start()
        self.postgres.start()
        self.database_url = self.postgres.create_database("kcc")
        everyone = [replica for replicas in self.replicas.values() for replica in replicas]
        for replica in everyone:  # all at once, as a deployment's pods start
            # chosen just before use: one chosen before the NATS nodes and PostgreSQL started was
            # once taken by one of their own connections, and the replica could not bind it
            replica.port = free_port()
            self.spawn(replica)
        for replica in everyone:
            replica.wait_healthy()

    def spawn(self, replica: Replica) -> None:
        env = {
            **os.environ,
            "KCC_NATS_URL": self.cluster.url,
            "KCC_DATABASE_URL": self.database_url,
            "KCC_DATA_DIR": str(self.workdir / "var"),
            f"KCC_{replica.service.upper()}_PORT": str(replica.port),
            "KCC_STREAM_REPLICAS": "3",
            "KCC_MIGRATE_AT_START": "true",
            "KCC_LEASE_SECONDS": str(self.lease_seconds),
            "PYTHONPATH": f"{REPO}{os.pathsep}{REPO / 'proto'}",
        }
        with replica.log.open("ab") as log:
            replica.proc = subprocess.Popen(
                [sys.executable, "-m", "services.launcher", replica.service], env=env, stdout=log, stderr=log, cwd=REPO
            )

    def kill(self, replica: Replica) -> None:
        assert replica.proc is not None
        os.kill(replica.proc.pid, signal.SIGKILL)
        replica.proc.wait(10)

    def pids(self, service: str) -> dict[int, Replica]:
        return {r.proc.pid: r for r in self.replicas[service] if r.proc is not None}

    def stop(self) -> None:
        for replicas in self.replicas.values():
            for replica in replicas:
                if replica.proc is not None and replica.proc.poll() is None:
                    replica.proc.terminate()
        for replicas in self.replicas.values():
            for replica in replicas:
                if replica.proc is not None:
                    try:
                        replica.proc.wait(15)
                    except subprocess.TimeoutExpired:
                        replica.proc.kill()
        with contextlib.suppress(Exception):
            self.cluster.close()
        with contextlib.suppress(Exception):
            self.postgres.close()
