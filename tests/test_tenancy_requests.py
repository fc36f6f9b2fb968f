"""Tenancy answers that are always right: request ids per tenant and method, one naming in events,
errors that never echo input. Through the real gRPC server, nats-server and databases."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2
from nats.js.api import DeliverPolicy
from sqlalchemy import Engine, text

from kcc.events.v1 import events_pb2
from kcc.tenancy.v1 import tenancy_pb2 as tp
from services.common.db import make_engine
from services.common.errors import field_violations
from services.common.events import STREAM
from services.common.migrations import upgrade
from services.tenancy.app import TenancyApp
from tests import test_tenancy as tenancy_env
from tests.test_migrations import insert, service_url
from tests.test_tenancy import fails


class Env(tenancy_env.Env):
    """The tenancy test server, with a create or a list in one line each."""

    async def tenant(self, tenant: str) -> None:
        await self.stub.CreateTenant(
            tp.CreateTenantRequest(tenant_id=tenant, tenant=tp.Tenant(display_name=tenant)), metadata=self.admin
        )

    async def department(self, tenant: str, dep: str, request_id: str = "", display_name: str = "") -> tp.Department:
        return await self.stub.CreateDepartment(
            tp.CreateDepartmentRequest(
                parent=f"tenants/{tenant}",
                department_id=dep,
                department=tp.Department(display_name=display_name or dep.title()),
                request_id=request_id,
            ),
            metadata=self.admin,
        )

    async def entry_point(self, tenant: str, ep_id: str, value: str, request_id: str = "") -> tp.EntryPoint:
        return await self.stub.CreateEntryPoint(
            tp.CreateEntryPointRequest(
                parent=f"tenants/{tenant}",
                entry_point_id=ep_id,
                entry_point=tp.EntryPoint(kind=tp.EntryPoint.KIND_PHONE_NUMBER, value=value),
                request_id=request_id,
            ),
            metadata=self.admin,
        )

    async def entry_points(self, tenant: str) -> list[str]:
        reply = await self.stub.ListEntryPoints(
            tp.ListEntryPointsRequest(parent=f"tenants/{tenant}"), metadata=self.admin
        )
        return [f"{e.name}={e.value}" for e in reply.entry_points]


@pytest.fixture
async def env(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    async with tenancy_env.running(tmp_path, nats_url, database_url) as started:
        yield Env(started.app, started.stub, started.admin)


# -- request ids ---------------------------------------------------------------------------------


async def test_a_request_id_belongs_to_one_tenant(env: Env) -> None:
    await env.tenant("gm0344")
    await env.tenant("gm0202")
    await env.department("gm0344", "burgerzaken", request_id="R")

    other = await env.department("gm0202", "other", request_id="R")

    assert other.name == "tenants/gm0202/departments/other"
    got = await env.stub.GetDepartment(tp.GetDepartmentRequest(name=other.name), metadata=env.admin)
    assert got.display_name == "Other"


async def test_a_request_id_belongs_to_one_method(env: Env) -> None:
    await env.tenant("gm0344")
    await env.department("gm0344", "burgerzaken", request_id="R")

    policy = await env.stub.CreateSlaPolicy(
        tp.CreateSlaPolicyRequest(
            parent="tenants/gm0344", sla_policy_id="default", sla_policy=tp.SlaPolicy(), request_id="R"
        ),
        metadata=env.admin,
    )

    assert policy.name == "tenants/gm0344/slaPolicies/default"
    listed = await env.stub.ListSlaPolicies(tp.ListSlaPoliciesRequest(parent="tenants/gm0344"), metadata=env.admin)
    assert [p.name for p in listed.sla_policies] == [policy.name]


async def test_a_retried_create_answers_what_the_first_made(env: Env) -> None:
    await env.tenant("gm0344")
    first = await env.entry_point("gm0344", "kort", "14 030", request_id="R")

    again = await env.entry_point("gm0344", "kort", "14 030", request_id="R")

    assert again == first and first.name == "tenants/gm0344/entryPoints/kort"
    assert await env.entry_points("gm0344") == ["tenants/gm0344/entryPoints/kort=14030"]


async def test_a_request_id_reused_for_another_entry_point_is_refused(env: Env) -> None:
    await env.tenant("gm0344")
    await env.entry_point("gm0344", "kort", "14 030", request_id="R")

    err = await fails(
        env.entry_point("gm0344", "balie", "+31 24 329 9999", request_id="R"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REQUEST_ID_REUSED",
    )

    assert "329" not in (err.details() or "")
    assert await env.entry_points("gm0344") == ["tenants/gm0344/entryPoints/kort=14030"]


async def test_a_request_id_reused_for_another_department_is_refused(env: Env) -> None:
    await env.tenant("gm0344")
    await env.department("gm0344", "burgerzaken", request_id="R")

    await fails(
        env.department("gm0344", "burgerzaken", request_id="R", display_name="Publiekszaken"),
        grpc.StatusCode.FAILED_PRECONDITION,
        "REQUEST_ID_REUSED",
    )


# -- change events -------------------------------------------------------------------------------


async def changes(env: Env, tenant: str, count: int) -> list[tuple[str, str]]:
    """The first `count` `kcc.<tenant>.tenancy.changed` events: (resource, resource_name)."""
    sub = await env.app.bus.js.subscribe(
        f"kcc.{tenant}.tenancy.changed", stream=STREAM, ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
    )
    try:
        found = []
        for _ in range(count):
            env_msg = events_pb2.Envelope.FromString((await sub.next_msg(timeout=10)).data)
            found.append((env_msg.tenant_changed.resource, env_msg.tenant_changed.resource_name))
        return found
    finally:
        await sub.unsubscribe()


async def test_change_events_name_each_resource_one_way(env: Env) -> None:
    await env.tenant("gm0344")
    await env.department("gm0344", "burgerzaken")
    await env.entry_point("gm0344", "kort", "14 030")
    await env.stub.CreateSlaPolicy(
        tp.CreateSlaPolicyRequest(parent="tenants/gm0344", sla_policy_id="default", sla_policy=tp.SlaPolicy()),
        metadata=env.admin,
    )
    await env.stub.DeleteSlaPolicy(
        tp.DeleteSlaPolicyRequest(name="tenants/gm0344/slaPolicies/default"), metadata=env.admin
    )
    await env.stub.DeleteEntryPoint(
        tp.DeleteEntryPointRequest(name="tenants/gm0344/entryPoints/kort"), metadata=env.admin
    )
    await env.stub.DeleteDepartment(
        tp.DeleteDepartmentRequest(name="tenants/gm0344/departments/burgerzaken"), metadata=env.admin
    )

    assert await changes(env, "gm0344", 7) == [
        ("tenant", "tenants/gm0344"),
        ("department", "tenants/gm0344/departments/burgerzaken"),
        ("entry_point", "tenants/gm0344/entryPoints/kort"),
        ("sla_policy", "tenants/gm0344/slaPolicies/default"),
        ("sla_policy", "tenants/gm0344/slaPolicies/default"),
        ("entry_point", "tenants/gm0344/entryPoints/kort"),
        ("department", "tenants/gm0344/departments/burgerzaken"),
    ]


# -- errors --------------------------------------------------------------------------------------

SECRET = "zzgeheim"  # stands for a value that may be personal data: no answer may repeat it


async def rejected(call: Awaitable[Any], code: grpc.StatusCode, field: str | None) -> None:
    """Fails with `code`, names `field` (if given) in its BadRequest, and repeats no rejected value."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    err = caught.value
    assert err.code() == code, err.details()
    assert SECRET not in (err.details() or "") and "14030" not in (err.details() or ""), err.details()
    assert not any(SECRET in text for text in field_violations(err).values()), field_violations(err)
    if field is not None:
        assert list(field_violations(err)) == [field], err.details()


