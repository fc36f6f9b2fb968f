"""TLS and mutual TLS between a real tenancy service and its clients, with certificates the test makes.

The server side is configured by KCC_TLS_CERT / KCC_TLS_KEY (/ KCC_TLS_CLIENT_CA for mutual TLS),
the client side by KCC_TLS_CA (/ KCC_TLS_CLIENT_CERT, KCC_TLS_CLIENT_KEY); here the same fields
are passed to Settings directly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import ipaddress
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from grpc_health.v1 import health_pb2, health_pb2_grpc

from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import client
from services.common.config import Settings
from services.launcher import wait_healthy
from services.tenancy.app import TenancyApp

Metadata = tuple[tuple[str, str], ...]

# -- Certificates -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Issued:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _certificate(subject: str, issuer: Issued | None, extensions: list[tuple[x509.ExtensionType, bool]]) -> Issued:
    """A certificate for `subject`, signed by `issuer` (self-signed when None), valid for a day either side."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.cert.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
        builder = builder.add_extension(aki, critical=False)
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    return Issued(builder.sign(issuer.key if issuer else key, hashes.SHA256()), key)


def make_ca(name: str) -> Issued:
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)  # keyCertSign, cRLSign
    return _certificate(name, None, [(x509.BasicConstraints(ca=True, path_length=None), True), (usage, True)])


def make_leaf(ca: Issued, name: str, purpose: x509.ObjectIdentifier, san: list[x509.GeneralName]) -> Issued:
    extensions: list[tuple[x509.ExtensionType, bool]] = [
        (x509.BasicConstraints(ca=False, path_length=None), True),
        (x509.ExtendedKeyUsage([purpose]), False),
    ]
    if san:
        extensions.append((x509.SubjectAlternativeName(san), False))
    return _certificate(name, ca, extensions)


