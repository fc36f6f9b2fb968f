"""Who may do what on NATS: one user per service and a read-only user per tenant, as nats-server config.

The same description feeds `kcc up`, the tests and deploy/ (`kcc auth nats-config`), so the
permissions a test proves are the ones production runs. Each service may publish only its own
events and write only its own KV buckets: routing cannot forge a callback event, callbacks
cannot change a catalogue. A tenant's integration may only listen to `kcc.<tenant>.>`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.events import STREAM
from services.common.snapshots import BUCKET as SNAPSHOTS

SERVICES = ("tenancy", "routing", "callbacks", "webhooks")
# Named here, not imported: common does not import the services. tests/test_nats_permissions.py
# checks that they still match services/routing/{app,leader}.py, services/callbacks/{app,contacts}.py.
AGENTS = "routing-agents"
ROUTING_LEASES = "routing-leases"
LEASES = "callbacks-leases"
CONTACT_USAGE_CONSUMER = "callbacks-contact-usage"
LEXICON_CORRECTIONS_CONSUMER = "tenancy-lexicon-corrections"  # services/tenancy/corrections.py
# services/webhooks/store.py: its buckets, and its consumers' names start with this.
WEBHOOK_BUCKETS = ("webhooks-subscriptions", "webhooks-state", "webhooks-dead-letters", "webhooks-leases")
WALLBOARD_LINKS = "wallboard-links"

API = "$JS.API"
# Replies to JetStream API calls and publish acks, and push-consumer deliveries, arrive on
# nats-py's default inbox prefix, the same for every service (EventBus.connect sets none of
# its own). Tenants never get it: it would show them every tenant's deliveries.
INBOX = "_INBOX.>"
PASSWORD_VARIABLE_PREFIX = "KCC_NATS_PASSWORD_"


@dataclass(frozen=True)
class NatsUser:
    """A NATS user and the subjects it may publish to and subscribe to (nothing else)."""

    name: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    deny_publish: tuple[str, ...] = ()  # carved out of a wildcard in `publish`


def _stream(name: str) -> list[str]:
    """Every service makes sure the KCC stream or a KV bucket exists (get-or-create at start)."""
    return [f"{API}.STREAM.INFO.{name}", f"{API}.STREAM.CREATE.{name}"]


def _bucket(bucket: str, *, get: bool = False, watch: bool = False, put: bool = False) -> list[str]:
    """A KV bucket: get-or-create, then only the operations the service uses on it."""
    kv = f"KV_{bucket}"
    subjects = _stream(kv)
    if get:
        subjects.append(f"{API}.STREAM.MSG.GET.{kv}")  # buckets are made without direct get
    if watch:  # an ordered push consumer with flow control
        subjects += [f"{API}.CONSUMER.CREATE.{kv}", f"{API}.CONSUMER.INFO.{kv}.*", f"$JS.FC.{kv}.>"]
    if put:
        subjects.append(f"$KV.{bucket}.>")
    return subjects


def _events(aggregate: str) -> str:
    return f"kcc.*.{aggregate}.>"


def service_user(service: str) -> NatsUser:
    """What each service does on NATS, read from its code (see services/*/app.py)."""
    stream = [*_stream(STREAM), f"{API}.STREAM.UPDATE.{STREAM}"]  # EventBus.ensure_stream
    if service == "tenancy":
        # Outbox: kcc.<tenant>.tenancy.changed; writes the compiled snapshots, each over an
        # older version only (it reads the version held first); agents' corrections of
        # recognition through one durable pull consumer of completed contacts.
        consumer = f"{STREAM}.{LEXICON_CORRECTIONS_CONSUMER}"
        publish = [
            *stream,
            _events("tenancy"),
            *_bucket(SNAPSHOTS, get=True, put=True),
            f"{API}.CONSUMER.CREATE.{consumer}.kcc.*.contact.completed",
            f"{API}.CONSUMER.INFO.{consumer}",
            f"{API}.CONSUMER.MSG.NEXT.{consumer}",
            f"$JS.ACK.{consumer}.>",
        ]
    elif service == "routing":
        # Publishes contact events, agent sessions and matcher elections; follows snapshots;
        # keeps agents in its own bucket and the matcher's lease in another; follows contact,
        # agent and callback events through pull consumers of its own.
        publish = [
            *stream,
            _events("contact"),
            _events("queue"),  # a gemeente's overflow threshold for the day
            "kcc.platform.agent.>",
            "kcc.platform.matcher.>",
            *_bucket(SNAPSHOTS, watch=True),
            *_bucket(AGENTS, get=True, watch=True, put=True),
            *_bucket(ROUTING_LEASES, get=True, put=True),
            # the followers' pull consumers (services/routing/follower.py)
            f"{API}.CONSUMER.CREATE.{STREAM}.>",
            f"{API}.CONSUMER.MSG.NEXT.{STREAM}.*",
            f"{API}.CONSUMER.DELETE.{STREAM}.*",
        ]
    elif service == "callbacks":
        # Outbox: callback events; follows snapshots; the scheduler's lease; counts contacts
        # through one durable pull consumer.
        consumer = f"{STREAM}.{CONTACT_USAGE_CONSUMER}"
        publish = [
            *stream,
            _events("callback"),
            *_bucket(SNAPSHOTS, watch=True),
            *_bucket(LEASES, get=True, put=True),
            f"{API}.CONSUMER.CREATE.{consumer}.{_events('contact')}",
            f"{API}.CONSUMER.INFO.{consumer}",
            f"{API}.CONSUMER.MSG.NEXT.{consumer}",
            f"$JS.ACK.{consumer}.>",
        ]
    elif service == "webhooks":
        # Publishes no events. Its four buckets (subscriptions and dead letters also watched for
        # their keys); a durable consumer per subscription, each bound, fetched, acked and
        # deleted by name; single events read back by sequence (figures, redelivery).
        subscriptions, state, dead_letters, leases = WEBHOOK_BUCKETS
        publish = [
            *stream,
            *_bucket(subscriptions, get=True, watch=True, put=True),
            *_bucket(state, get=True, put=True),
            *_bucket(dead_letters, get=True, watch=True, put=True),
            *_bucket(leases, get=True, put=True),
            f"{API}.CONSUMER.DURABLE.CREATE.{STREAM}.*",
            f"{API}.CONSUMER.INFO.{STREAM}.*",
            f"{API}.CONSUMER.MSG.NEXT.{STREAM}.*",
            f"{API}.CONSUMER.DELETE.{STREAM}.*",
            f"{API}.STREAM.MSG.GET.{STREAM}",
            f"$JS.ACK.{STREAM}.>",
        ]
    else:
        raise ValueError(f"unknown service {service!r}")
    deny: tuple[str, ...] = ()
    usage = f"{STREAM}.{CONTACT_USAGE_CONSUMER}"
    if service == "routing":  # its pull consumers have random names: not callbacks' durable one
        deny = tuple(
            f"{API}.CONSUMER.{verb}.{usage}{tail}" for verb in ("CREATE", "MSG.NEXT", "DELETE") for tail in ("", ".>")
        )
    if service == "webhooks":  # its consumers are named by subscription: not callbacks' durable one
        deny = (
            *(f"{API}.CONSUMER.{verb}.{usage}" for verb in ("DURABLE.CREATE", "MSG.NEXT", "DELETE")),
            f"$JS.ACK.{usage}.>",
        )
    return NatsUser(service, tuple(publish), (INBOX,), deny)


def wallboard_user() -> NatsUser:
    """The wallboard reads the services over gRPC; on NATS it only marks used login links."""
    stream = [*_stream(STREAM), f"{API}.STREAM.UPDATE.{STREAM}"]  # EventBus.ensure_stream
    return NatsUser("wallboard", (*stream, *_bucket(WALLBOARD_LINKS, get=True, put=True)), (INBOX,))


def tenant_user_name(tenant: str) -> str:
    return f"tenant-{tenant}"


def tenant_user(tenant: str) -> NatsUser:
    """A gemeente's integration: listens to its own events, publishes nothing."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", tenant):
        raise ValueError(f"not a tenant id: {tenant!r}")
    return NatsUser(tenant_user_name(tenant), (), (f"kcc.{tenant}.>",))


def users(tenants: Iterable[str] = ()) -> list[NatsUser]:
    return [service_user(s) for s in SERVICES] + [wallboard_user()] + [tenant_user(t) for t in sorted(set(tenants))]


def password_variable(user: str) -> str:
    """The environment variable (and Kubernetes Secret key) holding a user's password."""
    return PASSWORD_VARIABLE_PREFIX + re.sub(r"[^A-Z0-9]", "_", user.upper())


def render(all_users: Iterable[NatsUser], passwords: Mapping[str, str] | None = None) -> str:
    """The `authorization` block; without `passwords` each one is a `$KCC_NATS_PASSWORD_<USER>`
    reference that nats-server resolves from its environment (fails to start if one is missing)."""
    q = json.dumps  # a JSON string is a valid quoted string in the NATS config format

    def subjects(verb: str, subjects: tuple[str, ...], deny: tuple[str, ...] = ()) -> list[str]:
        if not subjects:  # an empty allow list would mean "no limit": deny everything instead
            return [f'      {verb}: {{deny: [">"]}}']
        allow = [f"      {verb}: {{allow: [", ",\n".join(f"        {q(s)}" for s in subjects)]
        if not deny:
            return [*allow, "      ]}"]
        return [*allow, "      ], deny: [", ",\n".join(f"        {q(s)}" for s in deny), "      ]}"]

    lines = ["authorization {", "  users = ["]
    for user in all_users:
        password = q(passwords[user.name]) if passwords is not None else "$" + password_variable(user.name)
        lines += [
            f"    {{user: {q(user.name)}, password: {password}, permissions: {{",
            *subjects("publish", user.publish, user.deny_publish),
            *subjects("subscribe", user.subscribe),
            "    }}",
        ]
    lines += ["  ]", "}"]
    return "\n".join(lines) + "\n"


class LocalPasswords:
    """Passwords for a local platform, generated once per data dir into a 0600 file.

    A `KCC_NATS_PASSWORD_<USER>` variable in the environment wins, so `kcc up` can also run
    with configured passwords.
    """

    def __init__(self, data_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        self.path = Path(data_dir) / "nats-passwords.json"
        self.environ = os.environ if environ is None else environ

    def _load(self) -> dict[str, str]:
        try:
            stored: dict[str, str] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        return stored

    def get(self, user: str) -> str:
        """The user's password, generated and stored on first use."""
        configured = self.environ.get(password_variable(user))
        if configured:
            return configured
        stored = self._load()
        if user not in stored:
            stored[user] = secrets.token_urlsafe(24)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(stored, out, indent=1, sort_keys=True)
        return stored[user]

    def tenants(self) -> list[str]:
        """Tenants given an account with `kcc auth nats-user`; `kcc up` loads them at start."""
        prefix = tenant_user_name("")
        return sorted(u.removeprefix(prefix) for u in self._load() if u.startswith(prefix))

    def server_config(self) -> str:
        """The authorization block for a local nats-server: the services and every known tenant."""
        all_users = users(self.tenants())
        return render(all_users, {u.name: self.get(u.name) for u in all_users})
