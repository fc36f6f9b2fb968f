"""Products of a tenant's catalogue: each UPL product mapped to a department, with synonyms and IVR codes."""

from __future__ import annotations

import json
from typing import Any

from sqlmodel import Session, col, func, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common import names, paging, validation
from services.common.enums import HANDLINGS
from services.common.errors import invalid_argument
from services.tenancy import catalogue, convert, listing
from services.tenancy.changes import touch
from services.tenancy.idempotency import create_once
from services.tenancy.models import ProductRow, utcnow
from services.tenancy.store import (
    Store,
    apply_mask,
    delete_row,
    get_row,
    own_id,
    require_admin,
    require_department,
    tenant_row,
)

RESOURCE = "product"


def values_of(tenant: str, product: pb.Product, partial: bool = False) -> dict[str, Any]:
    department = own_id("product.department", product.department, tenant, "departments")
    if not department and not partial:
        raise invalid_argument("product.department", "is required")
    if not partial and not product.display_name.strip():
        raise invalid_argument("product.display_name", "is required")
    for field, items in (("synonyms", product.synonyms), ("ivr_codes", product.ivr_codes)):
        if len(items) > validation.item_limit(field):
            raise invalid_argument(f"product.{field}", f"at most {validation.item_limit(field)} entries")
        for i, item in enumerate(items):
            if not 0 < len(item) <= validation.limit(field):
                raise invalid_argument(f"product.{field}[{i}]", f"must be 1..{validation.limit(field)} characters")
    return {
        "upl_uri": product.upl_uri,
        "display_name": product.display_name.strip(),
        "department": department,
        "handling": HANDLINGS.name(product.handling) or "CALLBACK",
        "synonyms": json.dumps(list(product.synonyms)),
        "ivr_codes": json.dumps(list(product.ivr_codes)),
        "enabled": product.enabled,
    }


async def create(store: Store, request: pb.CreateProductRequest) -> pb.Product:
    require_admin()
    (tenant,) = names.parse("parent", request.parent, "tenants")
    product_id = names.check_id("product_id", request.product_id)
    name = f"tenants/{tenant}/products/{product_id}"
    values = values_of(tenant, request.product)

    def work(session: Session) -> pb.Product:
        def make() -> ProductRow:
            require_department(session, tenant, values["department"])
            return ProductRow(tenant=tenant, id=product_id, **values)

        return convert.product_msg(create_once(session, request, tenant, ProductRow, product_id, name, RESOURCE, make))

    return await store.write(tenant, work)


async def get(store: Store, request: pb.GetProductRequest) -> pb.Product:
    tenant, product_id = names.parse("name", request.name, "tenants", "products")
    return await store.read(lambda s: convert.product_msg(get_row(s, tenant, ProductRow, product_id, request.name)))


async def list_(store: Store, request: pb.ListProductsRequest) -> pb.ListProductsResponse:
    (tenant,) = names.parse("parent", request.parent, "tenants")
    size = paging.page_size(request.page_size)
    terms = listing.parse_filter(request.filter, {"department", "enabled", "handling", "display_name"})

    def work(session: Session) -> pb.ListProductsResponse:
        tenant_row(session, tenant)
        stmt = select(ProductRow).where(ProductRow.tenant == tenant).order_by(col(ProductRow.id))
        count = select(func.count()).select_from(ProductRow).where(ProductRow.tenant == tenant)
        for field, _op, value in terms:
            if field == "department":
                cond = col(ProductRow.department) == value.rsplit("/", 1)[-1]
            elif field == "enabled":
                cond = col(ProductRow.enabled) == (value.lower() == "true")
            elif field == "handling":
                cond = col(ProductRow.handling) == value.upper()
            else:
                cond = col(ProductRow.display_name).contains(value)
            stmt, count = stmt.where(cond), count.where(cond)
        rows, token = listing.page(session, stmt, size, request.page_token, f"prod|{tenant}|{request.filter}")
        return pb.ListProductsResponse(
            products=[convert.product_msg(r) for r in rows],
            next_page_token=token,
            total_size=session.exec(count).one(),
        )

    return await store.read(work)


async def update(store: Store, request: pb.UpdateProductRequest) -> pb.Product:
    require_admin()
    tenant, product_id = names.parse("product.name", request.product.name, "tenants", "products")
    paths = list(request.update_mask.paths)
    values = values_of(tenant, request.product, partial=True)
    if "display_name" in paths and not values["display_name"]:
        raise invalid_argument("product.display_name", "must not be empty")
    if "department" in paths and not values["department"]:
        raise invalid_argument("product.department", "must not be empty")

    def work(session: Session) -> pb.Product:
        row = get_row(session, tenant, ProductRow, product_id, request.product.name)
        apply_mask(row, values, paths, set(values) - {"upl_uri"})
        if "department" in paths:
            require_department(session, tenant, row.department)
        row.update_time = utcnow()
        session.add(row)
        touch(session, tenant, RESOURCE, request.product.name)
        return convert.product_msg(row)

    return await store.write(tenant, work)


async def delete(store: Store, request: pb.DeleteProductRequest) -> None:
    require_admin()
    tenant, product_id = names.parse("name", request.name, "tenants", "products")
    await store.write(tenant, lambda s: delete_row(s, tenant, ProductRow, product_id, request.name, RESOURCE))


async def import_upl(store: Store, request: pb.ImportUplProductsRequest) -> pb.ImportUplProductsResponse:
    require_admin()
    (tenant,) = names.parse("parent", request.parent, "tenants")
    default_department = own_id("default_department", request.default_department, tenant, "departments")

    def work(session: Session) -> pb.ImportUplProductsResponse:
        tenant_row(session, tenant)
        created, updated, unchanged = catalogue.import_upl_rows(session, tenant, request.rows, default_department)
        if created or updated:
            touch(session, tenant, RESOURCE, f"tenants/{tenant}/products")
        return pb.ImportUplProductsResponse(created=created, updated=updated, unchanged=unchanged)

    return await store.write(tenant, work)
