"""Checks every request before its handler runs, so bad input fails the same way on every RPC.

The rules come from each field's name and type (the AIP conventions the API follows:
`name`, `parent`, `request_id`, `page_size`, `*_id`, timestamps, enums), so a new RPC is
covered without writing anything. `REQUIRED` names the fields a method cannot do without
beyond `name` and `parent`. Handlers still check what needs the domain (does it exist,
is the step allowed, does the department belong to the tenant).

Every violation is reported at once as INVALID_ARGUMENT with a BadRequest field path
such as `agent.capacities[0].channel`; the message never repeats a rejected value, as
it may hold a phone number or a name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from functools import cache
from typing import Any
from zoneinfo import available_timezones

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.common import citizen, names
from services.common.errors import ApiError

Check = Callable[[Any], str | None]  # a problem description, or None when the value is fine

MAX_TEXT = 2000  # free text: questions, notes, reasons
MAX_STRING = 512  # every other string without a limit of its own below
MAX_ITEMS = 200  # repeated fields
MAX_ROWS = 20_000  # UPL rows in one import: the national list has about 1,000
MAX_MASK_PATHS = 20
# The one place field limits live: the validator applies them to every request, and handlers
# and clients read theirs with limit(); no column is narrower. Keys are field names, or full
# names where a name means different things in different messages.
LIMITS: dict[str, int] = {
    "question": MAX_TEXT,
    "note": MAX_TEXT,
    "reason": MAX_TEXT,
    "outcome": 255,
    "preferred_times": 255,
    "contact": 255,
    "escalation_target": 255,
    "uri": 255,
    "upl_uri": 255,
    "product_uri": 255,
    "display_name": 200,
    "synonyms": 100,  # each synonym
    "ivr_codes": 100,  # each code
    "kcc.tenancy.v1.EntryPoint.value": 255,
    "kcc.tenancy.v1.ResolveEntryPointRequest.value": 255,
    "kcc.routing.v1.EntryPointRef.value": 255,
}
# Repeated fields with fewer entries than MAX_ITEMS allowed.
ITEM_LIMITS: dict[str, int] = {"synonyms": 100, "ivr_codes": 100}

CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
COLLECTION = re.compile(r"^[a-z][a-zA-Z]{0,62}$")
TOKEN = re.compile(r"^[A-Za-z0-9_\-:.=+/]{1,128}$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2})?$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$|^24:00$")
URI = re.compile(r"^https?://\S+$")
MASK_PATH = re.compile(r"^[a-z_][a-z0-9_.]{0,63}$")

# Field names whose string is a resource name: the target of the call.
TARGET_FIELDS = frozenset({"name", "parent", "tenant"})
# Field names that refer to another resource, by full name or by its id.
REFERENCE_FIELDS = frozenset(
    {"department", "product", "contact", "agent", "escalation_target", "tenants", "overflow_tenants", "departments"}
)
# Fields named like a rule above that hold something else: UPL rows are CSV lines, which the
# import checks itself so that an error can name the line.
PLAIN_FIELDS = frozenset({"kcc.tenancy.v1.UplRow.name", "kcc.tenancy.v1.UplRow.uri"})

REQUIRED: dict[str, tuple[str, ...]] = {
    "kcc.tenancy.v1.CreateTenantRequest": ("tenant_id", "tenant"),
    "kcc.tenancy.v1.UpdateTenantRequest": ("tenant", "update_mask"),
    "kcc.tenancy.v1.CreateEntryPointRequest": ("entry_point_id", "entry_point"),
    "kcc.tenancy.v1.ResolveEntryPointRequest": ("kind", "value"),
    "kcc.tenancy.v1.CreateDepartmentRequest": ("department_id", "department"),
    "kcc.tenancy.v1.UpdateDepartmentRequest": ("department", "update_mask"),
    "kcc.tenancy.v1.CreateProductRequest": ("product_id", "product"),
    "kcc.tenancy.v1.UpdateProductRequest": ("product", "update_mask"),
    "kcc.tenancy.v1.ImportUplProductsRequest": ("rows",),
    "kcc.tenancy.v1.OnboardTenantRequest": ("tenant_id", "tenant"),
    "kcc.tenancy.v1.CreateSlaPolicyRequest": ("sla_policy_id", "sla_policy"),
    "kcc.tenancy.v1.UpdateSlaPolicyRequest": ("sla_policy", "update_mask"),
    "kcc.tenancy.v1.UpdateBusinessCalendarRequest": ("business_calendar",),
    "kcc.routing.v1.RouteContactRequest": ("channel",),
    "kcc.routing.v1.ClassifyQuestionRequest": ("tenant", "question"),
    "kcc.routing.v1.CreateAgentRequest": ("agent_id", "agent"),
    "kcc.routing.v1.SetAgentStateRequest": ("state",),
    "kcc.routing.v1.AcceptOfferRequest": ("agent", "contact"),
    "kcc.routing.v1.RejectOfferRequest": ("agent", "contact"),
    "kcc.routing.v1.CompleteContactRequest": ("agent", "contact"),
    "kcc.callbacks.v1.CreateCallbackRequest": ("callback",),
    "kcc.callbacks.v1.RecordAttemptRequest": ("result",),
    "kcc.callbacks.v1.ForwardCallbackRequest": ("department",),
    "kcc.callbacks.v1.GetUsageReportRequest": ("start_date", "end_date"),
    "kcc.callbacks.v1.GetAccountabilityReportRequest": ("start_date", "end_date"),
}


def limit(field_name: str) -> int:
    """The most characters a string field may hold, by field name or full name."""
    return LIMITS.get(field_name, MAX_STRING)


def item_limit(field_name: str) -> int:
    """The most entries a repeated field may hold."""
    return ITEM_LIMITS.get(field_name, MAX_ITEMS)


class RequestValidator:
    """Validates the request of every method of the given services; `validate(method, request)`."""

    def __init__(self, service_names: Iterable[str]) -> None:
        pool = descriptor_pool.Default()
        self.methods = frozenset(
            f"/{service.full_name}/{method.name}"
            for service in map(pool.FindServiceByName, service_names)
            for method in service.methods
        )

    def __call__(self, method: str, request: Message) -> None:
        if method not in self.methods:
            return
        violations: list[tuple[str, str]] = []
        _check_message(request, "", violations, top=True)
        if violations:
            raise invalid_request(violations)


def invalid_request(violations: list[tuple[str, str]]) -> ApiError:
    message = "; ".join(f"{field}: {problem}" for field, problem in violations)
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, message, "INVALID_ARGUMENT", violations=violations)


def _check_message(msg: Message, prefix: str, out: list[tuple[str, str]], top: bool = False) -> None:
    descriptor = msg.DESCRIPTOR
    rules = _rules(descriptor.full_name)
    for field_name in _required(descriptor) if top else ():
        value = getattr(msg, field_name)
        present = msg.HasField(field_name) if isinstance(value, Message) else bool(value)
        if not present:
            out.append((prefix + field_name, "is required"))
    for field, value in msg.ListFields():
        path = prefix + field.name
        if field.is_repeated:
            most = MAX_ROWS if field.name == "rows" else item_limit(field.name)
            if len(value) > most:
                out.append((path, f"at most {most} entries"))
                continue
            for i, item in enumerate(value):
                _check_value(field, rules, item, f"{path}[{i}]", out)
        else:
            _check_value(field, rules, value, path, out)


def _check_value(
    field: FieldDescriptor, rules: dict[str, Check], value: Any, path: str, out: list[tuple[str, str]]
) -> None:
    if field.message_type is not None:
        special = MESSAGE_CHECKS.get(field.message_type.full_name)
        if special is not None:
            problem = special(value)
            if problem:
                out.append((path, problem))
        else:
            _check_message(value, path + ".", out)
        return
    if field.enum_type is not None:
        if field.enum_type.values_by_number.get(value) is None:
            out.append((path, "is not a known value"))
        return
    check = rules.get(field.name)
    problem = check(value) if check is not None else None
    if problem:
        out.append((path, problem))


@cache
def _required(descriptor: Descriptor) -> tuple[str, ...]:
    by_convention = tuple(f for f in ("name", "parent") if f in descriptor.fields_by_name)
    return by_convention + REQUIRED.get(descriptor.full_name, ())


@cache
def _rules(message_name: str) -> dict[str, Check]:
    """The check for each scalar field of one message type, chosen by the field's name."""
    descriptor = descriptor_pool.Default().FindMessageTypeByName(message_name)
    rules: dict[str, Check] = {}
    for field in descriptor.fields:
        if field.message_type is not None or field.enum_type is not None:
            continue
        if field.type == FieldDescriptor.TYPE_STRING:
            rules[field.name] = _string_rule(f"{message_name}.{field.name}", field.name)
        elif field.type != FieldDescriptor.TYPE_BOOL:
            rules[field.name] = _non_negative
    return rules


