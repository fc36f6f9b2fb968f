"""KCC_ENV=production fails closed: a service refuses development keys and missing settings before it
binds anything, names every problem at once, and starts on a complete configuration (PostgreSQL,
TLS, its own keys) with plaintext health for the kubelet beside the TLS port. And a CLI command
that lacks NATS credentials says so within seconds instead of retrying forever."""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.fernet import Fernet
from cryptography.x509.oid import ExtendedKeyUsageOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kcc.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
from services import cli, db_cli, launcher
from services.callbacks.cli import purge_once
from services.common import auth, client, natsauth, production
from services.common.config import DEV_SECRET, ROOT, Settings
from services.common.natsserver import NatsServer, free_port
from services.tenancy.app import TenancyApp
from tests.conftest import running_nats
from tests.test_tls import make_ca, make_leaf, write_pem

pytestmark = pytest.mark.timeout(60)

AUTH = "k2026:" + "a" * 40
CITIZEN = "c" * 40
SERVED = [*launcher.SERVICES, "wallboard"]  # every process `kcc serve` runs
DEVELOPMENT_ENV = {k: v for k, v in os.environ.items() if not k.startswith(("KCC_", "OTEL_"))}


def production_settings(tmp_path: Path, **changes: object) -> Settings:
    """A complete production configuration except for `changes` (TLS files need not exist for the check)."""
    values: dict[str, object] = {
        "env": "production",
        "data_dir": tmp_path / "var",
        "database_url": "postgresql://tenancy@db/kcc",
        "host": "0.0.0.0",
        "tls_cert": "/etc/kcc/tls/tls.crt",
        "tls_key": "/etc/kcc/tls/tls.key",
        "auth_keys": AUTH,
        "citizen_key_secret": CITIZEN,
        "citizen_key_version": "c1",
        "question_key_secret": "q" * 40,
        "encryption_key": Fernet.generate_key().decode(),
    }
    values.update(changes)
    return Settings(**values)  # type: ignore[arg-type]


def test_a_complete_production_configuration_passes(tmp_path: Path) -> None:
    assert production.problems(production_settings(tmp_path)) == []
    # Loopback without TLS is fine: nothing leaves the machine.
    assert production.problems(production_settings(tmp_path, host="127.0.0.1", tls_cert="", tls_key="")) == []


def test_development_defaults_are_refused_all_at_once(tmp_path: Path) -> None:
    settings = Settings(env="production", data_dir=tmp_path, host="0.0.0.0", database_url="", encryption_key="")
    found = "\n".join(production.problems(settings))
    for setting in (
        "KCC_AUTH_SECRET is the development key",
        "KCC_CITIZEN_KEY_SECRET is the development key",
        "KCC_CITIZEN_KEY_VERSION is empty",
        "KCC_QUESTION_KEY_SECRET is the development key",
        "KCC_ENCRYPTION_KEY is empty",
        "KCC_DATABASE_URL is empty",
        "KCC_HOST=0.0.0.0 serves plaintext gRPC off loopback",
    ):
        assert setting in found, found
    # The same settings are fine for development.
    assert production.problems(dataclasses.replace(settings, env="development")) == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"auth_keys": f"new:{'n' * 40},old:{DEV_SECRET}"}, "KCC_AUTH_KEYS key old is the development key"),
        ({"auth_keys": "", "auth_secret": "short"}, "KCC_AUTH_SECRET is shorter than 32"),
        ({"auth_keys": "no-colon-here"}, "KCC_AUTH_KEYS entry 1 is not `kid:secret`"),
        ({"auth_keys": f"k:{'a' * 40},k:{'b' * 40}"}, "KCC_AUTH_KEYS names key id k twice"),
        ({"citizen_key_secret": DEV_SECRET + "-citizen"}, "KCC_CITIZEN_KEY_SECRET is the development key"),
        ({"citizen_key_version": "v 2"}, "KCC_CITIZEN_KEY_VERSION must be"),
        ({"question_key_secret": DEV_SECRET + "-question"}, "KCC_QUESTION_KEY_SECRET is the development key"),
        ({"question_key_secret": "short"}, "KCC_QUESTION_KEY_SECRET is shorter than 32"),
        ({"encryption_key": "not-a-fernet-key"}, "KCC_ENCRYPTION_KEY key 1 is not a Fernet key"),
        ({"database_url": "sqlite:////tmp/x.db"}, "KCC_DATABASE_URL must be a postgresql:// URL"),
        ({"tls_key": ""}, "KCC_TLS_CERT and KCC_TLS_KEY go together"),
        ({"env": "prod"}, "KCC_ENV must be one of development, production"),
    ],
)
def test_each_wrong_setting_is_named(tmp_path: Path, changes: dict[str, object], expected: str) -> None:
    found = production.problems(production_settings(tmp_path, **changes))
    assert any(expected in p for p in found), found


