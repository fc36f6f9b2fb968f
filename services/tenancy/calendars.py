"""Business calendars: a tenant's opening hours, special days and Dutch public holidays (a singleton)."""

from __future__ import annotations

import json

from sqlmodel import Session

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import names
from services.common.calendar import DEFAULT_CALENDAR, BusinessCalendar
from services.common.errors import invalid_argument
from services.tenancy import convert
from services.tenancy.changes import touch
from services.tenancy.models import CalendarRow
from services.tenancy.store import Store, require_admin, tenant_row

RESOURCE = "calendar"
FIELDS = ("time_zone", "weekly_hours", "special_days", "observe_public_holidays")


def load(session: Session, tenant: str) -> BusinessCalendar:
    tenant_row(session, tenant)
    row = session.get(CalendarRow, tenant)
    return BusinessCalendar.from_dict(json.loads(row.definition)) if row else DEFAULT_CALENDAR


def tenant_of(field: str, name: str) -> str:
    parts = (name or "").split("/")
    if len(parts) != 3 or parts[0] != "tenants" or parts[2] != "businessCalendar":
        raise invalid_argument(field, "does not match tenants/{tenant}/businessCalendar")
    return names.check_tenant_id(field, parts[1])


async def get(store: Store, request: pb.GetBusinessCalendarRequest) -> pb.BusinessCalendar:
    tenant = tenant_of("name", request.name)
    return await store.read(lambda s: convert.calendar_msg(tenant, load(s, tenant)))


async def update(store: Store, request: pb.UpdateBusinessCalendarRequest) -> pb.BusinessCalendar:
    require_admin()
    tenant = tenant_of("business_calendar.name", request.business_calendar.name)
    new = convert.calendar_from_msg(request.business_calendar)
    for i, path in enumerate(request.update_mask.paths):
        if path not in FIELDS:
            raise invalid_argument(f"update_mask.paths[{i}]", f"cannot be updated (allowed: {sorted(FIELDS)})")
    paths = set(request.update_mask.paths) or set(FIELDS)

    def work(session: Session) -> pb.BusinessCalendar:
        old = load(session, tenant)
        merged = BusinessCalendar(
            weekly_hours=new.weekly_hours if "weekly_hours" in paths else old.weekly_hours,
            closures=new.closures if "special_days" in paths else old.closures,
            extra_openings=new.extra_openings if "special_days" in paths else old.extra_openings,
            timezone=new.timezone if "time_zone" in paths else old.timezone,
            observe_public_holidays=(
                new.observe_public_holidays if "observe_public_holidays" in paths else old.observe_public_holidays
            ),
        )
        row = session.get(CalendarRow, tenant) or CalendarRow(tenant=tenant, definition="")
        row.definition = json.dumps(merged.to_dict())
        session.add(row)
        touch(session, tenant, RESOURCE, f"tenants/{tenant}/businessCalendar")
        return convert.calendar_msg(tenant, merged)

    return await store.write(tenant, work)
