"""Client side of the platform: channels to the services and the caller's credentials."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import grpc

from services.common import auth
from services.common.config import DEV_SECRET, Settings


def token(settings: Settings) -> str:
    """KCC_TOKEN if set; on a local set-up with the development key, a short-lived admin token."""
    configured = os.environ.get("KCC_TOKEN", "")
    if configured:
        return configured
    if settings.auth_secret != DEV_SECRET or settings.auth_keys or settings.env == "production":
        raise SystemExit("set KCC_TOKEN (see `kcc auth issue-token`)")
    return auth.issue_token(settings.auth_secret, "local-admin", auth.Role.PLATFORM_ADMIN, ttl_seconds=3600)


def metadata(bearer: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {bearer}"),)


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """TLS when a CA to verify servers is configured, mutual TLS with a client certificate too; None: plaintext."""
    if not settings.tls_ca:
        if settings.tls_client_cert:
            raise ValueError("KCC_TLS_CLIENT_CERT is set but KCC_TLS_CA is not: refusing a plaintext channel")
        return None
    ca = Path(settings.tls_ca).read_bytes()
    if not settings.tls_client_cert:
        return grpc.ssl_channel_credentials(ca)
    key = Path(settings.tls_client_key).read_bytes()
    return grpc.ssl_channel_credentials(ca, key, Path(settings.tls_client_cert).read_bytes())


def channel(settings: Settings, service: str) -> grpc.aio.Channel:
    """An asyncio channel to a service, secured as configured (see channel_credentials)."""
    return _open(grpc.aio, settings, settings.target(service))


def blocking_channel(settings: Settings, target: str) -> grpc.Channel:
    """The same for synchronous callers such as the launcher's health wait."""
    return _open(grpc, settings, target)


def _open(api: Any, settings: Settings, target: str) -> Any:
    """grpc or grpc.aio: both have insecure_channel and secure_channel with the same arguments."""
    credentials = channel_credentials(settings)
    if credentials is None:
        return api.insecure_channel(target)
    options = [("grpc.ssl_target_name_override", settings.tls_server_name)] if settings.tls_server_name else []
    return api.secure_channel(target, credentials, options)