def _string_rule(full_name: str, name: str) -> Check:
    if full_name in PLAIN_FIELDS:
        return _text(MAX_STRING)
    if name in TARGET_FIELDS:
        return _resource_name
    most = LIMITS.get(full_name, limit(name))
    if name in REFERENCE_FIELDS:
        return _reference if most >= MAX_STRING else _longest(most, _reference)
    if name == "tenant_id":
        return _pattern(names.TENANT_ID, "a tenant id such as gm0268")
    if name.endswith("_id") and name != "request_id":
        return _pattern(names.RESOURCE_ID, "an id of letters, digits and -_.() (at most 63)")
    if name in ("request_id", "citizen_key", "assignee"):
        return _pattern(TOKEN, "at most 128 letters, digits or -_:.=+/")
    if name == "phone_number":
        return _phone_number
    if name == "language":
        return _pattern(LANGUAGE, "a language code such as nl or en")
    if name in ("date", "start_date", "end_date"):
        return _iso_date
    if name in ("start", "end"):
        return _pattern(CLOCK, "a time HH:MM")
    if name == "time_zone":
        return _time_zone
    if name in ("uri", "upl_uri", "product_uri"):
        return _pattern(URI, f"an http(s) URI of at most {most} characters", most)
    return _text(most)


def _text(most: int) -> Check:
    def check(value: str) -> str | None:
        if len(value) > most:
            return f"at most {most} characters"
        if CONTROL.search(value):
            return "contains control characters"
        return None

    return check


