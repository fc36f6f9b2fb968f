"""Tenancy's catalogue: the UPL import, the default mapping, onboarding and the compiled snapshot in KV."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from kcc.tenancy.v1 import tenancy_pb2 as tp
from services.common import auth, snapshots
from services.tenancy.catalogue import DEFAULT_DEPARTMENTS, FALLBACK_DEPARTMENT
from services.tenancy.onboarding import onboard_tenant
from tests.builders import UPL
from tests.test_tenancy import (
    UPL_PRODUCTS,
    UPL_ROWS,
    Env,
    create_department,
    create_tenant,
    fails,
    mask,
    running,
)


@pytest.fixture
async def env(tmp_path: Path, nats_url: str, database_url: str) -> AsyncIterator[Env]:
    async with running(tmp_path, nats_url, database_url) as started:
        yield started


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
