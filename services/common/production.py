"""Configuration that fails closed: with KCC_ENV=production a service refuses to start on a
development key or a missing setting, and names every problem at once so one restart fixes all.

Messages name settings, never their values: a secret must not reach a log.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re

from services.common.config import DEV_SECRET, Settings

ENVIRONMENTS = ("development", "production")
MIN_SECRET_LENGTH = 32
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
DEFAULT_KEY_ID = "default"
# The keys each service reads: a service is not refused for a key it never uses, so each holds
# only its own (deploy/ gives the personal-data keys to callbacks alone).
ALL_KEYS = frozenset({"auth", "citizen", "encryption", "question"})
KEYS_USED = {
    "tenancy": frozenset({"auth", "question"}),  # keeps unknown correction words hashed
    "routing": frozenset({"auth", "question"}),  # hashes the questions agents correct
    "callbacks": frozenset({"auth", "citizen", "encryption"}),
    "webhooks": frozenset({"auth"}),
    "wallboard": frozenset({"auth"}),  # mints its service token and signs login links
}
# Services that keep everything in JetStream (or, the wallboard, read the others): no database setting to check.
WITHOUT_DATABASE = frozenset({"webhooks", "wallboard"})


class ConfigError(ValueError):
    """Settings a service must not run with; the message lists each one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("refusing to start:\n" + "\n".join(f"  - {p}" for p in problems))
        self.problems = problems


def auth_keys(settings: Settings) -> tuple[tuple[str, str], ...]:
    """(key id, secret) pairs, newest first, from KCC_AUTH_KEYS or else KCC_AUTH_SECRET alone."""
    if not settings.auth_keys.strip():
        return ((DEFAULT_KEY_ID, settings.auth_secret),)
    pairs: list[tuple[str, str]] = []
    for number, item in enumerate(settings.auth_keys.split(","), 1):
        kid, sep, secret = item.strip().partition(":")
        if not sep or not KEY_ID.fullmatch(kid) or not secret:
            raise ConfigError([f"KCC_AUTH_KEYS entry {number} is not `kid:secret` (kid: letters, digits, - or _)"])
        if kid in (k for k, _ in pairs):
            raise ConfigError([f"KCC_AUTH_KEYS names key id {kid} twice"])
        pairs.append((kid, secret))
    return tuple(pairs)


def encryption_keys(settings: Settings) -> list[bytes]:
    """The Fernet keys of KCC_ENCRYPTION_KEY, newest first; each must be 32 bytes in urlsafe base64."""
    keys = [k.strip() for k in settings.encryption_key.split(",") if k.strip()]
    for number, key in enumerate(keys, 1):
        try:
            valid = len(base64.urlsafe_b64decode(key.encode())) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise ConfigError([f"KCC_ENCRYPTION_KEY key {number} is not a Fernet key (32 bytes, urlsafe base64)"])
    return [k.encode() for k in keys]


def is_loopback(host: str) -> bool:
    """Whether a host name or address (IPv6 in brackets too) is this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def auth_problems(settings: Settings) -> list[str]:
    """What is wrong with the token keys: malformed always, development or short in production."""
    try:
        keys = auth_keys(settings)
    except ConfigError as exc:
        return exc.problems
    if settings.env != "production":
        return []
    found = []
    for kid, secret in keys:
        where = "KCC_AUTH_KEYS key " + kid if settings.auth_keys.strip() else "KCC_AUTH_SECRET"
        if DEV_SECRET in secret:
            found.append(f"{where} is the development key (or unset): generate one, see deploy/README.md")
        elif len(secret) < MIN_SECRET_LENGTH:
            found.append(f"{where} is shorter than {MIN_SECRET_LENGTH} characters")
    return found


def problems(settings: Settings, service: str = "") -> list[str]:
    """Everything wrong for the configured environment; empty when the service may start.
    `service` limits the key checks to the keys that service uses (default: all)."""
    if settings.env not in ENVIRONMENTS:
        return [f"KCC_ENV must be one of {', '.join(ENVIRONMENTS)}"]
    used = KEYS_USED.get(service, ALL_KEYS)
    found = auth_problems(settings) if "auth" in used else []
    try:
        fernet_keys = encryption_keys(settings)
    except ConfigError as exc:
        found += exc.problems
        fernet_keys = []
    if settings.citizen_key_version and not KEY_ID.fullmatch(settings.citizen_key_version):
        found.append("KCC_CITIZEN_KEY_VERSION must be letters, digits, - or _ (at most 32)")
    if settings.env != "production":
        return found
    if "citizen" in used:
        if DEV_SECRET in settings.citizen_key_secret:
            found.append("KCC_CITIZEN_KEY_SECRET is the development key (or unset)")
        elif len(settings.citizen_key_secret) < MIN_SECRET_LENGTH:
            found.append(f"KCC_CITIZEN_KEY_SECRET is shorter than {MIN_SECRET_LENGTH} characters")
        if not settings.citizen_key_version:
            found.append("KCC_CITIZEN_KEY_VERSION is empty: citizen keys must carry their secret's version")
    if "question" in used:
        if DEV_SECRET in settings.question_key_secret:
            found.append("KCC_QUESTION_KEY_SECRET is the development key (or unset)")
        elif len(settings.question_key_secret) < MIN_SECRET_LENGTH:
            found.append(f"KCC_QUESTION_KEY_SECRET is shorter than {MIN_SECRET_LENGTH} characters")
    if "encryption" in used:
        if not settings.encryption_key.strip():
            found.append("KCC_ENCRYPTION_KEY is empty: personal data would be encrypted with a development key")
        elif development_fernet_key(DEV_SECRET) in fernet_keys:
            found.append("KCC_ENCRYPTION_KEY holds the development key")
    database = settings.database_url
    if service not in WITHOUT_DATABASE and not database:
        found.append("KCC_DATABASE_URL is empty: production keeps its data in PostgreSQL, not SQLite in the container")
    elif service not in WITHOUT_DATABASE and not database.startswith(("postgresql://", "postgresql+psycopg://")):
        found.append("KCC_DATABASE_URL must be a postgresql:// URL in production")
    if not is_loopback(settings.host) and not settings.tls_cert:
        found.append(f"KCC_HOST={settings.host} serves plaintext gRPC off loopback: set KCC_TLS_CERT and KCC_TLS_KEY")
    if bool(settings.tls_cert) != bool(settings.tls_key):
        found.append("KCC_TLS_CERT and KCC_TLS_KEY go together: one of them is empty")
    return found


def check(settings: Settings, service: str = "") -> None:
    """Raises ConfigError naming every problem; called before a service binds anything."""
    found = problems(settings, service)
    if found:
        raise ConfigError(found)


def development_fernet_key(auth_secret: str) -> bytes:
    """The Fernet key a development set-up derives from the token secret, so `kcc up` needs no key."""
    return base64.urlsafe_b64encode(hashlib.sha256(b"kcc-callbacks-encryption-key:" + auth_secret.encode()).digest())
