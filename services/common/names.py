"""Resource names (aip.dev/122) such as `tenants/gm0268/departments/burgerzaken`, parsed strictly.

An error names the field and the expected shape, never the value (it may be personal data).
"""

from __future__ import annotations

import re

from services.common.errors import invalid_argument

TENANT_ID = re.compile(r"^gm\d{4}$")
RESOURCE_ID = re.compile(r"^[a-z0-9][a-z0-9_\-().]{0,62}$", re.IGNORECASE)
REQUEST_ID_MAX = 128


def check_id(field: str, value: str, pattern: re.Pattern[str] = RESOURCE_ID) -> str:
    if not pattern.fullmatch(value or ""):
        raise invalid_argument(field, f"is not a valid id (pattern {pattern.pattern})")
    return value


def check_tenant_id(field: str, value: str) -> str:
    return check_id(field, value, TENANT_ID)


def parse(field: str, name: str, *collections: str) -> list[str]:
    """Splits `tenants/{a}/departments/{b}` by the expected collection ids; returns [a, b]."""
    parts = (name or "").split("/")
    if len(parts) != 2 * len(collections) or any(parts[2 * i] != c for i, c in enumerate(collections)):
        pattern = "/".join(f"{c}/{{id}}" for c in collections)
        raise invalid_argument(field, f"does not match {pattern}")
    ids = parts[1::2]
    check_tenant_id(field, ids[0]) if collections[0] == "tenants" else check_id(field, ids[0])
    for i in ids[1:]:
        check_id(field, i)
    return ids


def tenant_of(field: str, name: str) -> str:
    """The tenant id of any name under `tenants/{tenant}/...`."""
    parts = (name or "").split("/")
    if len(parts) < 2 or parts[0] != "tenants":
        raise invalid_argument(field, "is not under tenants/{tenant}")
    return check_tenant_id(field, parts[1])


def check_request_id(value: str) -> str:
    if len(value) > REQUEST_ID_MAX:
        raise invalid_argument("request_id", f"longer than {REQUEST_ID_MAX} characters")
    return value
