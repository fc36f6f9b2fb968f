"""Tenancy's entry points, SLA policies and business calendars, as routing and callbacks get them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from kcc.common.v1 import common_pb2
from kcc.tenancy.v1 import tenancy_pb2 as tp
from services.common import auth
from services.tenancy.onboarding import onboard_tenant
from tests.test_tenancy import (
    UPL_ROWS,
    Env,
    create_tenant,
    fails,
    mask,
    running,
)


@pytest.fixture
async def env(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    async with running(tmp_path, nats_url, database_url) as started:
        yield started


# -- entry points, SLA, calendar ----------------------------------------------------------------


async def test_entry_points_unique_across_tenants(env: Env) -> None:
    await create_tenant(env, "gm0268", "Nijmegen")
    await create_tenant(env, "gm0363", "Amsterdam")

    async def add(
        tenant: str, ep_id: str, value: str, kind: int = tp.EntryPoint.KIND_PHONE_NUMBER, request_id: str = ""
    ) -> Any:
        return await env.stub.CreateEntryPoint(
            tp.CreateEntryPointRequest(
                parent=f"tenants/{tenant}",
                entry_point_id=ep_id,
                entry_point=tp.EntryPoint(kind=kind, value=value),
                request_id=request_id,
            ),
            metadata=env.admin,
        )

    created = await add("gm0268", "kort", "14 024", request_id="ep-1")
    assert created.value == "14024"
    assert (await add("gm0268", "kort", "14 024", request_id="ep-1")).name == created.name
    await fails(add("gm0363", "kort", "14024"), grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_POINT_TAKEN")
    await fails(add("gm0363", "kort", "014024"), grpc.StatusCode.FAILED_PRECONDITION, "ENTRY_POINT_TAKEN")
    await add("gm0268", "web", "https://www.Nijmegen.nl", tp.EntryPoint.KIND_WEB_FORM_ORIGIN)
    await fails(
        add("gm0363", "web", "https://www.nijmegen.nl", tp.EntryPoint.KIND_WEB_FORM_ORIGIN),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ENTRY_POINT_TAKEN",
    )
    await fails(add("gm0363", "x", "geen nummer"), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(add("gm0363", "x", "14020", kind=0), grpc.StatusCode.INVALID_ARGUMENT)
    await add("gm0363", "kort", "14020")

    resolved = await env.stub.ResolveEntryPoint(
        tp.ResolveEntryPointRequest(kind=tp.EntryPoint.KIND_PHONE_NUMBER, value="14 024"), metadata=env.admin
    )
    assert resolved.name == "tenants/gm0268/entryPoints/kort"
    other = env.md(auth.Role.TENANT_INTEGRATION, ["gm0363"])
    await fails(
        env.stub.ResolveEntryPoint(
            tp.ResolveEntryPointRequest(kind=tp.EntryPoint.KIND_PHONE_NUMBER, value="14024"), metadata=other
        ),
        grpc.StatusCode.NOT_FOUND,
    )
    await env.stub.DeleteEntryPoint(
        tp.DeleteEntryPointRequest(name="tenants/gm0268/entryPoints/kort"), metadata=env.admin
    )
    await add("gm0363", "nijmegen-oud", "14024")  # freed for another tenant


async def test_sla_policies_most_specific_wins_in_snapshot(env: Env) -> None:
    await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", rows=UPL_ROWS)
    parent = "tenants/gm0268"

    async def create(policy_id: str, policy: tp.SlaPolicy, request_id: str = "") -> Any:
        return await env.stub.CreateSlaPolicy(
            tp.CreateSlaPolicyRequest(parent=parent, sla_policy_id=policy_id, sla_policy=policy, request_id=request_id),
            metadata=env.admin,
        )

    target = common_pb2.ServiceLevelTarget(seconds=30, percent=80)
    default = await create("default", tp.SlaPolicy(answer_target=target), "s-1")
    assert (await create("default", tp.SlaPolicy(answer_target=target), "s-1")) == default  # a retry
    assert default.callback_working_hours == 16  # the default deadline
    await create(
        "telefoon",
        tp.SlaPolicy(
            channel=common_pb2.CHANNEL_PHONE, answer_target=common_pb2.ServiceLevelTarget(seconds=20, percent=80)
        ),
    )
    await create(
        "burgerzaken",
        tp.SlaPolicy(department=f"{parent}/departments/burgerzaken", callback_working_days=2),
    )
    await create(
        "paspoort-telefoon",
        tp.SlaPolicy(
            channel=common_pb2.CHANNEL_PHONE,
            product=f"{parent}/products/paspoort",
            answer_target=common_pb2.ServiceLevelTarget(seconds=10, percent=90),
            callback_working_hours=4,
            escalation_target=f"{parent}/departments/algemeen",
        ),
    )
    await fails(
        create("weg", tp.SlaPolicy(department=f"{parent}/departments/weg")), grpc.StatusCode.FAILED_PRECONDITION
    )
    await fails(create("x", tp.SlaPolicy(warning_percent=101)), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(create("x", tp.SlaPolicy(department="tenants/gm0363/departments/a")), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(create("default", tp.SlaPolicy()), grpc.StatusCode.ALREADY_EXISTS)

    snap = await env.snapshot_where("gm0268", lambda s: len(s.sla_policies) == 4)
    assert snap.sla_for("PHONE", "burgerzaken", "paspoort").answer_seconds == 10
    assert snap.sla_for("PHONE", "burgerzaken", "paspoort").callback_working_hours == 4
    assert snap.sla_for("EMAIL", "burgerzaken", "paspoort").callback_working_days == 2  # department beats default
    assert snap.sla_for("PHONE", "belastingen", "afvalstoffenheffing").answer_seconds == 20  # channel
    assert snap.sla_for("CHAT", "belastingen", "afvalstoffenheffing").answer_seconds == 30  # tenant default

    updated = await env.stub.UpdateSlaPolicy(
        tp.UpdateSlaPolicyRequest(
            sla_policy=tp.SlaPolicy(
                name=f"{parent}/slaPolicies/burgerzaken", callback_working_hours=8, warning_percent=50
            ),
            update_mask=mask("callback_deadline"),
        ),
        metadata=env.admin,
    )
    assert updated.WhichOneof("callback_deadline") == "callback_working_hours" and updated.callback_working_hours == 8
    assert updated.warning_percent == 75  # not in the mask
    snap = await env.snapshot_where(
        "gm0268", lambda s: s.sla_for("EMAIL", "burgerzaken", "").callback_working_hours == 8
    )
    assert snap.sla_for("EMAIL", "burgerzaken", "").callback_working_days == 0
    listed = await env.stub.ListSlaPolicies(tp.ListSlaPoliciesRequest(parent=parent), metadata=env.admin)
    assert [p.name.rsplit("/", 1)[-1] for p in listed.sla_policies] == [
        "burgerzaken",
        "default",
        "paspoort-telefoon",
        "telefoon",
    ]
    got = await env.stub.GetSlaPolicy(
        tp.GetSlaPolicyRequest(name=f"{parent}/slaPolicies/paspoort-telefoon"), metadata=env.admin
    )
    assert got.product == f"{parent}/products/paspoort" and got.answer_target.percent == 90
    await env.stub.DeleteSlaPolicy(
        tp.DeleteSlaPolicyRequest(name=f"{parent}/slaPolicies/paspoort-telefoon"), metadata=env.admin
    )
    snap = await env.snapshot_where("gm0268", lambda s: len(s.sla_policies) == 3)
    assert snap.sla_for("PHONE", "burgerzaken", "paspoort").answer_seconds == 20


async def test_business_calendar_round_trip(env: Env) -> None:
    await create_tenant(env, "gm0268", "Nijmegen")
    name = "tenants/gm0268/businessCalendar"
    default = await env.stub.GetBusinessCalendar(tp.GetBusinessCalendarRequest(name=name), metadata=env.admin)
    assert default.time_zone == "Europe/Amsterdam" and default.observe_public_holidays
    assert [d.iso_weekday for d in default.weekly_hours] == [1, 2, 3, 4, 5]

    calendar = tp.BusinessCalendar(
        name=name,
        time_zone="Europe/Amsterdam",
        weekly_hours=[
            tp.WeekdayHours(
                iso_weekday=d,
                periods=[tp.OpeningPeriod(start="08:30", end="12:00"), tp.OpeningPeriod(start="13:00", end="17:00")],
            )
            for d in range(1, 5)
        ]
        + [tp.WeekdayHours(iso_weekday=5, periods=[tp.OpeningPeriod(start="09:00", end="12:30")])],
        special_days=[
            tp.SpecialDay(date="2026-12-24"),
            tp.SpecialDay(date="2026-12-27", periods=[tp.OpeningPeriod(start="10:00", end="14:00")]),
        ],
        observe_public_holidays=True,
    )
    written = await env.stub.UpdateBusinessCalendar(
        tp.UpdateBusinessCalendarRequest(business_calendar=calendar), metadata=env.admin
    )
    read = await env.stub.GetBusinessCalendar(tp.GetBusinessCalendarRequest(name=name), metadata=env.admin)
    assert read == written == calendar

    # Only the special days change; the weekly hours stay.
    only_days = await env.stub.UpdateBusinessCalendar(
        tp.UpdateBusinessCalendarRequest(
            business_calendar=tp.BusinessCalendar(name=name, special_days=[tp.SpecialDay(date="2026-05-15")]),
            update_mask=mask("special_days"),
        ),
        metadata=env.admin,
    )
    assert list(only_days.weekly_hours) == list(calendar.weekly_hours)
    assert [d.date for d in only_days.special_days] == ["2026-05-15"]

    for bad in (
        tp.BusinessCalendar(name=name, weekly_hours=[tp.WeekdayHours(iso_weekday=8)]),
        tp.BusinessCalendar(
            name=name,
            weekly_hours=[tp.WeekdayHours(iso_weekday=1, periods=[tp.OpeningPeriod(start="17:00", end="08:00")])],
        ),
        tp.BusinessCalendar(
            name=name,
            weekly_hours=[tp.WeekdayHours(iso_weekday=1, periods=[tp.OpeningPeriod(start="8h", end="17:00")])],
        ),
        tp.BusinessCalendar(name=name, special_days=[tp.SpecialDay(date="24-12-2026")]),
        tp.BusinessCalendar(name=name, time_zone="Mars/Olympus"),
    ):
        await fails(
            env.stub.UpdateBusinessCalendar(
                tp.UpdateBusinessCalendarRequest(business_calendar=bad), metadata=env.admin
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
    await fails(
        env.stub.UpdateBusinessCalendar(
            tp.UpdateBusinessCalendarRequest(business_calendar=calendar, update_mask=mask("colour")), metadata=env.admin
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await fails(
        env.stub.GetBusinessCalendar(tp.GetBusinessCalendarRequest(name="tenants/gm0268/calendar"), metadata=env.admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    snap = await env.snapshot_where(
        "gm0268", lambda s: s.calendar is not None and s.calendar["closures"] == ["2026-05-15"]
    )
    weekly: Any = (snap.calendar or {})["weekly_hours"]
    assert weekly["4"] == [{"start": "09:00:00", "end": "12:30:00"}]  # Friday (0 = Monday)
