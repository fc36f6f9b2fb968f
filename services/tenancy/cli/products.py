"""`kcc tenancy products ...`: list, show and change the products of a tenant's catalogue."""

from __future__ import annotations

import argparse
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.enums import HANDLINGS
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    UsageError,
    add,
    all_products,
    last,
    mask,
    table,
    tenant_arg,
)


def add_commands(groups: Any) -> None:
    products = groups.add_parser("products", help="the catalogue").add_subparsers(
        dest="products_command", required=True
    )
    p = add(products, "list", _products_list, "list a tenant's products")
    tenant_arg(p)
    p.add_argument("--department", help="department id")
    p.add_argument("--handling", choices=HANDLINGS.names)
    p.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--search", help="part of the product name")
    p = add(products, "show", _products_show, "show one product")
    tenant_arg(p)
    p.add_argument("--product", required=True, help="UPL slug, e.g. paspoort")
    p = add(products, "update", _products_update, "change how a tenant handles a product")
    tenant_arg(p)
    p.add_argument("--product", required=True, help="UPL slug, e.g. paspoort")
    p.add_argument("--department", help="department id")
    p.add_argument("--handling", choices=HANDLINGS.names)
    p.add_argument("--name", help="display name")
    p.add_argument("--add-synonym", action="append", default=[], metavar="TEXT")
    p.add_argument("--remove-synonym", action="append", default=[], metavar="TEXT")
    p.add_argument("--ivr-code", action="append", default=None, metavar="CODE", help="replaces the IVR codes")
    p.add_argument("--clear-ivr-codes", action="store_true")
    toggle = p.add_mutually_exclusive_group()
    toggle.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    toggle.add_argument("--disable", dest="enabled", action="store_const", const=False)


def _product_line(p: pb.Product) -> list[str]:
    return [
        last(p.name),
        p.display_name[:60],
        last(p.department),
        HANDLINGS.name(p.handling),
        "yes" if p.enabled else "no",
        ",".join(p.ivr_codes),
        str(len(p.synonyms)),
    ]


async def _products_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    terms = []
    if args.department:
        terms.append(f"department=tenants/{args.tenant}/departments/{args.department}")
    if args.handling:
        terms.append(f"handling={args.handling}")
    if args.enabled is not None:
        terms.append(f"enabled={'true' if args.enabled else 'false'}")
    if args.search:
        terms.append(f'display_name:"{args.search}"')
    rows = [_product_line(p) async for p in all_products(stub, md, f"tenants/{args.tenant}", " AND ".join(terms))]
    table(rows, ["PRODUCT", "NAME", "DEPARTMENT", "HANDLING", "ENABLED", "IVR", "SYNONYMS"])
    print(f"{len(rows)} product(s)")
    return 0


def _print_product(p: pb.Product) -> None:
    print(f"{p.name}  {p.display_name}")
    print(f"  upl_uri      {p.upl_uri}")
    print(f"  department   {p.department}")
    print(f"  handling     {HANDLINGS.name(p.handling)}")
    print(f"  enabled      {'yes' if p.enabled else 'no'}")
    print(f"  synonyms     {', '.join(p.synonyms) or '-'}")
    print(f"  ivr_codes    {', '.join(p.ivr_codes) or '-'}")
    print(f"  updated      {p.update_time.ToJsonString()}")


async def _products_show(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/products/{args.product}"
    _print_product(await stub.GetProduct(pb.GetProductRequest(name=name), metadata=md, timeout=TIMEOUT))
    return 0


async def _products_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/products/{args.product}"
    product = pb.Product(name=name)
    paths: list[str] = []
    if args.department is not None:
        product.department = f"tenants/{args.tenant}/departments/{args.department}"
        paths.append("department")
    if args.handling is not None:
        product.handling = HANDLINGS.number(args.handling)
        paths.append("handling")
    if args.name is not None:
        product.display_name = args.name
        paths.append("display_name")
    if args.enabled is not None:
        product.enabled = args.enabled
        paths.append("enabled")
    if args.ivr_code is not None or args.clear_ivr_codes:
        product.ivr_codes.extend([] if args.clear_ivr_codes else args.ivr_code)
        paths.append("ivr_codes")
    if args.add_synonym or args.remove_synonym:
        current = await stub.GetProduct(pb.GetProductRequest(name=name), metadata=md, timeout=TIMEOUT)
        synonyms = [s for s in current.synonyms if s not in set(args.remove_synonym)]
        synonyms += [s for s in args.add_synonym if s not in synonyms]
        product.synonyms.extend(synonyms)
        paths.append("synonyms")
    if not paths:
        raise UsageError("nothing to update (see --help)")
    updated = await stub.UpdateProduct(
        pb.UpdateProductRequest(product=product, update_mask=mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print("updated " + ", ".join(paths))
    _print_product(updated)
    return 0