async def test_errors_name_the_field_with_its_index_and_never_echo_the_value(env: Env) -> None:
    await env.tenant("gm0344")
    await env.tenant("gm0202")
    await env.department("gm0344", "burgerzaken")
    await env.entry_point("gm0202", "kort", "14 030")
    invalid = grpc.StatusCode.INVALID_ARGUMENT
    product = tp.Product(display_name="Paspoort", department="tenants/gm0344/departments/burgerzaken")

    await rejected(
        env.stub.CreateProduct(
            tp.CreateProductRequest(
                parent="tenants/gm0344",
                product_id="paspoort",
                product=tp.Product(display_name="Paspoort", department=f"tenants/gm0344/products/{SECRET}"),
            ),
            metadata=env.admin,
        ),
        invalid,
        "product.department",
    )
    product.synonyms.extend(["pas", "paspoort", SECRET * 20])
    await rejected(
        env.stub.CreateProduct(
            tp.CreateProductRequest(parent="tenants/gm0344", product_id="paspoort", product=product),
            metadata=env.admin,
        ),
        invalid,
        "product.synonyms[2]",
    )
    await rejected(
        env.stub.ListProducts(
            tp.ListProductsRequest(parent="tenants/gm0344", filter=f"kleur={SECRET}"), metadata=env.admin
        ),
        invalid,
        "filter",
    )
    await rejected(
        env.stub.UpdateDepartment(
            tp.UpdateDepartmentRequest(
                department=tp.Department(name="tenants/gm0344/departments/burgerzaken", display_name="B"),
                update_mask=field_mask_pb2.FieldMask(paths=["display_name", SECRET]),
            ),
            metadata=env.admin,
        ),
        invalid,
        "update_mask.paths[1]",
    )
    await rejected(
        env.stub.GetBusinessCalendar(
            tp.GetBusinessCalendarRequest(name=f"tenants/gm0344/departments/{SECRET}"), metadata=env.admin
        ),
        invalid,
        "name",
    )
    await rejected(
        env.stub.ImportUplProducts(
            tp.ImportUplProductsRequest(
                parent="tenants/gm0344",
                rows=[
                    tp.UplRow(line=2, name="Paspoort", uri="http://standaarden.overheid.nl/owms/terms/paspoort"),
                    tp.UplRow(line=3, name="Iets", uri=f"http://standaarden.overheid.nl/owms/terms/{SECRET}!"),
                ],
            ),
            metadata=env.admin,
        ),
        invalid,
        "rows[1].uri",
    )
    calendar = tp.BusinessCalendar(
        name="tenants/gm0344/businessCalendar",
        weekly_hours=[
            tp.WeekdayHours(iso_weekday=1, periods=[tp.OpeningPeriod(start="08:30", end="17:00")]),
            tp.WeekdayHours(iso_weekday=2, periods=[tp.OpeningPeriod(start="17:00", end="08:30")]),
        ],
    )
    await rejected(
        env.stub.UpdateBusinessCalendar(
            tp.UpdateBusinessCalendarRequest(
                business_calendar=calendar, update_mask=field_mask_pb2.FieldMask(paths=["weekly_hours"])
            ),
            metadata=env.admin,
        ),
        invalid,
        "business_calendar.weekly_hours[1].periods[0]",
    )
    await rejected(
        env.stub.OnboardTenant(
            tp.OnboardTenantRequest(
                tenant_id="gm0344",
                tenant=tp.Tenant(display_name="Utrecht"),
                entry_points=[
                    tp.EntryPoint(
                        name="tenants/gm0344/entryPoints/kort", kind=tp.EntryPoint.KIND_PHONE_NUMBER, value="14 030"
                    )
                ],
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        None,
    )


async def test_an_update_mask_path_is_named_by_its_own_index(env: Env) -> None:
    """`answer_target` stands for two columns; the path after it is still paths[1]."""
    await env.tenant("gm0344")
    await env.stub.CreateSlaPolicy(
        tp.CreateSlaPolicyRequest(parent="tenants/gm0344", sla_policy_id="default", sla_policy=tp.SlaPolicy()),
        metadata=env.admin,
    )

    await rejected(
        env.stub.UpdateSlaPolicy(
            tp.UpdateSlaPolicyRequest(
                sla_policy=tp.SlaPolicy(name="tenants/gm0344/slaPolicies/default"),
                update_mask=field_mask_pb2.FieldMask(paths=["answer_target", SECRET]),
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "update_mask.paths[1]",
    )


async def test_an_import_refuses_another_tenants_department(env: Env) -> None:
    await env.tenant("gm0344")
    await env.tenant("gm0202")
    await env.department("gm0344", "burgerzaken")
    await env.department("gm0202", "burgerzaken")

    await rejected(
        env.stub.ImportUplProducts(
            tp.ImportUplProductsRequest(
                parent="tenants/gm0344",
                rows=[tp.UplRow(line=2, name="Paspoort", uri="http://standaarden.overheid.nl/owms/terms/paspoort")],
                default_department="tenants/gm0202/departments/burgerzaken",
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
        "default_department",
    )


@pytest.fixture
def tenancy_engine(database_url: str, tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(service_url(database_url, tmp_path, "tenancy"), "tenancy")
    yield engine
    engine.dispose()


def test_request_ids_stored_before_they_were_per_tenant_are_carried_over(tenancy_engine: Engine) -> None:
    """tenancy_0003 moves the global create_request rows to idempotent_create, without a digest:
    a retry of such a create is still answered with what it made."""
    schema = TenancyApp.schema()
    engine = tenancy_engine
    upgrade(engine, schema, "tenancy_0002")
    insert(
        engine,
        "create_request",
        [
            {"request_id": "r-1", "resource_name": "tenants/gm0268"},
            {"request_id": "r-2", "resource_name": "tenants/gm0268/departments/burgerzaken"},
            {"request_id": "r-3", "resource_name": "tenants/gm0268/entryPoints/kort"},
        ],
    )

    upgrade(engine, schema)

    with engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tenant, method, request_id, resource_name, digest FROM idempotent_create")
        ).all()
    assert sorted(tuple(r) for r in rows) == [
        ("gm0268", "CreateDepartment", "r-2", "tenants/gm0268/departments/burgerzaken", ""),
        ("gm0268", "CreateEntryPoint", "r-3", "tenants/gm0268/entryPoints/kort", ""),
        ("gm0268", "CreateTenant", "r-1", "tenants/gm0268", ""),
    ]
