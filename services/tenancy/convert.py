"""Rows to API messages and back; the only place that knows both shapes."""

from __future__ import annotations

import json
from datetime import date, time

from google.protobuf.timestamp_pb2 import Timestamp

from kcc.common.v1 import common_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.calendar import BusinessCalendar, OpeningPeriod
from services.common.errors import invalid_argument
from services.tenancy.models import DepartmentRow, ProductRow, SlaPolicyRow, TenantRow

CHANNELS = {v.number: v.name.removeprefix("CHANNEL_") for v in common_pb2.Channel.DESCRIPTOR.values}
HANDLINGS = {v.number: v.name.removeprefix("HANDLING_") for v in common_pb2.Handling.DESCRIPTOR.values}
ENTRY_KINDS = {v.number: v.name.removeprefix("KIND_") for v in pb.EntryPoint.Kind.DESCRIPTOR.values}


def ts(value: object) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)  # type: ignore[arg-type]
    return stamp


def tenant_msg(row: TenantRow) -> pb.Tenant:
    return pb.Tenant(
        name=f"tenants/{row.id}",
        display_name=row.display_name,
        state=pb.Tenant.State.Value(f"STATE_{row.state}"),
        create_time=ts(row.create_time),
        update_time=ts(row.update_time),
        retention_days=row.retention_days,
    )


def department_msg(row: DepartmentRow) -> pb.Department:
    return pb.Department(
        name=f"tenants/{row.tenant}/departments/{row.id}",
        display_name=row.display_name,
        fallback=row.fallback,
        create_time=ts(row.create_time),
        update_time=ts(row.update_time),
    )


def product_msg(row: ProductRow) -> pb.Product:
    return pb.Product(
        name=f"tenants/{row.tenant}/products/{row.id}",
        upl_uri=row.upl_uri,
        display_name=row.display_name,
        department=f"tenants/{row.tenant}/departments/{row.department}",
        handling=common_pb2.Handling.Value(f"HANDLING_{row.handling}"),
        synonyms=json.loads(row.synonyms),
        ivr_codes=json.loads(row.ivr_codes),
        enabled=row.enabled,
        update_time=ts(row.update_time),
    )


def sla_msg(row: SlaPolicyRow) -> pb.SlaPolicy:
    msg = pb.SlaPolicy(
        name=f"tenants/{row.tenant}/slaPolicies/{row.id}",
        channel=common_pb2.Channel.Value(f"CHANNEL_{row.channel}") if row.channel else 0,
        department=f"tenants/{row.tenant}/departments/{row.department}" if row.department else "",
        product=f"tenants/{row.tenant}/products/{row.product}" if row.product else "",
        answer_target=common_pb2.ServiceLevelTarget(seconds=row.answer_seconds, percent=row.answer_percent),
        warning_percent=row.warning_percent,
        max_callback_attempts=row.max_callback_attempts,
        escalation_target=row.escalation_target,
    )
    if row.callback_working_days:
        msg.callback_working_days = row.callback_working_days
    else:
        msg.callback_working_hours = row.callback_working_hours
    return msg


def _period(field: str, p: pb.OpeningPeriod) -> OpeningPeriod:
    try:
        return OpeningPeriod(time.fromisoformat(p.start), time.fromisoformat(p.end))
    except ValueError as exc:
        raise invalid_argument(field, f"opening period {p.start}-{p.end}: {exc}") from exc


def calendar_from_msg(msg: pb.BusinessCalendar) -> BusinessCalendar:
    weekly: dict[int, tuple[OpeningPeriod, ...]] = {}
    for day in msg.weekly_hours:
        if not 1 <= day.iso_weekday <= 7:
            raise invalid_argument("business_calendar.weekly_hours.iso_weekday", "must be 1..7")
        weekly[day.iso_weekday - 1] = tuple(
            _period("business_calendar.weekly_hours.periods", p) for p in day.periods
        )
    closures: set[date] = set()
    extra: dict[date, tuple[OpeningPeriod, ...]] = {}
    for special in msg.special_days:
        try:
            day_date = date.fromisoformat(special.date)
        except ValueError as exc:
            raise invalid_argument("business_calendar.special_days.date", str(exc)) from exc
        if special.periods:
            extra[day_date] = tuple(_period("business_calendar.special_days.periods", p) for p in special.periods)
        else:
            closures.add(day_date)
    try:
        return BusinessCalendar(
            weekly_hours=weekly,
            closures=frozenset(closures),
            extra_openings=extra,
            timezone=msg.time_zone or "Europe/Amsterdam",
            observe_public_holidays=msg.observe_public_holidays,
        )
    except ValueError as exc:
        raise invalid_argument("business_calendar", str(exc)) from exc


def calendar_msg(tenant: str, cal: BusinessCalendar) -> pb.BusinessCalendar:
    def periods(ps: tuple[OpeningPeriod, ...]) -> list[pb.OpeningPeriod]:
        return [pb.OpeningPeriod(start=p.start.strftime("%H:%M"), end=p.end.strftime("%H:%M")) for p in ps]

    return pb.BusinessCalendar(
        name=f"tenants/{tenant}/businessCalendar",
        time_zone=cal.timezone,
        weekly_hours=[
            pb.WeekdayHours(iso_weekday=d + 1, periods=periods(ps)) for d, ps in sorted(cal.weekly_hours.items())
        ],
        special_days=[pb.SpecialDay(date=d.isoformat()) for d in sorted(cal.closures)]
        + [pb.SpecialDay(date=d.isoformat(), periods=periods(ps)) for d, ps in sorted(cal.extra_openings.items())],
        observe_public_holidays=cal.observe_public_holidays,
    )