def _longest(most: int, check: Check) -> Check:
    def checked(value: str) -> str | None:
        return f"at most {most} characters" if len(value) > most else check(value)

    return checked


def _pattern(pattern: re.Pattern[str], expected: str, most: int = MAX_STRING) -> Check:
    def check(value: str) -> str | None:
        if len(value) > most or not pattern.fullmatch(value):
            return f"must be {expected}"
        return None

    return check


def _resource_name(value: str) -> str | None:
    """`collection/id` pairs, e.g. tenants/gm0268/departments/burgerzaken or agents/a-17,
    possibly ending in a singleton such as tenants/gm0268/businessCalendar."""
    parts = value.split("/")
    if len(parts) % 2 and len(parts) > 1 and COLLECTION.fullmatch(parts[-1]):
        parts = parts[:-1]
    if len(value) > MAX_STRING or len(parts) % 2:
        return "must be a resource name such as tenants/gm0268/departments/burgerzaken"
    for collection, rid in zip(parts[::2], parts[1::2], strict=True):
        valid_id = names.TENANT_ID if collection == "tenants" else names.RESOURCE_ID
        if not COLLECTION.fullmatch(collection) or not valid_id.fullmatch(rid):
            return "must be a resource name such as tenants/gm0268/departments/burgerzaken"
    return None


def _reference(value: str) -> str | None:
    if "/" not in value:
        return None if names.RESOURCE_ID.fullmatch(value) else "must be a resource name or id"
    return _resource_name(value)


def _phone_number(value: str) -> str | None:
    if len(value) > 64:
        return "at most 64 characters"
    try:
        citizen.normalise_phone("phone_number", value)
    except ApiError:
        return "must be a phone number (E.164 or Dutch notation)"
    return None


def _iso_date(value: str) -> str | None:
    try:
        date.fromisoformat(value)
    except ValueError:
        return "must be a date YYYY-MM-DD"
    return None if len(value) == 10 else "must be a date YYYY-MM-DD"


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _time_zone(value: str) -> str | None:
    return None if value in _time_zones() else "must be an IANA time zone such as Europe/Amsterdam"


def _non_negative(value: int) -> str | None:
    return "must not be negative" if value < 0 else None


def _timestamp(value: Any) -> str | None:
    """Protobuf allows seconds outside years 1..9999, which datetime (and the databases) cannot hold."""
    if not 0 <= value.nanos < 1_000_000_000:
        return "nanos must be 0..999999999"
    try:
        value.ToDatetime()
    except (ValueError, OverflowError):
        return f"must lie between {datetime.min:%Y-%m-%d} and {datetime.max:%Y-%m-%d}"
    return None


def _field_mask(value: Any) -> str | None:
    if len(value.paths) > MAX_MASK_PATHS:
        return f"at most {MAX_MASK_PATHS} paths"
    if not all(MASK_PATH.fullmatch(p) for p in value.paths):
        return "paths must be field names such as display_name"
    return None


MESSAGE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "google.protobuf.Timestamp": _timestamp,
    "google.protobuf.FieldMask": _field_mask,
}
