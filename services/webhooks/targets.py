"""Which callback URLs the platform may post to: no server-side request forgery into the cluster.

In production a URL must be HTTPS and every address its host resolves to must be public: no
loopback, private (RFC 1918, fc00::/7), link-local (cloud metadata at 169.254.169.254),
carrier-grade NAT, multicast or reserved range. The check runs when a subscription is made and
again before every post, so a name that later resolves inwards is refused then. Outside
production HTTP is allowed on loopback only, for a receiver on the developer's machine.
The HTTP client resolves the name once more when it connects, so a name answering differently
within that moment (DNS rebinding) is not caught here: deploy/'s NetworkPolicy
`webhooks-partners-out` closes the same ranges at the network.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from services.common.errors import invalid_argument
from services.common.production import is_loopback

MAX_URL = 512


class RefusedTarget(Exception):
    """The URL may not be posted to; the message says why without repeating it."""


def _parts(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise RefusedTarget("must be an http(s) URL with a host and without credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise RefusedTarget("has an invalid port") from exc
    return parts.scheme, parts.hostname, port


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


async def _addresses(host: str, port: int) -> list[str]:
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise RefusedTarget("has a host that does not resolve") from exc
    return sorted({str(info[4][0]) for info in infos})


async def check(url: str, production: bool) -> None:
    """Raises RefusedTarget when the platform must not post to `url`."""
    if len(url) > MAX_URL:
        raise RefusedTarget(f"is longer than {MAX_URL} characters")
    scheme, host, port = _parts(url)
    if not production:
        if scheme == "http" and not is_loopback(host):
            raise RefusedTarget("must be https (http only on loopback outside production)")
        return
    if scheme != "https":
        raise RefusedTarget("must be https in production")
    addresses = await _addresses(host, port)
    if not addresses or not all(_public(a) for a in addresses):
        raise RefusedTarget("resolves to a loopback, private or reserved address, refused in production")


async def check_field(field: str, url: str, production: bool) -> None:
    """`check` for a request field: INVALID_ARGUMENT with reason URL_REFUSED."""
    try:
        await check(url, production)
    except RefusedTarget as exc:
        raise invalid_argument(field, str(exc), reason="URL_REFUSED") from None
