"""Phone numbers and the pseudonymous citizen key derived from them.

Routing and callbacks both compute the key with the same secret, so a repeat
contact is recognised without either service holding the other's data.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from services.common.config import Settings
from services.common.errors import invalid_argument

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
SHORT_NUMBER = re.compile(r"^14\d{3}$")  # 14 + area code: a gemeente's general number


def normalise_phone(field: str, value: str, allow_short: bool = False) -> str:
    """E.164 from what people type: `06 12345678`, `0031 24 ...`, `+31 (0)24 ...`."""
    digits = re.sub(r"[\s\-().]", "", value or "").replace("+31(0)", "+31")
    if digits.startswith("+310"):
        digits = "+31" + digits[4:]
    if allow_short and SHORT_NUMBER.fullmatch(digits.removeprefix("0")):
        return digits.removeprefix("0")
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    elif digits.startswith("0"):
        digits = "+31" + digits[1:]
    if not E164.fullmatch(digits):
        raise invalid_argument(field, "not a phone number (E.164 or Dutch notation)")
    return digits


def citizen_key(secret: str, phone_e164: str, version: str = "") -> str:
    """The keyed hash, prefixed with the secret's version (`v2.` + 32 hex) when it has one: after a
    rotation, keys under the old and new secret are never compared as if they were alike."""
    digest = hmac.new(secret.encode(), phone_e164.encode(), hashlib.sha256).hexdigest()[:32]
    return f"{version}.{digest}" if version else digest


def key_version(key: str) -> str:
    """The version a citizen key was made under ("" for an unversioned key)."""
    version, sep, _ = key.rpartition(".")
    return version if sep else ""


def current_key(settings: Settings, phone_e164: str) -> str:
    """The key under the configured secret and version: what callbacks stores and partners send."""
    return citizen_key(settings.citizen_key_secret, phone_e164, settings.citizen_key_version)
