"""Client side of the platform: channels to the services and the caller's credentials."""

from __future__ import annotations

import os

import grpc

from services.common import auth
from services.common.config import DEV_SECRET, Settings


def token(settings: Settings) -> str:
    """KCC_TOKEN if set; on a local set-up with the development key, a short-lived admin token."""
    configured = os.environ.get("KCC_TOKEN", "")
    if configured:
        return configured
    if settings.auth_secret != DEV_SECRET:
        raise SystemExit("set KCC_TOKEN (see `kcc auth issue-token`)")
    return auth.issue_token(settings.auth_secret, "local-admin", auth.Role.PLATFORM_ADMIN, ttl_seconds=3600)


def metadata(bearer: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {bearer}"),)


def channel(settings: Settings, service: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(settings.target(service))
