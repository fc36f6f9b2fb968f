"""Tenancy through its real gRPC server, a real nats-server and a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
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
from services.tenancy.catalogue import DEFAULT_DEPARTMENTS, FALLBACK_DEPARTMENT, upl_rows
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


@pytest.fixture
async def env(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    app = TenancyApp(Settings(data_dir=tmp_path / "var", nats_url=nats_url, database_url=database_url))
    port = await app.start(0)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    admin = client.metadata(auth.issue_token(app.settings.auth_secret, "admin", auth.Role.PLATFORM_ADMIN))
    try:
        yield Env(app, tenancy_pb2_grpc.TenancyServiceStub(channel), admin)
    finally:
        await channel.close()
        await app.stop()


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


# -- UPL import --------------------------------------------------------------------------------


async def test_upl_import_all_or_nothing_and_no_duplicates(env: Env) -> None:
    await create_tenant(env, "gm0268", "Nijmegen")
    for department, _name in DEFAULT_DEPARTMENTS:
        await create_department(env, "gm0268", department, fallback=department == FALLBACK_DEPARTMENT)
    parent = "tenants/gm0268"

    async def count() -> int:
        reply = await env.stub.ListProducts(tp.ListProductsRequest(parent=parent, page_size=1), metadata=env.admin)
        return int(reply.total_size)

    assert len(UPL_ROWS) == 450
    first = await env.stub.ImportUplProducts(
        tp.ImportUplProductsRequest(parent=parent, rows=UPL_ROWS), metadata=env.admin
    )
    assert (first.created, first.updated, first.unchanged) == (450, 0, 0)
    again = await env.stub.ImportUplProducts(
        tp.ImportUplProductsRequest(parent=parent, rows=list(UPL_ROWS) + list(UPL_ROWS[:10])), metadata=env.admin
    )
    assert (again.created, again.updated, again.unchanged) == (0, 0, 450)
    assert await count() == 450

    paspoort = await env.stub.GetProduct(tp.GetProductRequest(name=f"{parent}/products/paspoort"), metadata=env.admin)
    assert paspoort.department == f"{parent}/departments/burgerzaken" and paspoort.upl_uri == UPL + "paspoort"
    belasting = await env.stub.GetProduct(
        tp.GetProductRequest(name=f"{parent}/products/afvalstoffenheffing"), metadata=env.admin
    )
    assert belasting.department == f"{parent}/departments/belastingen"

    # A tenant's own choices survive a re-import that renames the product.
    await env.stub.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(
                name=f"{parent}/products/paspoort", department=f"{parent}/departments/algemeen", synonyms=["pas"]
            ),
            update_mask=mask("department", "synonyms"),
        ),
        metadata=env.admin,
    )
    renamed = [
        tp.UplRow(line=r.line, name="Paspoort (nieuw)" if r.uri.endswith("/paspoort") else r.name, uri=r.uri)
        for r in UPL_ROWS
    ]
    third = await env.stub.ImportUplProducts(
        tp.ImportUplProductsRequest(parent=parent, rows=renamed), metadata=env.admin
    )
    assert (third.created, third.updated, third.unchanged) == (0, 1, 449)
    paspoort = await env.stub.GetProduct(tp.GetProductRequest(name=f"{parent}/products/paspoort"), metadata=env.admin)
    assert paspoort.display_name == "Paspoort (nieuw)" and paspoort.department.endswith("/algemeen")
    assert list(paspoort.synonyms) == ["pas"]

    # One malformed row: INVALID_ARGUMENT naming its line, and the valid new rows are not imported either.
    before = await env.stub.GetTenant(tp.GetTenantRequest(name=parent), metadata=env.admin)
    for bad in (
        tp.UplRow(line=77, name="", uri=UPL + "leeg"),
        tp.UplRow(line=77, name="Geen URI", uri="urn:x"),
        tp.UplRow(line=77, name="x" * 300, uri=UPL + "lang"),
        tp.UplRow(line=77, name="Rare slug", uri=UPL + "met spatie"),
    ):
        rows = [tp.UplRow(line=2, name="Nieuw product", uri=UPL + "nieuw-product"), bad]
        err = await fails(
            env.stub.ImportUplProducts(tp.ImportUplProductsRequest(parent=parent, rows=rows), metadata=env.admin),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert "line 77" in (err.details() or "")
    assert await count() == 450
    await fails(
        env.stub.GetProduct(tp.GetProductRequest(name=f"{parent}/products/nieuw-product"), metadata=env.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    after = await env.stub.GetTenant(tp.GetTenantRequest(name=parent), metadata=env.admin)
    assert after.update_time == before.update_time

    # default_department: for products the mapping does not place (it places them all: none here).
    await create_tenant(env, "gm0363", "Amsterdam")
    await create_department(env, "gm0363", "kcc", fallback=True)
    placed = await env.stub.ImportUplProducts(
        tp.ImportUplProductsRequest(
            parent="tenants/gm0363", rows=UPL_ROWS[:20], default_department="tenants/gm0363/departments/kcc"
        ),
        metadata=env.admin,
    )
    assert placed.created == 20
    await fails(
        env.stub.ImportUplProducts(
            tp.ImportUplProductsRequest(
                parent="tenants/gm0363", rows=UPL_ROWS[20:30], default_department="tenants/gm0363/departments/weg"
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DEPARTMENT_NOT_FOUND",
    )


def test_default_mapping_places_every_gemeente_product_sensibly() -> None:
    from services.tenancy.catalogue import default_department_for, mapping_distribution

    counts = mapping_distribution(UPL_PRODUCTS)
    assert sum(counts.values()) == 450
    assert set(counts) == {d for d, _n in DEFAULT_DEPARTMENTS}
    assert counts[FALLBACK_DEPARTMENT] < 30  # only general matters (bezwaar, klacht, raadsstukken, ...)
    assert all(count > 0 for count in counts.values())
    expected = {
        "paspoort": "burgerzaken",
        "rijbewijs gezondheidsverklaring": "burgerzaken",
        "afvalstoffenheffing": "belastingen",
        "parkeerontheffing": "afval-openbare-ruimte",  # ontheffing is not a heffing
        "afvalinzameling grofvuil": "afval-openbare-ruimte",
        "omgevingsvergunning bouw": "wonen-vergunningen",
        "bouwwerk voltooiingsverklaring": "wonen-vergunningen",  # bouwwerk is not werk
        "vuurwerkverkoopvergunning": "veiligheid",
        "bijstand": "werk-inkomen",
        "huishoudelijke hulp": "zorg-wmo",
        "leerlingenvervoer": "jeugd-onderwijs",
        "evenementenvergunning": "economie-cultuur-sport",
        "bezwaar": "algemeen",
        "klacht": "algemeen",
    }
    assert {name: default_department_for(name) for name in expected} == expected


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


# -- snapshots and scoping -------------------------------------------------------------------------


async def test_snapshot_in_kv_after_each_change_with_increasing_version(env: Env) -> None:
    await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", "14024", rows=UPL_ROWS)
    snap = await env.snapshot_where("gm0268", lambda s: len(s.products) == 450 and bool(s.entry_points))
    assert snap.display_name == "Nijmegen" and snap.fallback_department == "algemeen"
    assert set(snap.departments) == {d for d, _n in DEFAULT_DEPARTMENTS}
    assert snap.entry_points == [("PHONE_NUMBER", "14024")]
    version = snap.version
    assert version == 1  # one OnboardTenant transaction

    await env.stub.UpdateProduct(
        tp.UpdateProductRequest(
            product=tp.Product(name="tenants/gm0268/products/paspoort", enabled=False), update_mask=mask("enabled")
        ),
        metadata=env.admin,
    )
    snap = await env.snapshot_where("gm0268", lambda s: s.version > version)
    assert snap.version == version + 1 and len(snap.products) == 449
    assert "paspoort" not in {p.slug for p in snap.products}

    await env.stub.UpdateTenant(
        tp.UpdateTenantRequest(
            tenant=tp.Tenant(name="tenants/gm0268", state=tp.Tenant.STATE_SUSPENDED), update_mask=mask("state")
        ),
        metadata=env.admin,
    )
    snap = await env.snapshot_where("gm0268", lambda s: s.version > version + 1)
    assert snap.state == "SUSPENDED"

    # An import that changes nothing does not bump the version.
    before = (await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0268"), metadata=env.admin)).update_time
    result = await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", "14024", rows=UPL_ROWS)
    assert not result.changed and result.products_unchanged == 450 and result.entry_point == "present"
    after = (await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0268"), metadata=env.admin)).update_time
    assert after == before

    # The publisher rewrites every tenant at start (heals a crash between commit and KV write).
    kv = await snapshots.bucket(env.app.bus)
    await kv.delete("gm0268")
    await env.app.snapshots.republish_all()
    snap = await env.snapshot_where("gm0268", lambda s: s.version == version + 2)


async def test_onboard_tenant_is_one_idempotent_transaction(env: Env) -> None:
    first = await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", "14 024", rows=UPL_ROWS)
    assert first.tenant_created and len(first.departments_created) == len(DEFAULT_DEPARTMENTS)
    assert (first.products_created, first.entry_point) == (450, "created")
    again = await onboard_tenant(env.stub, env.admin, "gm0268", "Nijmegen", "14024", rows=UPL_ROWS)
    assert not again.changed and again.products_unchanged == 450 and again.entry_point == "present"
    renamed = await onboard_tenant(env.stub, env.admin, "gm0268", "Gemeente Nijmegen", rows=UPL_ROWS[:3])
    assert renamed.tenant_renamed and renamed.changed and renamed.products_unchanged == 3
    await env.snapshot_where("gm0268", lambda s: s.version == 2 and s.display_name == "Gemeente Nijmegen")

    # Another tenant claiming 14 024: the whole call fails and leaves nothing behind.
    await fails(
        onboard_tenant(env.stub, env.admin, "gm0363", "Amsterdam", "14024", rows=UPL_ROWS),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ENTRY_POINT_TAKEN",
    )
    await fails(
        env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0363"), metadata=env.admin), grpc.StatusCode.NOT_FOUND
    )
    # A malformed row fails it too, naming the line.
    bad = [*UPL_ROWS[:5], tp.UplRow(line=9, name="", uri=UPL + "x")]
    err = await fails(
        onboard_tenant(env.stub, env.admin, "gm0363", "Amsterdam", rows=bad), grpc.StatusCode.INVALID_ARGUMENT
    )
    assert "line 9" in (err.details() or "")
    await fails(
        env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0363"), metadata=env.admin), grpc.StatusCode.NOT_FOUND
    )
    # An existing fallback department is kept: onboarding does not add a second one.
    await create_tenant(env, "gm0344", "Utrecht")
    await create_department(env, "gm0344", "kcc", fallback=True)
    await onboard_tenant(env.stub, env.admin, "gm0344", "Utrecht", rows=UPL_ROWS[:5])
    departments = await env.stub.ListDepartments(tp.ListDepartmentsRequest(parent="tenants/gm0344"), metadata=env.admin)
    assert [d.name.rsplit("/", 1)[-1] for d in departments.departments if d.fallback] == ["kcc"]
    await fails(
        env.stub.OnboardTenant(
            tp.OnboardTenantRequest(
                tenant_id="gm0344",
                tenant=tp.Tenant(display_name="Utrecht"),
                departments=[tp.Department(name="tenants/gm0363/departments/x", display_name="X")],
            ),
            metadata=env.admin,
        ),
        grpc.StatusCode.INVALID_ARGUMENT,
    )
    await fails(
        env.stub.OnboardTenant(
            tp.OnboardTenantRequest(tenant_id="gm0344", tenant=tp.Tenant(display_name="Utrecht")),
            metadata=env.md(auth.Role.TENANT_INTEGRATION, ["gm0344"]),
        ),
        grpc.StatusCode.PERMISSION_DENIED,
    )


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