def test_a_service_needs_only_the_keys_it_uses(tmp_path: Path) -> None:
    """Tenancy and routing never read personal data: they run without its keys; callbacks does not."""
    without = production_settings(tmp_path, citizen_key_secret=DEV_SECRET + "-citizen", encryption_key="")
    assert production.problems(without, "tenancy") == production.problems(without, "routing") == []
    found = "\n".join(production.problems(without, "callbacks"))
    assert "KCC_CITIZEN_KEY_SECRET" in found and "KCC_ENCRYPTION_KEY" in found
    assert production.problems(without) == production.problems(without, "callbacks")

    # the question key is routing's and tenancy's (partners hold the citizen key's secret)
    no_question_key = production_settings(tmp_path, question_key_secret=DEV_SECRET + "-question")
    for service in ("tenancy", "routing"):
        assert production.problems(no_question_key, service) == [
            "KCC_QUESTION_KEY_SECRET is the development key (or unset)"
        ]
    assert production.problems(no_question_key, "callbacks") == []


@pytest.mark.parametrize("service", SERVED)
def test_every_service_refuses_the_development_key_and_plaintext_off_loopback(tmp_path: Path, service: str) -> None:
    """Webhooks and the wallboard too; only the services with a database need KCC_DATABASE_URL."""
    assert production.KEYS_USED.keys() == set(SERVED)
    found = "\n".join(
        production.problems(production_settings(tmp_path, auth_keys="", tls_cert="", tls_key=""), service)
    )
    assert "KCC_AUTH_SECRET is the development key" in found and "KCC_HOST=0.0.0.0 serves plaintext" in found
    without_database = production.problems(production_settings(tmp_path, database_url=""), service)
    if service in db_cli.APPS:
        assert any("KCC_DATABASE_URL is empty" in p for p in without_database), without_database
    else:
        assert without_database == []


def test_the_development_encryption_key_is_refused_too(tmp_path: Path) -> None:
    dev_key = production.development_fernet_key(DEV_SECRET).decode()
    found = production.problems(
        production_settings(tmp_path, encryption_key=f"{Fernet.generate_key().decode()},{dev_key}")
    )
    assert found == ["KCC_ENCRYPTION_KEY holds the development key"]


def test_messages_never_carry_a_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-value-that-must-not-be-logged"
    settings = production_settings(
        tmp_path, auth_keys=f"k:{secret}", citizen_key_secret=secret, encryption_key=secret + "x"
    )
    assert secret not in str(production.ConfigError(production.problems(settings)))


async def test_the_service_refuses_before_binding_its_port(tmp_path: Path) -> None:
    port = free_port()
    app = TenancyApp(production_settings(tmp_path, auth_keys="", database_url=""))
    with pytest.raises(production.ConfigError) as refused:
        await app.start(port)
    assert "KCC_AUTH_SECRET" in str(refused.value) and "KCC_DATABASE_URL" in str(refused.value)
    assert app.server is None
    with socket.socket() as probe:
        probe.bind(("0.0.0.0", port))  # still free: nothing was bound
    assert not (tmp_path / "var").exists()  # and no SQLite file was made


@pytest.mark.parametrize("service", ["callbacks", "webhooks", "wallboard"])
def test_kcc_serve_exits_non_zero_with_the_message(tmp_path: Path, service: str) -> None:
    env = {**DEVELOPMENT_ENV, "KCC_ENV": "production", "KCC_HOST": "0.0.0.0", "KCC_DATA_DIR": str(tmp_path)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "serve", service],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1, done.stderr
    assert time.monotonic() - started < 15
    assert f"kcc serve {service}: refusing to start" in done.stderr
    expected = {"KCC_AUTH_SECRET", "KCC_TLS_CERT"} | (
        {"KCC_ENCRYPTION_KEY", "KCC_DATABASE_URL"} if service == "callbacks" else set()
    )
    for setting in ("KCC_AUTH_SECRET", "KCC_ENCRYPTION_KEY", "KCC_DATABASE_URL", "KCC_TLS_CERT"):
        assert (setting in done.stderr) == (setting in expected), (setting, done.stderr)
    assert "Traceback" not in done.stderr
    assert DEV_SECRET not in done.stderr + done.stdout


@pytest.fixture
def server_tls(tmp_path: Path) -> tuple[bytes, str, str]:
    """A CA and a server certificate for 127.0.0.1: the CA's PEM, and the certificate's and key's paths."""
    directory = tmp_path / "pki"
    directory.mkdir()
    ca = make_ca("KCC production test CA")
    san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert, key = write_pem(directory, "server", make_leaf(ca, "tenancy", ExtendedKeyUsageOID.SERVER_AUTH, san))
    return Path(write_pem(directory, "ca", ca)[0]).read_bytes(), cert, key


