"""Paging and filters of the List RPCs (aip.dev/158, aip.dev/160 in its simplest form)."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session

from services.common import paging
from services.common.errors import invalid_argument

FILTER_TERM = re.compile(r"^(\w+)(=|:)(.+)$")


def page(session: Session, stmt: Any, size: int, token: str, query: str) -> tuple[list[Any], str]:
    """One page of `stmt` and the token of the next; `query` binds the token to parent and filter."""
    offset = paging.decode(token, query)
    rows = list(session.exec(stmt.offset(offset).limit(size + 1)))
    return rows[:size], paging.next_token(offset, size, len(rows), query)


def parse_filter(text: str, allowed: set[str]) -> list[tuple[str, str, str]]:
    """`field=value AND field:"part"` as (field, operator, value) terms; a bad term is named by its number."""
    terms = []
    raws = filter(None, (t.strip() for t in re.split(r"\s+AND\s+", text or "")))
    for number, raw in enumerate(raws, start=1):
        match = FILTER_TERM.match(raw)
        if not match or match.group(1) not in allowed:
            expected = f'field=value or field:"text" with a field of {sorted(allowed)}'
            raise invalid_argument("filter", f"term {number} is not {expected}")
        terms.append((match.group(1), match.group(2), match.group(3).strip().strip('"')))
    return terms
