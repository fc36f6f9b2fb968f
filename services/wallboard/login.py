"""Who looks at the wallboard: one-time login links and the session cookie they set.

`kcc wallboard link` signs a short-lived link for a viewer with the platform's token key.
Visiting it once sets an HttpOnly cookie holding a signed session, so later URLs carry no
token; a second visit is refused. Which link ids were used is kept in a JetStream KV bucket
(created with `create`, which fails for a key that exists), so two wallboard replicas refuse
the same second visit. Sessions are signed, not stored: a restarted wallboard still knows them.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from services.common.auth import KeyRing

if TYPE_CHECKING:  # the token and NATS libraries load where a link is signed or redeemed, not for `kcc --help`
    from nats.js.kv import KeyValue

    from services.common.events import EventBus

ISSUER = "kcc-wallboard"
LINK_AUDIENCE = "wallboard-link"
SESSION_AUDIENCE = "wallboard-session"
LINK_TTL_SECONDS = 15 * 60
SESSION_TTL_SECONDS = 12 * 3600
COOKIE = "kcc_wallboard"
USED_LINKS_BUCKET = "wallboard-links"


class ViewerRole(StrEnum):
    TRAFFICER = "trafficer"  # every gemeente; may steer agents and overflow
    PLATFORM_ADMIN = "platform_admin"  # the same, for the platform's administrators
    TENANT = "tenant"  # a gemeente's own people: their gemeente only, read only
    DEPARTMENT = "department"  # one department of one gemeente: its callbacks and accountability only


class LoginRefused(Exception):
    """A link or session that does not let the visitor in; the text is safe to show."""


class LoginUnavailable(Exception):
    """The used-links bucket cannot be asked now; the link may be tried again."""


@dataclass(frozen=True)
class Viewer:
    subject: str
    role: ViewerRole
    tenants: frozenset[str] = frozenset()
    expires_at: float = 0.0  # of the session: its event stream ends then
    department: str = ""  # the department id of a department viewer, e.g. `burgerzaken`

    @property
    def all_tenants(self) -> bool:
        return self.role in (ViewerRole.TRAFFICER, ViewerRole.PLATFORM_ADMIN)

    @property
    def may_act(self) -> bool:
        return self.all_tenants

    def sees(self, tenant: str) -> bool:
        return self.all_tenants or tenant in self.tenants


def viewer_for(role: str, tenants: list[str], subject: str = "", department: str = "") -> Viewer:
    """Checks what a link may grant: a tenant viewer needs a gemeente, a department viewer one
    gemeente and one department."""
    try:
        viewer_role = ViewerRole(role)
    except ValueError:
        raise ValueError(f"role must be one of {', '.join(r.value for r in ViewerRole)}") from None
    if viewer_role == ViewerRole.TENANT and not tenants:
        raise ValueError("a tenant viewer needs --tenant")
    if viewer_role == ViewerRole.DEPARTMENT and (len(tenants) != 1 or not department):
        raise ValueError("a department viewer needs one --tenant and --department")
    if department and viewer_role != ViewerRole.DEPARTMENT:
        raise ValueError("--department goes with --role department")
    subject = subject or f"{viewer_role.value}-{uuid.uuid4().hex[:8]}"
    return Viewer(subject, viewer_role, frozenset(tenants), department=department)


def _sign(keys: KeyRing, viewer: Viewer, audience: str, ttl: int, **extra: object) -> str:
    kid, secret = keys.keys[0]
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": audience,
        "sub": viewer.subject,
        "role": viewer.role.value,
        "tenants": sorted(viewer.tenants),
        "department": viewer.department,
        "iat": now,
        "exp": now + ttl,
        **extra,
    }
    import jwt

    return jwt.encode(claims, secret, algorithm="HS256", headers={"kid": kid})


def _verify(keys: KeyRing, token: str, audience: str, now: float | None = None) -> tuple[Viewer, dict[str, object]]:
    """The viewer and claims of a valid token; expiry is read against `now` (the wallboard's clock)."""
    import jwt

    try:
        secret = keys.secret(str(jwt.get_unverified_header(token).get("kid", "")))
        if secret is None:
            raise LoginRefused("this link was signed with an unknown key")
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=ISSUER,
            audience=audience,
            options={"require": ["exp", "sub"], "verify_exp": False},
        )
        if float(claims["exp"]) <= (time.time() if now is None else now):
            raise jwt.ExpiredSignatureError
        viewer = Viewer(
            str(claims["sub"]),
            ViewerRole(claims["role"]),
            frozenset(claims.get("tenants") or []),
            float(claims["exp"]),
            str(claims.get("department") or ""),
        )
    except jwt.ExpiredSignatureError:
        raise LoginRefused("this link or session has expired; ask for a new link") from None
    except (jwt.PyJWTError, KeyError, ValueError):
        raise LoginRefused("not a valid wallboard login") from None
    return viewer, claims


def issue_link(keys: KeyRing, viewer: Viewer) -> str:
    """The token of a one-time login link (goes in `/login?token=`)."""
    return _sign(keys, viewer, LINK_AUDIENCE, LINK_TTL_SECONDS, jti=uuid.uuid4().hex)


def session_cookie(keys: KeyRing, viewer: Viewer, ttl: int = SESSION_TTL_SECONDS) -> str:
    return _sign(keys, viewer, SESSION_AUDIENCE, ttl)


def viewer_of_session(keys: KeyRing, cookie: str, now: float | None = None) -> Viewer:
    return _verify(keys, cookie, SESSION_AUDIENCE, now)[0]


async def redeem_link(keys: KeyRing, bus: EventBus, used: KeyValue, token: str) -> Viewer:
    """The viewer a link names, once: the link's id is created in the bucket, which fails if it exists.
    Not while the NATS connection is down: the client would keep the mark and send it on
    reconnecting, and the link would read as used without anyone let in. A bucket that does not
    answer (an election) is asked again for a publish's budget, then the login is refused for now."""
    import nats.errors
    from nats.js.errors import KeyWrongLastSequenceError

    from services.common.events import EventBusUnavailable

    viewer, claims = _verify(keys, token, LINK_AUDIENCE)
    link_id = str(claims.get("jti") or "")
    if not link_id.isalnum():
        raise LoginRefused("not a valid wallboard login")
    if not bus.nc.is_connected:
        raise LoginUnavailable("NATS connection down")
    try:
        # when, and a nonce: a retry that meets this very mark knows it for its own
        mark = f"{int(time.time())} {uuid.uuid4().hex}".encode()
        await bus.kv_write("a login link's mark", used, link_id, mark)
    except KeyWrongLastSequenceError:
        raise LoginRefused("this login link was used already; ask for a new one") from None
    except (EventBusUnavailable, nats.errors.Error) as exc:
        raise LoginUnavailable(type(exc).__name__) from exc
    return viewer