def write_pem(directory: Path, stem: str, issued: Issued) -> tuple[str, str]:
    """Writes <stem>.crt and <stem>.key; returns their paths."""
    cert, key = directory / f"{stem}.crt", directory / f"{stem}.key"
    cert.write_bytes(issued.cert.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(
        issued.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return str(cert), str(key)


@dataclasses.dataclass(frozen=True)
class Pki:
    """File paths: the trusted CA, a server and a client certificate it signed, and a client of another CA."""

    ca: str
    rogue_ca: str
    server: tuple[str, str]
    client: tuple[str, str]
    rogue_client: tuple[str, str]


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    directory = tmp_path / "pki"
    directory.mkdir()
    ca, rogue_ca = make_ca("KCC test CA"), make_ca("Somebody else's CA")
    server_san: list[x509.GeneralName] = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    return Pki(
        ca=write_pem(directory, "ca", ca)[0],
        rogue_ca=write_pem(directory, "rogue-ca", rogue_ca)[0],
        server=write_pem(directory, "server", make_leaf(ca, "tenancy", ExtendedKeyUsageOID.SERVER_AUTH, server_san)),
        client=write_pem(directory, "client", make_leaf(ca, "kcc-cli", ExtendedKeyUsageOID.CLIENT_AUTH, [])),
        rogue_client=write_pem(
            directory, "rogue-client", make_leaf(rogue_ca, "kcc-cli", ExtendedKeyUsageOID.CLIENT_AUTH, [])
        ),
    )


# -- A real tenancy service with TLS, and clients configured as a caller would ---------------------

Serve = Callable[..., Awaitable[str]]


@pytest.fixture
async def serve(settings: Settings, pki: Pki) -> AsyncIterator[Serve]:
    """Starts tenancy with the test's server certificate; mutual=True requires client certificates of the CA.

    Returns the target, 127.0.0.1:<port>.
    """
    apps: list[TenancyApp] = []

    async def start(mutual: bool = False) -> str:
        cert, key = pki.server
        app = TenancyApp(
            dataclasses.replace(settings, tls_cert=cert, tls_key=key, tls_client_ca=pki.ca if mutual else "")
        )
        apps.append(app)
        return f"127.0.0.1:{await app.start(0)}"

    yield start
    for app in apps:
        await app.stop()


def client_settings(ca: str = "", identity: tuple[str, str] | None = None, server_name: str = "") -> Settings:
    """A client's Settings; every TLS field given, so the test does not depend on the environment."""
    cert, key = identity or ("", "")
    return Settings(tls_ca=ca, tls_client_cert=cert, tls_client_key=key, tls_server_name=server_name)


async def list_tenants(
    monkeypatch: pytest.MonkeyPatch, target: str, settings: Settings, admin: Metadata
) -> tp.ListTenantsResponse:
    """ListTenants through client.channel, the channel every CLI command and the demo use."""
    monkeypatch.setenv("KCC_TENANCY_TARGET", target)
    async with client.channel(settings, "tenancy") as channel:
        return await tenancy_pb2_grpc.TenancyServiceStub(channel).ListTenants(tp.ListTenantsRequest(), metadata=admin)


async def refused(call: Awaitable[object]) -> grpc.aio.AioRpcError:
    """The call fails as a failed connection does: UNAVAILABLE."""
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await call
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE, failure.value
    return failure.value


# -- TLS ----------------------------------------------------------------------------------------


async def test_tls_client_trusting_the_ca_calls_the_service(
    serve: Serve, pki: Pki, admin: Metadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = await serve()
    settings = client_settings(ca=pki.ca)
    monkeypatch.setenv("KCC_TENANCY_TARGET", target)
    async with client.channel(settings, "tenancy") as channel:
        stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
        await stub.CreateTenant(
            tp.CreateTenantRequest(tenant_id="gm0268", tenant=tp.Tenant(display_name="Nijmegen")), metadata=admin
        )
    listed = await list_tenants(monkeypatch, target, settings, admin)
    assert [t.name for t in listed.tenants] == ["tenants/gm0268"]


async def test_tls_server_refuses_plaintext_and_clients_refuse_an_unknown_server(
    serve: Serve, pki: Pki, admin: Metadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = await serve()
    await refused(list_tenants(monkeypatch, target, client_settings(), admin))  # no CA: plaintext
    await refused(list_tenants(monkeypatch, target, client_settings(ca=pki.rogue_ca), admin))


async def test_tls_client_checks_the_server_name(
    serve: Serve, pki: Pki, admin: Metadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate names localhost and 127.0.0.1; KCC_TLS_SERVER_NAME replaces the name checked."""
    target = await serve()
    await list_tenants(monkeypatch, target, client_settings(ca=pki.ca, server_name="localhost"), admin)
    wrong = client_settings(ca=pki.ca, server_name="tenancy.elders.example")
    await refused(list_tenants(monkeypatch, target, wrong, admin))


def test_a_client_certificate_without_a_ca_is_refused_not_sent_in_plaintext(pki: Pki) -> None:
    with pytest.raises(ValueError, match="KCC_TLS_CA"):
        client.channel_credentials(client_settings(identity=pki.client))


# -- Mutual TLS ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identity, accepted",
    [("client", True), (None, False), ("rogue_client", False)],
    ids=["certificate-of-the-ca", "no-certificate", "certificate-of-another-ca"],
)
async def test_mutual_tls_accepts_only_clients_of_the_ca(
    serve: Serve,
    pki: Pki,
    admin: Metadata,
    monkeypatch: pytest.MonkeyPatch,
    identity: str | None,
    accepted: bool,
) -> None:
    target = await serve(mutual=True)
    settings = client_settings(ca=pki.ca, identity=getattr(pki, identity) if identity else None)
    call = list_tenants(monkeypatch, target, settings, admin)
    if accepted:
        assert (await call).tenants == []
    else:
        await refused(call)


# -- Health checks ------------------------------------------------------------------------------


async def health(monkeypatch: pytest.MonkeyPatch, target: str, settings: Settings) -> int:
    """The standard health check of the whole server, through client.channel."""
    monkeypatch.setenv("KCC_TENANCY_TARGET", target)
    async with client.channel(settings, "tenancy") as channel:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        return reply.status


async def test_health_checks_work_over_mutual_tls(serve: Serve, pki: Pki, monkeypatch: pytest.MonkeyPatch) -> None:
    target = await serve(mutual=True)
    settings = client_settings(ca=pki.ca, identity=pki.client)
    await asyncio.to_thread(wait_healthy, target, 60, settings)  # the launcher's wait: SERVING at the first try
    assert await health(monkeypatch, target, settings) == health_pb2.HealthCheckResponse.SERVING
    await refused(health(monkeypatch, target, client_settings(ca=pki.ca)))  # no client certificate
