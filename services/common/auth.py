"""Who is calling: bearer tokens signed by the platform become a `Principal`.

The principal lives in a context variable for the length of one RPC, so the data
layer can scope every query by it without handlers passing it around.
"""

from __future__ import annotations

import contextvars
import time
from dataclasses import dataclass, field
from enum import StrEnum

from services.common import production
from services.common.config import Settings
from services.common.errors import permission_denied, unauthenticated

ISSUER = "kcc-platform"


class Role(StrEnum):
    PLATFORM_ADMIN = "platform_admin"
    TENANT_INTEGRATION = "tenant_integration"
    AGENT = "agent"
    DEPARTMENT_USER = "department_user"
    SERVICE = "service"  # the platform's own services calling each other


@dataclass(frozen=True)
class Principal:
    subject: str
    role: Role
    tenants: frozenset[str] = field(default_factory=frozenset)
    department: str = ""

    @property
    def all_tenants(self) -> bool:
        return self.role in (Role.PLATFORM_ADMIN, Role.SERVICE)

    def may_access(self, tenant: str) -> bool:
        return self.all_tenants or tenant in self.tenants

    def require_tenant(self, tenant: str) -> None:
        """PERMISSION_DENIED for a tenant outside reach, whether or not it exists."""
        if not self.may_access(tenant):
            raise permission_denied(f"{self.role} may not act for tenants/{tenant}")

    def require_role(self, *roles: Role) -> None:
        if self.role not in roles:
            raise permission_denied(f"{self.role} may not call this method")

    def require_department(self, department: str) -> None:
        """Department users see only their own department's worklist."""
        if self.role == Role.DEPARTMENT_USER and department != self.department:
            raise permission_denied("department users may act only on their own department")


_current: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


def current() -> Principal:
    principal = _current.get()
    if principal is None:
        raise unauthenticated("no credentials")
    return principal


def bind(principal: Principal) -> contextvars.Token[Principal | None]:
    return _current.set(principal)


def unbind(token: contextvars.Token[Principal | None]) -> None:
    _current.reset(token)


@dataclass(frozen=True)
class KeyRing:
    """Token keys by id, newest first: the newest signs, every one verifies. A token names its key
    in the `kid` header, so a new key is added, then signs, then the old one goes: no downtime."""

    keys: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, settings: Settings) -> KeyRing:
        return cls(production.auth_keys(settings))

    @classmethod
    def single(cls, secret: str) -> KeyRing:
        return cls(((production.DEFAULT_KEY_ID, secret),))

    def secret(self, kid: str) -> str | None:
        return next((secret for k, secret in self.keys if k == kid), None)


def _ring(keys: str | KeyRing) -> KeyRing:
    return keys if isinstance(keys, KeyRing) else KeyRing.single(keys)


def issue_token(
    keys: str | KeyRing,
    subject: str,
    role: Role,
    tenants: list[str] | None = None,
    department: str = "",
    ttl_seconds: int = 3600,
) -> str:
    """Signs with the newest key of the ring (a plain secret is a ring of one, key id `default`)."""
    import jwt  # here, not at the top: the CLI reads roles without loading the crypto library

    kid, secret = _ring(keys).keys[0]
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "sub": subject,
        "role": role.value,
        "tenants": sorted(tenants or []),
        "department": department,
        "iat": now,
        "exp": now + ttl_seconds,
    }
    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def verify_token(keys: str | KeyRing, token: str) -> Principal:
    import jwt

    try:
        secret = _ring(keys).secret(str(jwt.get_unverified_header(token).get("kid", "")))
        if secret is None:
            raise unauthenticated("invalid token: unknown key id")
        claims = jwt.decode(token, secret, algorithms=["HS256"], issuer=ISSUER, options={"require": ["exp", "sub"]})
        role = Role(claims["role"])
    except (jwt.PyJWTError, KeyError, ValueError) as exc:
        raise unauthenticated(f"invalid token: {type(exc).__name__}") from exc
    return Principal(
        subject=str(claims["sub"]),
        role=role,
        tenants=frozenset(claims.get("tenants") or []),
        department=str(claims.get("department") or ""),
    )


_verified: dict[tuple[str | KeyRing, str], tuple[Principal, float]] = {}


def from_metadata(keys: str | KeyRing, metadata: dict[str, str]) -> Principal:
    """Verifies the bearer token; a verified token is remembered until it expires (hot path)."""
    header = metadata.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise unauthenticated("missing bearer token")
    token = header[7:].strip()
    cached = _verified.get((keys, token))
    if cached is not None and cached[1] > time.time():
        return cached[0]
    principal = verify_token(keys, token)
    import jwt

    if len(_verified) > 10_000:
        _verified.clear()
    _verified[(keys, token)] = (principal, float(jwt.decode(token, options={"verify_signature": False})["exp"]))
    return principal
