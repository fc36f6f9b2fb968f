"""An event envelope as a CloudEvent in the NL GOV profile (structured JSON mode).

`id` is the event id, so a receiver deduplicates a redelivery or a replay by it; `sequence`
(the CloudEvents sequence extension) is the stream sequence, the point a replay starts from.
`data` holds only what the tenant's own systems may know and nothing personal: no citizen
key, no agent or employee id, no free text (outcomes). The rest stays behind the API, which
`subject` names.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from kcc.events.v1 import events_pb2

TYPE_PREFIX = "nl.kcc-router."
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# NL GOV: a URN naming the producing system, e.g. urn:nld:oin:<OIN>:systeem:kcc-router.
DEFAULT_SOURCE = "urn:nld:kcc-router"


def source() -> str:
    return os.environ.get("KCC_EVENTS_SOURCE", DEFAULT_SOURCE)


def event_type(subject: str) -> str:
    """`kcc.gm0268.callback.requested` -> `callback.requested` (the part a filter matches)."""
    return ".".join(subject.split(".")[2:])


def _fields(message: Message, keep: tuple[str, ...]) -> dict[str, Any]:
    data = MessageToDict(message, preserving_proto_field_name=True)
    return {k: data[k] for k in keep if k in data}


# What each payload may show, and the resource it concerns.
_PUBLIC: dict[str, tuple[tuple[str, ...], Callable[[Any], str]]] = {
    "callback_changed": (
        ("callback", "change", "status", "department", "product_uri", "deadline", "escalation_target"),
        lambda p: p.callback,
    ),
    "contact_routed": (
        (
            "contact",
            "channel",
            "product_uri",
            "product_name",
            "department",
            "queue",
            "priority",
            "repeat_contact",
            "enqueue_time",
            "language",
            "recognised",
            "open_callbacks",
        ),
        lambda p: p.contact,
    ),
    "contact_changed": (("contact", "change", "queue"), lambda p: p.contact),
    "tenant_changed": (("tenant", "resource", "resource_name", "snapshot_version"), lambda p: p.resource_name),
}


def data_of(env: events_pb2.Envelope) -> tuple[str, dict[str, Any]]:
    """The CloudEvent subject (a resource name) and data of an envelope; unknown payloads give none."""
    kind = env.WhichOneof("payload")
    if kind not in _PUBLIC:
        return "", {}
    keep, subject_of = _PUBLIC[kind]
    payload = getattr(env, kind)
    return subject_of(payload), _fields(payload, keep)


def encode(subject: str, env: events_pb2.Envelope, sequence: int) -> bytes:
    """The request body: one CloudEvent, compact JSON."""
    resource, data = data_of(env)
    event: dict[str, Any] = {
        "specversion": "1.0",
        "id": env.id,
        "source": source(),
        "type": TYPE_PREFIX + event_type(subject),
        "time": env.occurred_at.ToJsonString(),
        "datacontenttype": "application/json",
        "sequence": str(sequence),
        "data": data,
    }
    if resource:
        event["subject"] = resource
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode()
