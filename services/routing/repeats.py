"""Open callbacks by pseudonymous citizen key, fed by callback events: spots repeat contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kcc.events.v1 import events_pb2

OPEN_STATUSES = frozenset({"REQUESTED", "CLAIMED", "ATTEMPTED"})


@dataclass(frozen=True)
class OpenCallback:
    callback: str
    department: str
    product_uri: str
    deadline: datetime | None
    status: str


class RepeatIndex:
    def __init__(self) -> None:
        self._open: dict[tuple[str, str], dict[str, OpenCallback]] = {}

    def apply(self, tenant: str, event: events_pb2.CallbackChanged) -> None:
        """State-based, so applying an event twice changes nothing."""
        if not event.citizen_key:
            return
        key = (tenant, event.citizen_key)
        callbacks = self._open.setdefault(key, {})
        if event.status in OPEN_STATUSES:
            callbacks[event.callback] = OpenCallback(
                callback=event.callback,
                department=event.department,
                product_uri=event.product_uri,
                deadline=event.deadline.ToDatetime() if event.HasField("deadline") else None,
                status=event.status,
            )
        else:
            callbacks.pop(event.callback, None)
        if not callbacks:
            del self._open[key]

    def open_for(self, tenant: str, citizen_key: str) -> list[OpenCallback]:
        if not citizen_key:
            return []
        return list(self._open.get((tenant, citizen_key), {}).values())

    def __len__(self) -> int:
        return sum(len(v) for v in self._open.values())
