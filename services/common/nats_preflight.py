"""A command-line tool's first contact with NATS: one quick try that fails with a clear message.

A service reconnects forever, which is right for a long-running process; a command run by an
operator should say at once that the server is unreachable or refuses its credentials.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import nats
from nats.errors import Error as NatsError

from services.common.config import Settings

TIMEOUT_SECONDS = 5.0


def _servers(settings: Settings) -> str:
    """host:port of each server, without any credentials a URL might hold."""
    return ", ".join(f"{urlsplit(url).hostname}:{urlsplit(url).port or 4222}" for url in settings.nats_servers)


async def check(settings: Settings, command: str) -> None:
    """Connects once and disconnects; SystemExit naming the cause if that fails within seconds."""

    async def quiet(_: Exception) -> None:
        """Errors are reported once below, not logged on every try."""

    options: dict[str, object] = {
        "allow_reconnect": False,
        "max_reconnect_attempts": 1,  # nats-py reads 0 as "forever"
        "reconnect_time_wait": 0.2,
        "connect_timeout": 2,
        "error_cb": quiet,
    }
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    try:
        nc = await asyncio.wait_for(nats.connect(servers=settings.nats_servers, **options), TIMEOUT_SECONDS)  # type: ignore[arg-type]
    except NatsError as exc:
        if "authorization" not in str(exc).lower():
            raise SystemExit(f"{command}: cannot reach NATS at {_servers(settings)} (KCC_NATS_URL)") from exc
        if not settings.nats_user:
            raise SystemExit(
                f"{command}: NATS at {_servers(settings)} requires a user: set KCC_NATS_USER and KCC_NATS_PASSWORD"
            ) from exc
        raise SystemExit(
            f"{command}: NATS at {_servers(settings)} refused user {settings.nats_user}: "
            "check KCC_NATS_USER and KCC_NATS_PASSWORD"
        ) from exc
    except (TimeoutError, OSError) as exc:
        raise SystemExit(f"{command}: cannot reach NATS at {_servers(settings)} (KCC_NATS_URL)") from exc
    await nc.close()
