"""Signatures as in the Standard Webhooks spec, so a receiver can use its libraries or a few lines.

`webhook-signature: v1,<base64 HMAC-SHA256(key, "<webhook-id>.<webhook-timestamp>.<body>")>`.
The timestamp is signed too, so a receiver refuses a captured request replayed later. The key
is the secret's UTF-8 bytes; a secret of the spec's form `whsec_<base64>` is the decoded bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

PREFIX = "whsec_"


def key_of(secret: str) -> bytes:
    if secret.startswith(PREFIX):
        return base64.b64decode(secret[len(PREFIX) :])
    return secret.encode()


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value."""
    signed = f"{event_id}.{timestamp}.".encode() + body
    digest = hmac.new(key_of(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(secret: str, event_id: str, timestamp: int, body: bytes, header: str) -> bool:
    """What a receiver does: one of the space-separated signatures must match."""
    expected = signature(secret, event_id, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in header.split())
