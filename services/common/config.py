"""Settings read from the environment once per process, so every service configures the same way."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Run-time data ships inside the package, so an installed wheel finds it wherever it lives.
DATA: Traversable = files("services") / "data"


def open_csv(resource: Traversable) -> io.TextIOWrapper:
    """Opens a shipped or given CSV file the way the csv module needs it (newline="", BOM dropped)."""
    return io.TextIOWrapper(resource.open("rb"), encoding="utf-8-sig", newline="")


def _migrate_at_start() -> bool:
    value = os.environ.get("KCC_MIGRATE_AT_START", "").strip().lower()
    if not value:
        return os.environ.get("KCC_ENV", "development") != "production"
    if value in ("true", "1", "yes"):
        return True
    if value in ("false", "0", "no"):
        return False
    raise ValueError(f"KCC_MIGRATE_AT_START must be true or false, not {value!r}")


def _lease_seconds() -> float:
    value = float(os.environ.get("KCC_LEASE_SECONDS") or 10)
    if not value >= 1:  # a holder renews a few times per lease: below a second it would do little else
        raise ValueError(f"KCC_LEASE_SECONDS must be 1 or more, not {value}")
    return value


DEFAULT_PORTS = {"tenancy": 50051, "routing": 50052, "callbacks": 50053, "webhooks": 50054}
# A key for local development only: `kcc up` and the tests use it unless one is configured.
DEV_SECRET = "kcc-dev-secret-do-not-use-in-production"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(os.environ.get("KCC_DATA_DIR", ROOT / "var")))
    database_url: str = field(default_factory=lambda: os.environ.get("KCC_DATABASE_URL", ""))
    # One server, or a comma-separated list of a cluster's servers.
    nats_url: str = field(default_factory=lambda: os.environ.get("KCC_NATS_URL", "nats://127.0.0.1:4222"))
    # The KCC stream and the KV buckets as a service creates them; on an existing stream a service
    # only raises them (services/common/events.py), it never lowers what an operator set.
    stream_replicas: int = field(default_factory=lambda: int(os.environ.get("KCC_STREAM_REPLICAS") or 1))
    stream_max_bytes: int = field(default_factory=lambda: int(os.environ.get("KCC_STREAM_MAX_BYTES") or -1))
    # Events are kept as long as a closed callback may be (the default retention, one year).
    stream_max_age_seconds: int = field(
        default_factory=lambda: int(os.environ.get("KCC_STREAM_MAX_AGE_SECONDS") or 366 * 24 * 3600)
    )
    # 0: the same as stream_replicas.
    kv_replicas: int = field(default_factory=lambda: int(os.environ.get("KCC_KV_REPLICAS") or 0))
    # Each KV bucket a service creates: the bytes it may hold (-1: no limit) and how long a key that
    # is not written again is kept (0: for ever). Leases are rewritten every few seconds; agent
    # definitions, tenant snapshots and webhook subscriptions only when they change, so a max age
    # must outlast the longest time any of those stays unchanged.
    kv_max_bytes: int = field(default_factory=lambda: int(os.environ.get("KCC_KV_MAX_BYTES") or -1))
    kv_max_age_seconds: int = field(default_factory=lambda: int(os.environ.get("KCC_KV_MAX_AGE_SECONDS") or 0))
    nats_user: str = field(default_factory=lambda: os.environ.get("KCC_NATS_USER", ""))
    nats_password: str = field(default_factory=lambda: os.environ.get("KCC_NATS_PASSWORD", ""))
    host: str = field(default_factory=lambda: os.environ.get("KCC_HOST", "127.0.0.1"))
    # none, console or otlp (then OTEL_EXPORTER_OTLP_ENDPOINT applies).
    telemetry_exporter: str = field(default_factory=lambda: os.environ.get("KCC_TELEMETRY", "none"))
    # Signs bearer tokens (HS256); also the fallback for the two keys below.
    auth_secret: str = field(default_factory=lambda: os.environ.get("KCC_AUTH_SECRET", DEV_SECRET))
    # Keyed hash for citizen keys: one key across services so keys match.
    citizen_key_secret: str = field(
        default_factory=lambda: os.environ.get("KCC_CITIZEN_KEY_SECRET", DEV_SECRET + "-citizen")
    )
    # Keyed hash of a question's text and of a word a tenant's corrections keep hashed: a key only
    # routing and tenancy hold (partners know the citizen key's secret, so it cannot be that one).
    question_key_secret: str = field(
        default_factory=lambda: os.environ.get("KCC_QUESTION_KEY_SECRET", DEV_SECRET + "-question")
    )
    # Fernet keys (urlsafe base64, 32 bytes) for personal data at rest, comma-separated, newest first:
    # new writes use the newest, older ones still read (`kcc callbacks reencrypt` moves rows on).
    encryption_key: str = field(default_factory=lambda: os.environ.get("KCC_ENCRYPTION_KEY", ""))
    # development or production: production refuses development keys and missing settings
    # (services/common/production.py).
    env: str = field(default_factory=lambda: os.environ.get("KCC_ENV", "development"))
    # Bring the database schema up to date when a service starts (under a lock); off in production,
    # where `kcc db upgrade` runs before a roll-out and a service on an older schema refuses to start.
    migrate_at_start: bool = field(default_factory=_migrate_at_start)
    # Token keys `kid:secret,kid:secret`, newest first: the newest signs, every one verifies, so a
    # key rotates without downtime. Empty: KCC_AUTH_SECRET alone, as key id `default`.
    auth_keys: str = field(default_factory=lambda: os.environ.get("KCC_AUTH_KEYS", ""))
    # Carried by every citizen key (`<version>.<hash>`) so a rotated secret's keys are told apart.
    citizen_key_version: str = field(default_factory=lambda: os.environ.get("KCC_CITIZEN_KEY_VERSION", ""))
    # A plaintext listener with only grpc.health.v1 for the kubelet's probes (which cannot speak
    # TLS) when the service port is TLS; 0: none.
    health_port: int = field(default_factory=lambda: int(os.environ.get("KCC_HEALTH_PORT") or 0))
    # How long a lease holder (routing's matcher, the callback scheduler) acts without renewing: a
    # standby takes over this long after the holder died. Shorter is a quicker takeover for more
    # renewals, and a holder stalled that long (a long GC pause, a starved node) loses its lease.
    lease_seconds: float = field(default_factory=_lease_seconds)
    # Recent recognition results kept per catalogue (hashes of the text only); 0 turns it off.
    recognition_cache: int = field(default_factory=lambda: int(os.environ.get("KCC_RECOGNITION_CACHE") or 4096))
    tls_cert: str = field(default_factory=lambda: os.environ.get("KCC_TLS_CERT", ""))
    tls_key: str = field(default_factory=lambda: os.environ.get("KCC_TLS_KEY", ""))
    tls_client_ca: str = field(default_factory=lambda: os.environ.get("KCC_TLS_CLIENT_CA", ""))
    # Client side: a CA bundle to verify servers turns TLS on; a client certificate adds mutual TLS.
    tls_ca: str = field(default_factory=lambda: os.environ.get("KCC_TLS_CA", ""))
    tls_client_cert: str = field(default_factory=lambda: os.environ.get("KCC_TLS_CLIENT_CERT", ""))
    tls_client_key: str = field(default_factory=lambda: os.environ.get("KCC_TLS_CLIENT_KEY", ""))
    # The name to check in the server's certificate when it differs from the target's host.
    tls_server_name: str = field(default_factory=lambda: os.environ.get("KCC_TLS_SERVER_NAME", ""))

    @property
    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]

    @property
    def bucket_replicas(self) -> int:
        return self.kv_replicas or self.stream_replicas

    def port(self, service: str) -> int:
        return int(os.environ.get(f"KCC_{service.upper()}_PORT", DEFAULT_PORTS[service]))

    def target(self, service: str) -> str:
        """Where a client finds a service; KCC_<SERVICE>_TARGET overrides host:port."""
        return os.environ.get(f"KCC_{service.upper()}_TARGET", f"{self.host}:{self.port(service)}")

    def database_url_for(self, service: str) -> str:
        """One SQLite file per service by default; with a PostgreSQL URL, one schema per service."""
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / f'{service}.db'}"