async def test_a_production_service_serves_tls_and_plaintext_health_only(
    tmp_path: Path, nats_url: str, postgres_url: str, server_tls: tuple[bytes, str, str]
) -> None:
    ca, cert, key = server_tls
    health_port = free_port()
    settings = production_settings(
        tmp_path,
        nats_url=nats_url,
        database_url=postgres_url,
        host="127.0.0.1",
        tls_cert=cert,
        tls_key=key,
        health_port=health_port,
        migrate_at_start=True,
    )
    app = TenancyApp(settings)
    port = await app.start(0)
    try:
        # The kubelet's probe: plaintext, health only.
        async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
            with pytest.raises(grpc.aio.AioRpcError) as no_api:
                await tenancy_pb2_grpc.TenancyServiceStub(channel).ListTenants(
                    tenancy_pb2.ListTenantsRequest(), timeout=5
                )
            assert no_api.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # The API port speaks TLS only.
        credentials = grpc.ssl_channel_credentials(ca)
        async with grpc.aio.secure_channel(f"127.0.0.1:{port}", credentials) as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await app.stop(0.5)
    # After stop the probe fails at once (a draining pod leaves the Service's endpoints).
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        with pytest.raises(grpc.aio.AioRpcError):
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=2)


# -- a command that lacks credentials fails at once -----------------------------------------------


def test_a_client_command_without_a_token_fails_at_once_in_production() -> None:
    with pytest.raises(SystemExit, match="set KCC_TOKEN"):
        client.token(Settings(env="production"))
    with pytest.raises(SystemExit, match="set KCC_TOKEN"):
        client.token(Settings(auth_keys=AUTH))


def test_issue_token_signs_with_the_production_keys_and_refuses_the_development_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for key in [k for k in os.environ if k.startswith("KCC_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KCC_ENV", "production")
    command = ["auth", "issue-token", "--subject", "onboarding", "--role", "platform_admin"]
    with pytest.raises(SystemExit, match="KCC_AUTH_SECRET is the development key"):
        cli.main(command)
    # A pod that holds only the token keys (tenancy) can mint an admin token.
    monkeypatch.setenv("KCC_AUTH_KEYS", AUTH)
    assert cli.main(command) == 0
    token = capsys.readouterr().out.strip()
    assert auth.verify_token(auth.KeyRing.of(Settings()), token).role == auth.Role.PLATFORM_ADMIN


@pytest.fixture
def secured_nats(tmp_path: Path) -> Iterator[tuple[NatsServer, natsauth.LocalPasswords]]:
    """A nats-server with the services' users (as `kcc up` and deploy/ configure it)."""
    passwords = natsauth.LocalPasswords(tmp_path / "credentials", environ={})
    for server in running_nats(NatsServer(tmp_path / "nats", config=passwords.server_config())):
        yield server, passwords


async def _purge_fails(settings: Settings) -> str:
    started = time.monotonic()
    with pytest.raises(SystemExit) as failed:
        await purge_once(settings)
    assert time.monotonic() - started < 10
    return str(failed.value)


async def test_purge_without_nats_credentials_names_them(
    tmp_path: Path, secured_nats: tuple[NatsServer, natsauth.LocalPasswords]
) -> None:
    server, _ = secured_nats
    message = await _purge_fails(Settings(data_dir=tmp_path / "var", nats_url=server.url))
    assert "requires a user" in message and "KCC_NATS_USER" in message and "KCC_NATS_PASSWORD" in message


async def test_purge_with_a_wrong_password_says_it_was_refused(
    tmp_path: Path, secured_nats: tuple[NatsServer, natsauth.LocalPasswords]
) -> None:
    server, _ = secured_nats
    settings = Settings(data_dir=tmp_path / "var", nats_url=server.url, nats_user="callbacks", nats_password="wrong")
    message = await _purge_fails(settings)
    assert "refused user callbacks" in message and "wrong" not in message


async def test_purge_with_an_unreachable_server_says_so(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var", nats_url=f"nats://user:pw@127.0.0.1:{free_port()}")
    message = await _purge_fails(settings)
    assert "cannot reach NATS at 127.0.0.1:" in message and "pw" not in message


async def test_purge_with_its_credentials_runs(
    tmp_path: Path,
    secured_nats: tuple[NatsServer, natsauth.LocalPasswords],
    capsys: pytest.CaptureFixture[str],
) -> None:
    server, passwords = secured_nats
    settings = Settings(
        data_dir=tmp_path / "var",
        nats_url=server.url,
        nats_user="callbacks",
        nats_password=passwords.get("callbacks"),
    )
    assert await purge_once(settings) == 0
    assert '"total": 0' in capsys.readouterr().out


@pytest.mark.parametrize("command", ["plan", "simulate"])
def test_planning_from_history_without_nats_credentials_names_them(
    secured_nats: tuple[NatsServer, natsauth.LocalPasswords], monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    """It said `cannot reach NATS ... NoServersError()` after retrying, of a server that was there."""
    server, _ = secured_nats
    monkeypatch.setenv("KCC_NATS_URL", server.url)
    monkeypatch.delenv("KCC_NATS_USER", raising=False)
    started = time.monotonic()
    with pytest.raises(SystemExit, match=f"kcc {command}: NATS at .* requires a user: set KCC_NATS_USER"):
        cli.main([command, "--from-history", "--history-days", "7"])
    assert time.monotonic() - started < 10
