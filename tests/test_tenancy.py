"""Tenancy through its real gRPC server, a real nats-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2

from kcc.common.v1 import common_pb2
from kcc.tenancy.v1 import tenancy_pb2 as tp
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import auth, client, snapshots
from services.common.config import Settings
from services.common.errors import error_info
from services.common.snapshots import TenantSnapshot
from services.common.upl import read_upl_csv
from services.tenancy.app import TenancyApp
from services.tenancy.catalogue import DEFAULT_DEPARTMENTS, upl_rows
from services.tenancy.onboarding import onboard_tenant
from tests.builders import UPL

Metadata = tuple[tuple[str, str], ...]
UPL_PRODUCTS = read_upl_csv()
UPL_ROWS = upl_rows(UPL_PRODUCTS)


@dataclass
class Env:
    app: TenancyApp
    stub: Any  # TenancyServiceAsyncStub
    admin: Metadata

    def md(self, role: auth.Role, tenants: list[str] | None = None) -> Metadata:
        return client.metadata(auth.issue_token(self.app.settings.auth_secret, "someone", role, tenants))

    async def snapshot(self, tenant: str) -> TenantSnapshot | None:
        kv = await snapshots.bucket(self.app.bus)
        try:
            entry = await kv.get(tenant)
        except Exception:  # noqa: BLE001 - KeyNotFoundError: not written yet
            return None
        return TenantSnapshot.from_json(entry.value) if entry.value else None

    async def snapshot_where(
        self, tenant: str, check: Callable[[TenantSnapshot], bool], within: float = 10.0
    ) -> TenantSnapshot:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            snap = await self.snapshot(tenant)
            if snap is not None and check(snap):
                return snap
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"snapshot of {tenant} not as expected in time: {snap}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def running(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    """A tenancy server on a free port, a channel to it and an admin's metadata."""
    app = TenancyApp(Settings(data_dir=tmp_path / "var", nats_url=nats_url, database_url=database_url))
    port = await app.start(0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    admin = client.metadata(auth.issue_token(app.settings.auth_secret, "admin", auth.Role.PLATFORM_ADMIN))
    try:
        yield Env(app, tenancy_pb2_grpc.TenancyServiceStub(channel), admin)
    finally:
        await channel.close()
        await app.stop()


@pytest.fixture
async def env(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    async with running(tmp_path, nats_url, database_url) as started:
        yield started


async def fails(call: Awaitable[Any], code: grpc.StatusCode, reason: str | None = None) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    err = caught.value
    assert err.code() == code, (err.code(), err.details())
    if reason is not None:
        info = error_info(err)
        assert info is not None and info.reason == reason, (info, err.details())
    return err


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


async def create_tenant(env: Env, tenant: str, name: str, request_id: str = "") -> tp.Tenant:
    return await env.stub.CreateTenant(
        tp.CreateTenantRequest(tenant_id=tenant, tenant=tp.Tenant(display_name=name), request_id=request_id),
        metadata=env.admin,
    )


async def create_department(env: Env, tenant: str, dep: str, fallback: bool = False, request_id: str = "") -> Any:
    return await env.stub.CreateDepartment(
        tp.CreateDepartmentRequest(
            parent=f"tenants/{tenant}",
            department_id=dep,
            department=tp.Department(display_name=dep.title(), fallback=fallback),
            request_id=request_id,
        ),
        metadata=env.admin,
    )


async def collect(fetch: Callable[[str], Awaitable[Any]], field: str) -> tuple[list[Any], int]:
    """Every item over all pages, and the number of pages."""
    items: list[Any] = []
    token, pages = "", 0
    while True:
        reply = await fetch(token)
        pages += 1
        items.extend(getattr(reply, field))
        token = reply.next_page_token
        if not token:
            return items, pages


# -- CRUD, update masks, request ids -------------------------------------------------------------


async def test_tenant_crud_update_mask_and_idempotent_create(env: Env) -> None:
    first = await create_tenant(env, "gm0268", "Nijmegen", request_id="req-gm0268")
    again = await create_tenant(env, "gm0268", "Nijmegen", request_id="req-gm0268")
    assert first.name == again.name == "tenants/gm0268" and again.create_time == first.create_time
    assert first.state == tp.Tenant.STATE_ACTIVE and first.retention_days == 365
    await fails(create_tenant(env, "gm0268", "Nijmegen"), grpc.StatusCode.ALREADY_EXISTS, "ALREADY_EXISTS")
    await fails(create_tenant(env, "GM0268", "Nijmegen"), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(create_tenant(env, "gm0363", " "), grpc.StatusCode.INVALID_ARGUMENT)

    updated = await env.stub.UpdateTenant(
        tp.UpdateTenantRequest(
            tenant=tp.Tenant(name="tenants/gm0268", display_name="Gemeente Nijmegen", retention_days=30),
            update_mask=mask("display_name"),
        ),
        metadata=env.admin,
    )
    assert updated.display_name == "Gemeente Nijmegen" and updated.retention_days == 365  # not in the mask
    await fails(
        env.stub.UpdateTenant(tp.UpdateTenantRequest(tenant=tp.Tenant(name="tenants/gm0268")), metadata=env.admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await fails(
        env.stub.UpdateTenant(
            tp.UpdateTenantRequest(tenant=tp.Tenant(name="tenants/gm0268"), update_mask=mask("create_time")),
            metadata=env.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await fails(
        env.stub.UpdateTenant(
            tp.UpdateTenantRequest(
                tenant=tp.Tenant(name="tenants/gm0268", retention_days=0), update_mask=mask("retention_days")
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    got = await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0268"), metadata=env.admin)
    assert got.display_name == "Gemeente Nijmegen"
    await fails(
        env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm9999"), metadata=env.admin), grpc.StatusCode.NOT_FOUND
    )

    await create_tenant(env, "gm0363", "Amsterdam")
    await env.stub.DeleteTenant(tp.DeleteTenantRequest(name="tenants/gm0363"), metadata=env.admin)
    suspended = await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0363"), metadata=env.admin)
    assert suspended.state == tp.Tenant.STATE_SUSPENDED  # never hard-deleted

    active = await env.stub.ListTenants(tp.ListTenantsRequest(filter="state=ACTIVE"), metadata=env.admin)
    assert [t.name for t in active.tenants] == ["tenants/gm0268"] and active.total_size == 1
    by_name = await env.stub.ListTenants(tp.ListTenantsRequest(filter='display_name:"Amster"'), metadata=env.admin)
    assert [t.name for t in by_name.tenants] == ["tenants/gm0363"]
    both = await env.stub.ListTenants(
        tp.ListTenantsRequest(filter="state=SUSPENDED AND display_name:Amster"), metadata=env.admin
    )
    assert both.total_size == 1
    await fails(
        env.stub.ListTenants(tp.ListTenantsRequest(filter="colour=red"), metadata=env.admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )


async def test_department_crud_update_mask_and_in_use(env: Env) -> None:
    await create_tenant(env, "gm0268", "Nijmegen")
    first = await create_department(env, "gm0268", "burgerzaken", request_id="dep-1")
    again = await create_department(env, "gm0268", "burgerzaken", request_id="dep-1")
    assert first == again
    await fails(create_department(env, "gm0268", "burgerzaken"), grpc.StatusCode.ALREADY_EXISTS)
    await fails(create_department(env, "gm0268", "Bad Id!"), grpc.StatusCode.INVALID_ARGUMENT)
    await fails(create_department(env, "gm9999", "burgerzaken"), grpc.StatusCode.NOT_FOUND)
    await create_department(env, "gm0268", "algemeen", fallback=True)

    updated = await env.stub.UpdateDepartment(
        tp.UpdateDepartmentRequest(
            department=tp.Department(
                name="tenants/gm0268/departments/burgerzaken", display_name="Publiekszaken", fallback=True
            ),
            update_mask=mask("display_name"),
        ),
        metadata=env.admin,
    )
    assert updated.display_name == "Publiekszaken" and not updated.fallback
    got = await env.stub.GetDepartment(
        tp.GetDepartmentRequest(name="tenants/gm0268/departments/burgerzaken"), metadata=env.admin
    )
    assert got.display_name == "Publiekszaken" and got.update_time.seconds >= got.create_time.seconds

    await env.stub.ImportUplProducts(
        tp.ImportUplProductsRequest(
            parent="tenants/gm0268", rows=[tp.UplRow(line=2, name="paspoort", uri=UPL + "paspoort")]
        ),
        metadata=env.admin,
    )
    await fails(
        env.stub.DeleteDepartment(
            tp.DeleteDepartmentRequest(name="tenants/gm0268/departments/burgerzaken"), metadata=env.admin
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DEPARTMENT_IN_USE",
    )
    await create_department(env, "gm0268", "leeg")
    await env.stub.DeleteDepartment(
        tp.DeleteDepartmentRequest(name="tenants/gm0268/departments/leeg"), metadata=env.admin
    )
    await fails(
        env.stub.GetDepartment(tp.GetDepartmentRequest(name="tenants/gm0268/departments/leeg"), metadata=env.admin),
        grpc.StatusCode.NOT_FOUND,
    )


async def test_product_crud_update_mask_and_filters(env: Env) -> None:
    await create_tenant(env, "gm0268", "Nijmegen")
    await create_department(env, "gm0268", "burgerzaken")
    await create_department(env, "gm0268", "algemeen", fallback=True)

    def product(slug: str, department: str = "burgerzaken") -> tp.Product:
        return tp.Product(
            upl_uri=UPL + slug,
            display_name=slug,
            department=f"tenants/gm0268/departments/{department}",
            handling=common_pb2.HANDLING_CALLBACK,
            enabled=True,
        )

    request = tp.CreateProductRequest(
        parent="tenants/gm0268", product_id="paspoort", product=product("paspoort"), request_id="p-1"
    )
    first = await env.stub.CreateProduct(request, metadata=env.admin)
    assert (await env.stub.CreateProduct(request, metadata=env.admin)) == first
    await fails(
        env.stub.CreateProduct(
            tp.CreateProductRequest(parent="tenants/gm0268", product_id="paspoort", product=product("paspoort")),
            metadata=env.admin,
        ),
        grpc.StatusCode.ALREADY_EXISTS,
    )
    await fails(
        env.stub.CreateProduct(
            tp.CreateProductRequest(parent="tenants/gm0268", product_id="x", product=product("x", "onbekend")),
            metadata=env.admin,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DEPARTMENT_NOT_FOUND",
    )
    await env.stub.CreateProduct(
        tp.CreateProductRequest(parent="tenants/gm0268", product_id="klacht", product=product("klacht", "algemeen")),
        metadata=env.admin,
    )

    updated = await env.stub.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(
                name="tenants/gm0268/products/paspoort",
                display_name="ignored (not in mask)",
                handling=common_pb2.HANDLING_FIRST_LINE,
                synonyms=["id-bewijs", "reisdocument"],
                ivr_codes=["1"],
                department="tenants/gm0268/departments/algemeen",
            ),
            update_mask=mask("handling", "synonyms", "ivr_codes", "department"),
        ),
        metadata=env.admin,
    )
    assert updated.display_name == "paspoort" and updated.handling == common_pb2.HANDLING_FIRST_LINE
    assert list(updated.synonyms) == ["id-bewijs", "reisdocument"] and list(updated.ivr_codes) == ["1"]
    assert updated.department == "tenants/gm0268/departments/algemeen" and updated.enabled
    for bad_mask, product_msg, code in (
        (["upl_uri"], tp.Product(upl_uri="http://x/y"), grpc.StatusCode.INVALID_ARGUMENT),
        (["display_name"], tp.Product(display_name=""), grpc.StatusCode.INVALID_ARGUMENT),
        (["department"], tp.Product(department="tenants/gm0268/departments/weg"), grpc.StatusCode.FAILED_PRECONDITION),
        (
            ["department"],
            tp.Product(department="tenants/gm0363/departments/algemeen"),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        ([], tp.Product(enabled=False), grpc.StatusCode.INVALID_ARGUMENT),
    ):
        product_msg.name = "tenants/gm0268/products/paspoort"
        await fails(
            env.stub.UpdateProduct(
                tp.UpdateProductRequest(product=product_msg, update_mask=mask(*bad_mask)), metadata=env.admin
            ),
            code,
        )
    disabled = await env.stub.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(name="tenants/gm0268/products/klacht", enabled=False), update_mask=mask("enabled")
        ),
        metadata=env.admin,
    )
    assert not disabled.enabled

    async def names(query: str) -> list[str]:
        reply = await env.stub.ListProducts(
            tp.ListProductsRequest(parent="tenants/gm0268", filter=query), metadata=env.admin
        )
        assert reply.total_size == len(reply.products)
        return [p.name.rsplit("/", 1)[-1] for p in reply.products]

    assert await names("") == ["klacht", "paspoort"]
    assert await names("handling=FIRST_LINE") == ["paspoort"]
    assert await names("enabled=false") == ["klacht"]
    assert await names("department=tenants/gm0268/departments/algemeen AND enabled=true") == ["paspoort"]
    assert await names('display_name:"pasp"') == ["paspoort"]
    await fails(
        env.stub.ListProducts(tp.ListProductsRequest(parent="tenants/gm0268", filter="price>3"), metadata=env.admin),
        grpc.StatusCode.INVALID_ARGUMENT,
    )

    await env.stub.DeleteProduct(tp.DeleteProductRequest(name="tenants/gm0268/products/klacht"), metadata=env.admin)
    await fails(
        env.stub.GetProduct(tp.GetProductRequest(name="tenants/gm0268/products/klacht"), metadata=env.admin),
        grpc.StatusCode.NOT_FOUND,
    )


# -- pagination --------------------------------------------------------------------------------


async def test_pagination_over_every_list_and_bad_page_tokens(env: Env) -> None:
    for i in range(5):
        await create_tenant(env, f"gm010{i}", f"Gemeente {i}")
    await onboard_tenant(env.stub, env.admin, "gm0100", "Gemeente 0", "14010", rows=UPL_ROWS)
    parent = "tenants/gm0100"
    for i in range(3):
        await env.stub.CreateEntryPoint(
            tp.CreateEntryPointRequest(
                parent=parent,
                entry_point_id=f"web-{i}",
                entry_point=tp.EntryPoint(kind=tp.EntryPoint.KIND_WEB_FORM_ORIGIN, value=f"https://{i}.example.nl"),
            ),
            metadata=env.admin,
        )
        await env.stub.CreateSlaPolicy(
            tp.CreateSlaPolicyRequest(
                parent=parent, sla_policy_id=f"sla-{i}", sla_policy=tp.SlaPolicy(channel=common_pb2.CHANNEL_PHONE)
            ),
            metadata=env.admin,
        )
    md = env.admin
    lists: list[tuple[str, Callable[[str, int], Awaitable[Any]], int]] = [
        (
            "tenants",
            lambda t, n: env.stub.ListTenants(tp.ListTenantsRequest(page_size=n, page_token=t), metadata=md),
            5,
        ),
        (
            "departments",
            lambda t, n: env.stub.ListDepartments(
                tp.ListDepartmentsRequest(parent=parent, page_size=n, page_token=t), metadata=md
            ),
            len(DEFAULT_DEPARTMENTS),
        ),
        (
            "products",
            lambda t, n: env.stub.ListProducts(
                tp.ListProductsRequest(parent=parent, page_size=n, page_token=t), metadata=md
            ),
            450,
        ),
        (
            "entry_points",
            lambda t, n: env.stub.ListEntryPoints(
                tp.ListEntryPointsRequest(parent=parent, page_size=n, page_token=t), metadata=md
            ),
            4,
        ),
        (
            "sla_policies",
            lambda t, n: env.stub.ListSlaPolicies(
                tp.ListSlaPoliciesRequest(parent=parent, page_size=n, page_token=t), metadata=md
            ),
            3,
        ),
    ]
    for field, fetch, expected in lists:
        size = 100 if field == "products" else 2
        items, pages = await collect(lambda token, f=fetch, s=size: f(token, s), field)  # type: ignore[misc]
        names = [i.name for i in items]
        assert len(names) == expected == len(set(names)), field
        assert names == sorted(names), field
        assert pages == -(-expected // size), field
        everything, _ = await collect(lambda token, f=fetch: f(token, 1000), field)  # type: ignore[misc]
        assert [i.name for i in everything] == names

        for bad in ("not-a-token", "eyJvIjogMiwgInEiOiAiMDAwMDAwMDAwMDAwIn0="):
            await fails(fetch(bad, 2), grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT")
        await fails(fetch("", -1), grpc.StatusCode.INVALID_ARGUMENT)

    # A token is bound to its query: it cannot be replayed with another filter or parent.
    first = await env.stub.ListProducts(tp.ListProductsRequest(parent=parent, page_size=10), metadata=md)
    await fails(
        env.stub.ListProducts(
            tp.ListProductsRequest(
                parent=parent, page_size=10, page_token=first.next_page_token, filter="enabled=true"
            ),
            metadata=md,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await fails(
        env.stub.ListDepartments(
            tp.ListDepartmentsRequest(parent="tenants/gm0101", page_token=first.next_page_token), metadata=md
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    filtered, _ = await collect(
        lambda token: env.stub.ListProducts(
            tp.ListProductsRequest(parent=parent, page_size=7, page_token=token, filter="department=burgerzaken"),
            metadata=md,
        ),
        "products",
    )
    assert filtered and all(p.department.endswith("/burgerzaken") for p in filtered)


# -- scoping ---------------------------------------------------------------------------------------


async def test_tenant_integration_token_is_scoped_to_its_tenant(env: Env) -> None:
    await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", rows=UPL_ROWS[:5])
    await onboard_tenant(env.stub, env.admin, "gm0363", "Amsterdam", rows=UPL_ROWS[:5])
    nijmegen = env.md(auth.Role.TENANT_INTEGRATION, ["gm0268"])

    own = await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0268"), metadata=nijmegen)
    assert own.display_name == "Nijmegen"
    products = await env.stub.ListProducts(tp.ListProductsRequest(parent="tenants/gm0268"), metadata=nijmegen)
    assert len(products.products) == 5
    listed = await env.stub.ListTenants(tp.ListTenantsRequest(), metadata=nijmegen)
    assert [t.name for t in listed.tenants] == ["tenants/gm0268"] and listed.total_size == 1

    for call in (
        env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0363"), metadata=nijmegen),
        env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm9999"), metadata=nijmegen),  # exists or not: same answer
        env.stub.ListProducts(tp.ListProductsRequest(parent="tenants/gm0363"), metadata=nijmegen),
        env.stub.ListDepartments(tp.ListDepartmentsRequest(parent="tenants/gm0363"), metadata=nijmegen),
        env.stub.GetProduct(
            tp.GetProductRequest(name=f"tenants/gm0363/products/{UPL_ROWS[0].uri.rsplit('/', 1)[-1]}"),
            metadata=nijmegen,
        ),
        env.stub.GetBusinessCalendar(
            tp.GetBusinessCalendarRequest(name="tenants/gm0363/businessCalendar"), metadata=nijmegen
        ),
        env.stub.ListSlaPolicies(tp.ListSlaPoliciesRequest(parent="tenants/gm0363"), metadata=nijmegen),
        env.stub.ListEntryPoints(tp.ListEntryPointsRequest(parent="tenants/gm0363"), metadata=nijmegen),
        # Writes are for platform admins, even on the integration's own tenant.
        env.stub.CreateDepartment(
            tp.CreateDepartmentRequest(
                parent="tenants/gm0268", department_id="x", department=tp.Department(display_name="X")
            ),
            metadata=nijmegen,
        ),
        env.stub.ImportUplProducts(
            tp.ImportUplProductsRequest(parent="tenants/gm0268", rows=UPL_ROWS[5:6]), metadata=nijmegen
        ),
    ):
        await fails(call, grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED")
    await fails(env.stub.ListTenants(tp.ListTenantsRequest()), grpc.StatusCode.UNAUTHENTICATED)
    await fails(
        env.stub.ListTenants(tp.ListTenantsRequest(), metadata=(("authorization", "Bearer forged"),)),
        grpc.StatusCode.UNAUTHENTICATED,
    )
