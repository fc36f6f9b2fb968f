"""Opaque page tokens (aip.dev/158): an offset bound to the query it came from."""

from __future__ import annotations

import base64
import hashlib
import json

from services.common.errors import invalid_argument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def page_size(requested: int) -> int:
    if requested < 0:
        raise invalid_argument("page_size", "must not be negative")
    return min(requested or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)


def _fingerprint(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()[:12]


def decode(token: str, query: str) -> int:
    """The offset a token points at; the token must belong to the same query (parent and filter)."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset, fingerprint = int(data["o"]), str(data["q"])
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid_argument("page_token", "not a page token from this API") from exc
    if offset < 0 or fingerprint != _fingerprint(query):
        raise invalid_argument("page_token", "belongs to another query")
    return offset


def encode(offset: int, query: str) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "q": _fingerprint(query)}).encode()).decode()


def next_token(offset: int, size: int, returned: int, query: str) -> str:
    """A token for the next page, or "" when this page was the last."""
    return encode(offset + size, query) if returned > size else ""
