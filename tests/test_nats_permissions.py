"""NATS users and permissions (services/common/natsauth.py) on a real nats-server with that config:
a gemeente hears only its own events, a service publishes only its own, and the three services
still work end to end, each as its own user. Also: deploy/ carries the same config."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import nats
import pytest
from nats.aio.client import Client
from sqlmodel import select

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services import cli
from services.callbacks import app as callbacks_app
from services.callbacks import contacts
from services.callbacks.app import CallbacksApp
from services.common import auth, client, natsauth
from services.common.app import ServiceApp
from services.common.citizen import citizen_key
from services.common.config import ROOT, Settings
from services.common.natsserver import NatsServer, NatsServerError, find_nats_server
from services.routing import app as routing_app
from services.routing import leader
from services.routing.app import RoutingApp
from services.tenancy import corrections
from services.tenancy.app import TenancyApp
from services.tenancy.models import LexiconCorrectionRow
from tests.builders import UPL, eventually, make_tenant, routable
from tests.conftest import running_nats, unavailable

pytestmark = pytest.mark.timeout(120)

NIJMEGEN, ARNHEM = "gm0268", "gm0202"


@pytest.fixture
def passwords(tmp_path: Path) -> natsauth.LocalPasswords:
    """Generated passwords for the services and two gemeenten (none from the environment)."""
    store = natsauth.LocalPasswords(tmp_path / "credentials", environ={})
    for tenant in (NIJMEGEN, ARNHEM):
        store.get(natsauth.tenant_user_name(tenant))
    return store


@pytest.fixture
def secured(tmp_path: Path, passwords: natsauth.LocalPasswords) -> Iterator[NatsServer]:
    """A nats-server with the users and permissions of `kcc up`."""
    yield from running_nats(NatsServer(tmp_path / "nats", config=passwords.server_config()))


class Connection:
    """A nats-py client as one user; nats-py reports permission errors through error_cb only."""

    def __init__(self) -> None:
        self.nc: Client
        self.errors: asyncio.Queue[Exception] = asyncio.Queue()

    async def next_error(self) -> str:
        return str(await asyncio.wait_for(self.errors.get(), 10)).lower()


@pytest.fixture
async def connect(
    secured: NatsServer, passwords: natsauth.LocalPasswords
) -> AsyncIterator[Callable[[str], asyncio.Future[Connection]]]:
    opened: list[Connection] = []

    async def open_as(user: str) -> Connection:
        conn = Connection()

        async def on_error(exc: Exception) -> None:
            await conn.errors.put(exc)

        conn.nc = await nats.connect(
            secured.url,
            user=user,
            password=passwords.get(user),
            error_cb=on_error,
            allow_reconnect=False,
            connect_timeout=2,
        )
        opened.append(conn)
        return conn

    yield open_as  # type: ignore[misc]
    for conn in opened:
        await conn.nc.close()


async def test_a_gemeente_hears_its_own_events_only(connect) -> None:  # type: ignore[no-untyped-def]
    nijmegen = await connect(natsauth.tenant_user_name(NIJMEGEN))
    callbacks = await connect("callbacks")
    own = await nijmegen.nc.subscribe(f"kcc.{NIJMEGEN}.>")
    denied = []
    for subject in (f"kcc.{ARNHEM}.>", "kcc.>", "_INBOX.>"):  # the inbox would show services' deliveries
        denied.append(await nijmegen.nc.subscribe(subject))
        assert f'permissions violation for subscription to "{subject.lower()}"' in await nijmegen.next_error()
    await nijmegen.nc.flush()

    await callbacks.nc.publish(f"kcc.{ARNHEM}.callback.created", b"arnhem")
    await callbacks.nc.publish(f"kcc.{NIJMEGEN}.callback.created", b"nijmegen")
    await callbacks.nc.flush()
    msg = await own.next_msg(timeout=10)
    assert (msg.subject, msg.data) == (f"kcc.{NIJMEGEN}.callback.created", b"nijmegen")
    # Arnhem's event went first over the same connections: had it been delivered, it would be here.
    assert [sub.pending_msgs for sub in denied] == [0, 0, 0] and own.pending_msgs == 0

    await nijmegen.nc.publish(f"kcc.{NIJMEGEN}.callback.created", b"forged")
    assert f'permissions violation for publish to "kcc.{NIJMEGEN}.callback.created"' in await nijmegen.next_error()


@pytest.mark.parametrize(
    ("service", "forbidden", "allowed"),
    [
        ("routing", "callback.requested", "contact.routed"),
        ("callbacks", "tenancy.changed", "callback.requested"),
        ("tenancy", "contact.routed", "tenancy.changed"),
    ],
)
async def test_a_service_publishes_only_its_own_events(connect, service: str, forbidden: str, allowed: str) -> None:  # type: ignore[no-untyped-def]
    listener = await connect(natsauth.tenant_user_name(NIJMEGEN))
    heard = await listener.nc.subscribe(f"kcc.{NIJMEGEN}.>")
    await listener.nc.flush()
    publisher = await connect(service)
    await publisher.nc.publish(f"kcc.{NIJMEGEN}.{forbidden}", b"forged")
    await publisher.nc.publish(f"kcc.{NIJMEGEN}.{allowed}", b"genuine")
    await publisher.nc.flush()
    assert f'permissions violation for publish to "kcc.{NIJMEGEN}.{forbidden}"' in await publisher.next_error()
    msg = await heard.next_msg(timeout=10)
    assert (msg.subject, msg.data) == (f"kcc.{NIJMEGEN}.{allowed}", b"genuine")  # the forged one never came


@pytest.mark.parametrize(
    ("service", "subject"),
    [
        ("routing", f"$KV.tenant-snapshots.{NIJMEGEN}"),  # only tenancy writes catalogues
        ("callbacks", "$KV.routing-agents.fatima"),
        ("tenancy", "$KV.callbacks-leases.scheduler"),
        ("routing", f"$JS.API.CONSUMER.MSG.NEXT.KCC.{natsauth.CONTACT_USAGE_CONSUMER}"),
    ],
)
async def test_a_service_keeps_out_of_other_services_buckets_and_consumers(connect, service: str, subject: str) -> None:  # type: ignore[no-untyped-def]
    conn = await connect(service)
    await conn.nc.publish(subject, b"{}")
    assert f'permissions violation for publish to "{subject.lower()}"' in await conn.next_error()


@pytest.mark.parametrize("credentials", [{}, {"user": "routing", "password": "guessed"}])
async def test_without_the_password_nobody_connects(secured: NatsServer, credentials: dict[str, str]) -> None:
    async def quiet(_exc: Exception) -> None:
        pass

    with pytest.raises(nats.errors.Error, match="Authorization Violation"):
        await nats.connect(secured.url, error_cb=quiet, allow_reconnect=False, connect_timeout=2, **credentials)  # type: ignore[arg-type]


async def test_the_services_work_end_to_end_each_as_its_own_user(  # type: ignore[no-untyped-def]
    secured: NatsServer, passwords: natsauth.LocalPasswords, tmp_path: Path, connect, channel_to
) -> None:
    def settings(service: str) -> Settings:
        return Settings(
            data_dir=tmp_path / "var", nats_url=secured.url, nats_user=service, nats_password=passwords.get(service)
        )

    started: list[ServiceApp] = []

    async def start(app: ServiceApp) -> ServiceApp:
        await app.start(0)
        started.append(app)
        return app

    try:
        tenancy = await start(TenancyApp(settings("tenancy")))
        routing = await start(RoutingApp(settings("routing")))
        callbacks = await start(CallbacksApp(settings("callbacks")))
        assert isinstance(routing, RoutingApp) and isinstance(callbacks, CallbacksApp)
        partner = await connect(natsauth.tenant_user_name(NIJMEGEN))
        heard = await partner.nc.subscribe(f"kcc.{NIJMEGEN}.callback.>")
        await partner.nc.flush()

        # Onboarding reaches routing through the snapshot bucket.
        secret = routing.settings.auth_secret
        admin = client.metadata(auth.issue_token(secret, "admin", auth.Role.PLATFORM_ADMIN))
        products = [("paspoort", "paspoort", "burgerzaken")]
        await make_tenant(channel_to(tenancy), admin, NIJMEGEN, "Nijmegen", products)
        await routable(channel_to(routing), admin, NIJMEGEN)

        routing_stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
        await routing_stub.CreateAgent(  # routing's agents bucket
            rt.CreateAgentRequest(
                agent_id="fatima", agent=rt.Agent(display_name="Fatima", tenants=[f"tenants/{NIJMEGEN}"])
            ),
            metadata=admin,
        )
        phone = "+31612345678"
        key = citizen_key(routing.settings.citizen_key_secret, phone)
        integration = client.metadata(auth.issue_token(secret, "nijmegen", auth.Role.TENANT_INTEGRATION, [NIJMEGEN]))
        decision = await routing_stub.RouteContact(
            rt.RouteContactRequest(
                tenant=f"tenants/{NIJMEGEN}", channel=common_pb2.CHANNEL_PHONE, question="paspoort", citizen_key=key
            ),
            metadata=integration,
        )
        created = await callbacks_pb2_grpc.CallbackServiceStub(channel_to(callbacks)).CreateCallback(
            cb.CreateCallbackRequest(
                parent=f"tenants/{NIJMEGEN}",
                callback=cb.Callback(
                    department=f"tenants/{NIJMEGEN}/departments/burgerzaken",
                    product_uri=UPL + "paspoort",
                    contact=decision.contact.name,
                    phone_number=phone,
                ),
                request_id="permissions-1",
            ),
            metadata=integration,
        )

        # The callback event reaches routing's repeat index and the gemeente's own listener ...
        await eventually(lambda: routing.state.repeats.open_for(NIJMEGEN, key))
        msg = await heard.next_msg(timeout=10)
        assert msg.subject == f"kcc.{NIJMEGEN}.callback.requested"

        # ... the contact event reaches callbacks' durable consumer, and its scheduler holds the lease.
        def tallied() -> int:
            return sum(
                r.routed for r in callbacks.db.transaction(lambda s: list(s.exec(select(contacts.ContactTally))))
            )

        await eventually(lambda: tallied() == 1)
        await eventually(lambda: callbacks.scheduler.lease.held)

        # An agent's correction of recognition reaches tenancy's durable consumer.
        desk = client.metadata(auth.issue_token(secret, "fatima", auth.Role.AGENT, [NIJMEGEN]))
        desktop = routing_stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=desk)
        await desktop.read()
        await asyncio.wait_for(desktop.read(), 10)  # the offer
        step = {"agent": "agents/fatima", "contact": decision.contact.name}
        await routing_stub.AcceptOffer(rt.AcceptOfferRequest(**step), metadata=desk)
        correction = rt.Correction(product_uri=UPL + "paspoort")
        await routing_stub.CompleteContact(rt.CompleteContactRequest(**step, correction=correction), metadata=desk)
        desktop.cancel()
        await eventually(lambda: tenancy.db.transaction(lambda s: list(s.exec(select(LexiconCorrectionRow)))))

        # A routing restart rebuilds its memory from the stream and the buckets, as routing.
        await routing.stop()
        started.remove(routing)
        again = await start(RoutingApp(settings("routing")))
        assert isinstance(again, RoutingApp)
        assert [r.callback for r in again.state.repeats.open_for(NIJMEGEN, key)] == [created.name]
        assert "agents/fatima" in again.state.router.agents
    finally:
        for app in reversed(started):
            await app.stop()
    log = secured.log_path.read_text()
    assert "Violation" not in log, [line for line in log.splitlines() if "Violation" in line]


# -- one description for kcc up, the CLI and deploy/ --------------------------------------------


def test_named_buckets_and_consumer_are_the_services_own() -> None:
    assert natsauth.AGENTS == routing_app.AGENTS_BUCKET
    assert natsauth.LEASES == callbacks_app.LEASE_BUCKET
    assert natsauth.ROUTING_LEASES == leader.LEASE_BUCKET
    assert natsauth.CONTACT_USAGE_CONSUMER == contacts.CONSUMER
    assert natsauth.LEXICON_CORRECTIONS_CONSUMER == corrections.CONSUMER


def test_local_passwords_are_private_stable_and_configurable(tmp_path: Path) -> None:
    store = natsauth.LocalPasswords(tmp_path, environ={"KCC_NATS_PASSWORD_ROUTING": "from-the-vault"})
    first = store.get("tenancy")
    assert natsauth.LocalPasswords(tmp_path, environ={}).get("tenancy") == first
    assert store.path.stat().st_mode & 0o777 == 0o600
    assert store.get("routing") == "from-the-vault" and "routing" not in json.loads(store.path.read_text())


def test_nats_user_command_gives_a_gemeente_its_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KCC_DATA_DIR", str(tmp_path))
    assert cli.main(["auth", "nats-user", "--tenant", NIJMEGEN]) == 0
    account = json.loads(capsys.readouterr().out)
    assert account["user"] == f"tenant-{NIJMEGEN}" and account["subscribe"] == [f"kcc.{NIJMEGEN}.>"]
    store = natsauth.LocalPasswords(tmp_path, environ={})
    assert account["password"] == store.get(account["user"]) and store.tenants() == [NIJMEGEN]
    assert f'user: "tenant-{NIJMEGEN}"' in store.server_config()  # the next `kcc up` loads it


def test_deploy_runs_the_same_users_and_permissions(tmp_path: Path) -> None:
    conf = (ROOT / "deploy" / "kubernetes" / "base" / "nats" / "auth.conf").read_text()
    block = conf[conf.index("authorization {") :]
    tenants = re.findall(r'user: "tenant-([^"]+)"', block)
    assert block.strip() == natsauth.render(natsauth.users(tenants)).strip(), "run `kcc auth nats-config`"

    services = (ROOT / "deploy" / "kubernetes" / "base" / "services.yaml").read_text()
    for service in natsauth.SERVICES:
        assert f'{{name: KCC_NATS_USER, value: "{service}"}}' in services
        assert f"{{name: kcc-nats, key: {natsauth.password_variable(service)}}}" in services

    # nats-server itself accepts the file once the Secret's variables are there.
    try:
        binary = find_nats_server()
    except NatsServerError as exc:
        unavailable(str(exc))
    path = tmp_path / "nats.conf"
    path.write_text(conf)
    env = {"POD_NAME": "nats-0"} | {natsauth.password_variable(u.name): "x" for u in natsauth.users(tenants)}
    checked = subprocess.run([binary, "-t", "-c", str(path)], env=env, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    missing = subprocess.run([binary, "-t", "-c", str(path)], env={"POD_NAME": "nats-0"}, capture_output=True)
    assert missing.returncode != 0  # no password, no server
