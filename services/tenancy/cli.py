"""`kcc tenancy ...`: administer tenants, departments, the catalogue, SLA policies and calendars.

Every command talks to the running tenancy service over gRPC (KCC_TENANCY_TARGET, KCC_TOKEN),
prints readable output and exits 1 with the server's message and ErrorInfo reason on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import re
import sys
import types
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

import grpc
from google.protobuf import field_mask_pb2

from kcc.common.v1 import common_pb2
from kcc.tenancy.v1 import tenancy_pb2 as pb
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import client
from services.common.config import Settings
from services.common.errors import ApiError, error_info
from services.tenancy import catalogue, onboarding

if TYPE_CHECKING:
    Stub: TypeAlias = tenancy_pb2_grpc.TenancyServiceAsyncStub
else:
    Stub = tenancy_pb2_grpc.TenancyServiceStub
Metadata = tuple[tuple[str, str], ...]
Command = Callable[[Stub, Metadata, argparse.Namespace], Awaitable[int]]

TIMEOUT = 60.0
HANDLINGS = ("FIRST_LINE", "CALLBACK")
CHANNELS = ("PHONE", "CHAT", "EMAIL", "COUNTER", "WEB_FORM")
ENTRY_KINDS = {
    "phone": pb.EntryPoint.KIND_PHONE_NUMBER,
    "web-form": pb.EntryPoint.KIND_WEB_FORM_ORIGIN,
    "chat": pb.EntryPoint.KIND_CHAT_WIDGET,
}
STATES = ("ONBOARDING", "ACTIVE", "SUSPENDED")
WEEKDAYS = {
    "ma": 1,
    "mon": 1,
    "di": 2,
    "tue": 2,
    "wo": 3,
    "wed": 3,
    "do": 4,
    "thu": 4,
    "vr": 5,
    "fri": 5,
    "za": 6,
    "sat": 6,
    "zo": 7,
    "sun": 7,
}
DAY_NAMES = ("", "ma", "di", "wo", "do", "vr", "za", "zo")


class UsageError(Exception):
    """A bad command line argument found after parsing (exit 2)."""


# -- plumbing ---------------------------------------------------------------------------------


def _runner(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        return asyncio.run(_with_stub(command, args))

    return run


async def _with_stub(command: Command, args: argparse.Namespace) -> int:
    settings = Settings()
    md = client.metadata(client.token(settings))
    async with client.channel(settings, "tenancy") as channel:
        try:
            return await command(tenancy_pb2_grpc.TenancyServiceStub(channel), md, args)
        except grpc.aio.AioRpcError as err:
            info = error_info(err)
            reason = f" (reason {info.reason})" if info is not None and info.reason else ""
            print(f"kcc tenancy: {err.code().name}: {err.details()}{reason}", file=sys.stderr)
            return 1
        except ApiError as err:  # checks done locally with the server's rules
            print(f"kcc tenancy: {err.code.name}: {err.message} (reason {err.reason})", file=sys.stderr)
            return 1
        except UsageError as err:
            print(f"kcc tenancy: {err}", file=sys.stderr)
            return 2


async def _pages(fetch: Callable[[str], Awaitable[Any]], field: str) -> AsyncIterator[Any]:
    token = ""
    while True:
        reply = await fetch(token)
        for item in getattr(reply, field):
            yield item
        token = reply.next_page_token
        if not token:
            return


def _last(name: str) -> str:
    return name.rsplit("/", 1)[-1] if name else ""


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def _enum_name(value: int, enum: Any, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix) if value else ""


def _tenant_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id: the CBS code in lower case, e.g. gm0268")


def _add(sub: Any, name: str, command: Command, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=_runner(command))
    return parser


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tenancy = sub.add_parser("tenancy", help="administer gemeenten, catalogues, SLA policies and calendars")
    groups = tenancy.add_subparsers(dest="tenancy_command", required=True)

    tenants = groups.add_parser("tenants", help="gemeenten").add_subparsers(dest="tenants_command", required=True)
    p = _add(tenants, "list", _tenants_list, "list tenants")
    p.add_argument("--state", choices=STATES)
    p.add_argument("--search", help="part of the display name")
    p = _add(tenants, "show", _tenants_show, "show one tenant with its departments, entry points and counts")
    _tenant_arg(p)
    p = _add(tenants, "create", _tenants_create, "create a tenant (no departments or catalogue: see onboard)")
    _tenant_arg(p)
    p.add_argument("--name", required=True, help="display name, e.g. Nijmegen")
    p.add_argument("--state", choices=STATES, default="ACTIVE")
    p.add_argument("--retention-days", type=int, default=0)
    p.add_argument("--request-id", default="", help="makes a retried create harmless")
    p = _add(tenants, "update", _tenants_update, "change a tenant's name, state or retention")
    _tenant_arg(p)
    p.add_argument("--name")
    p.add_argument("--state", choices=STATES)
    p.add_argument("--retention-days", type=int)

    departments = groups.add_parser("departments", help="vakafdelingen").add_subparsers(
        dest="departments_command", required=True
    )
    p = _add(departments, "list", _departments_list, "list a tenant's departments")
    _tenant_arg(p)
    p = _add(departments, "create", _departments_create, "create a department")
    _tenant_arg(p)
    p.add_argument("--id", required=True, help="department id, e.g. burgerzaken")
    p.add_argument("--name", required=True)
    p.add_argument("--fallback", action="store_true", help="receives contacts whose product is not recognised")
    p.add_argument("--request-id", default="")
    p = _add(departments, "update", _departments_update, "rename a department or make it the fallback")
    _tenant_arg(p)
    p.add_argument("--id", required=True)
    p.add_argument("--name")
    p.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=None)
    p = _add(departments, "delete", _departments_delete, "delete a department no product maps to")
    _tenant_arg(p)
    p.add_argument("--id", required=True)

    products = groups.add_parser("products", help="the catalogue").add_subparsers(
        dest="products_command", required=True
    )
    p = _add(products, "list", _products_list, "list a tenant's products")
    _tenant_arg(p)
    p.add_argument("--department", help="department id")
    p.add_argument("--handling", choices=HANDLINGS)
    p.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--search", help="part of the product name")
    p = _add(products, "show", _products_show, "show one product")
    _tenant_arg(p)
    p.add_argument("--product", required=True, help="UPL slug, e.g. paspoort")
    p = _add(products, "update", _products_update, "change how a tenant handles a product")
    _tenant_arg(p)
    p.add_argument("--product", required=True, help="UPL slug, e.g. paspoort")
    p.add_argument("--department", help="department id")
    p.add_argument("--handling", choices=HANDLINGS)
    p.add_argument("--name", help="display name")
    p.add_argument("--add-synonym", action="append", default=[], metavar="TEXT")
    p.add_argument("--remove-synonym", action="append", default=[], metavar="TEXT")
    p.add_argument("--ivr-code", action="append", default=None, metavar="CODE", help="replaces the IVR codes")
    p.add_argument("--clear-ivr-codes", action="store_true")
    toggle = p.add_mutually_exclusive_group()
    toggle.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
    toggle.add_argument("--disable", dest="enabled", action="store_const", const=False)

    entry = groups.add_parser("entry-points", help="phone numbers and origins").add_subparsers(
        dest="entry_points_command", required=True
    )
    p = _add(entry, "list", _entry_points_list, "list a tenant's entry points")
    _tenant_arg(p)
    p = _add(entry, "add", _entry_points_add, "add an entry point (unique across tenants)")
    _tenant_arg(p)
    p.add_argument("--kind", choices=sorted(ENTRY_KINDS), default="phone")
    p.add_argument("--value", required=True, help="e.g. 14024, +31243299999 or https://www.nijmegen.nl")
    p.add_argument("--id", default="", help="entry point id (default: derived from the value)")
    p.add_argument("--request-id", default="")
    p = _add(entry, "delete", _entry_points_delete, "remove an entry point")
    _tenant_arg(p)
    p.add_argument("--id", required=True)

    sla = groups.add_parser("sla", help="servicenormen").add_subparsers(dest="sla_command", required=True)
    p = _add(sla, "list", _sla_list, "list a tenant's SLA policies")
    _tenant_arg(p)
    for name, command, text in (
        ("create", _sla_create, "create an SLA policy (the most specific policy wins)"),
        ("update", _sla_update, "change the fields given"),
    ):
        p = _add(sla, name, command, text)
        _tenant_arg(p)
        p.add_argument("--id", required=True, help="policy id, e.g. default or paspoort-telefoon")
        p.add_argument("--channel", choices=CHANNELS)
        p.add_argument("--department", help="department id")
        p.add_argument("--product", help="product slug")
        p.add_argument("--answer-seconds", type=int)
        p.add_argument("--answer-percent", type=int)
        deadline = p.add_mutually_exclusive_group()
        deadline.add_argument("--callback-hours", type=int, help="callback deadline in working hours")
        deadline.add_argument("--callback-days", type=int, help="callback deadline in working days")
        p.add_argument("--warning-percent", type=int)
        p.add_argument("--max-attempts", type=int)
        p.add_argument("--escalation", help="escalation target (department name or role)")
        if name == "create":
            p.add_argument("--request-id", default="")

    cal = groups.add_parser("calendar", help="opening hours and holidays").add_subparsers(
        dest="calendar_command", required=True
    )
    p = _add(cal, "show", _calendar_show, "show a tenant's business calendar")
    _tenant_arg(p)
    p = _add(cal, "set-hours", _calendar_set_hours, "set the opening hours of weekdays")
    _tenant_arg(p)
    p.add_argument("--days", required=True, help="ISO weekdays: 1-5, 1,3,5, ma-vr or mon-fri")
    hours = p.add_mutually_exclusive_group(required=True)
    hours.add_argument("--hours", help="e.g. 08:30-12:00,13:00-17:00")
    hours.add_argument("--closed", action="store_true")
    p = _add(cal, "add-closure", _calendar_add_closure, "close on a date (e.g. a bridge day)")
    _tenant_arg(p)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p = _add(cal, "add-opening", _calendar_add_opening, "open on a date with special hours (replaces that day)")
    _tenant_arg(p)
    p.add_argument("--date", required=True, help="YYYY-MM-DD")
    p.add_argument("--hours", required=True, help="e.g. 10:00-14:00")
    p = _add(cal, "remove-day", _calendar_remove_day, "remove a closure or special opening")
    _tenant_arg(p)
    p.add_argument("--date", required=True)

    p = _add(groups, "import-upl", _import_upl, "import the UPL gemeente products into a catalogue (one transaction)")
    _tenant_arg(p)
    p.add_argument("path", nargs="?", type=Path, default=catalogue.UPL_CSV, help="UPL-actueel.csv")
    p.add_argument("--all-products", action="store_true", help="not only the rows marked Gemeente=X")
    p.add_argument("--default-department", default="", help="for products the mapping does not place")

    p = _add(groups, "onboard", _onboard, "onboard one gemeente: tenant, departments, catalogue, entry point")
    _tenant_arg(p)
    p.add_argument("--name", default="", help="display name (default: from the shipped gemeenten.csv)")
    p.add_argument("--short-number", "--entry-point", dest="short_number", default="", help="e.g. 14024")
    p.add_argument("--upl", type=Path, default=catalogue.UPL_CSV)

    p = _add(groups, "onboard-all", _onboard_all, "onboard every gemeente in a file (idempotent)")
    p.add_argument("--file", type=Path, default=onboarding.GEMEENTEN_CSV)
    p.add_argument("--upl", type=Path, default=catalogue.UPL_CSV)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--no-progress", action="store_true")

    p = _add(groups, "export", _export, "export a tenant's catalogue")
    _tenant_arg(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")

    p = groups.add_parser("mapping", help="how the default mapping places the UPL gemeente products")
    p.add_argument("--upl", type=Path, default=catalogue.UPL_CSV)
    p.add_argument("--products", action="store_true", help="list every product with its department")
    p.set_defaults(run=_mapping)


# -- tenants ----------------------------------------------------------------------------------


def _tenant_line(t: pb.Tenant) -> list[str]:
    return [
        _last(t.name),
        t.display_name,
        _enum_name(t.state, pb.Tenant.State, "STATE_"),
        str(t.retention_days),
        t.update_time.ToDatetime().strftime("%Y-%m-%d %H:%M"),
    ]


async def _tenants_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    terms = []
    if args.state:
        terms.append(f"state={args.state}")
    if args.search:
        terms.append(f'display_name:"{args.search}"')
    query = " AND ".join(terms)
    rows = [
        _tenant_line(t)
        async for t in _pages(
            lambda token: stub.ListTenants(
                pb.ListTenantsRequest(page_size=500, page_token=token, filter=query), metadata=md, timeout=TIMEOUT
            ),
            "tenants",
        )
    ]
    _table(rows, ["TENANT", "NAME", "STATE", "RETENTION", "UPDATED"])
    print(f"{len(rows)} tenant(s)")
    return 0


async def _tenants_show(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    t = await stub.GetTenant(pb.GetTenantRequest(name=parent), metadata=md, timeout=TIMEOUT)
    departments = await stub.ListDepartments(
        pb.ListDepartmentsRequest(parent=parent, page_size=1000), metadata=md, timeout=TIMEOUT
    )
    entry_points = await stub.ListEntryPoints(
        pb.ListEntryPointsRequest(parent=parent, page_size=1000), metadata=md, timeout=TIMEOUT
    )
    products = await stub.ListProducts(pb.ListProductsRequest(parent=parent, page_size=1), metadata=md, timeout=TIMEOUT)
    enabled = await stub.ListProducts(
        pb.ListProductsRequest(parent=parent, page_size=1, filter="enabled=true"), metadata=md, timeout=TIMEOUT
    )
    print(f"{t.name}  {t.display_name}")
    print(f"  state          {_enum_name(t.state, pb.Tenant.State, 'STATE_')}")
    print(f"  retention      {t.retention_days} days")
    print(f"  created        {t.create_time.ToJsonString()}")
    print(f"  updated        {t.update_time.ToJsonString()}")
    print(f"  products       {products.total_size} ({enabled.total_size} enabled)")
    print(f"  departments    {len(departments.departments)}")
    for d in departments.departments:
        print(f"    {_last(d.name):24} {d.display_name}{'  (fallback)' if d.fallback else ''}")
    print(f"  entry points   {len(entry_points.entry_points)}")
    for e in entry_points.entry_points:
        print(f"    {_last(e.name):24} {_enum_name(e.kind, pb.EntryPoint.Kind, 'KIND_'):16} {e.value}")
    return 0


async def _tenants_create(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    t = await stub.CreateTenant(
        pb.CreateTenantRequest(
            tenant_id=args.tenant,
            tenant=pb.Tenant(
                display_name=args.name,
                state=pb.Tenant.State.Value(f"STATE_{args.state}"),
                retention_days=args.retention_days,
            ),
            request_id=args.request_id,
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"created {t.name} ({t.display_name}, {_enum_name(t.state, pb.Tenant.State, 'STATE_')})")
    return 0


async def _tenants_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    tenant = pb.Tenant(name=f"tenants/{args.tenant}")
    paths = []
    if args.name is not None:
        tenant.display_name = args.name
        paths.append("display_name")
    if args.state is not None:
        tenant.state = pb.Tenant.State.Value(f"STATE_{args.state}")
        paths.append("state")
    if args.retention_days is not None:
        tenant.retention_days = args.retention_days
        paths.append("retention_days")
    if not paths:
        raise UsageError("nothing to update: give --name, --state or --retention-days")
    t = await stub.UpdateTenant(
        pb.UpdateTenantRequest(tenant=tenant, update_mask=_mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {t.name}: " + ", ".join(paths))
    _table([_tenant_line(t)], ["TENANT", "NAME", "STATE", "RETENTION", "UPDATED"])
    return 0


# -- departments ------------------------------------------------------------------------------


async def _departments_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    departments = [
        d
        async for d in _pages(
            lambda token: stub.ListDepartments(
                pb.ListDepartmentsRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "departments",
        )
    ]
    counts: dict[str, int] = {}
    async for p in _all_products(stub, md, parent):
        counts[_last(p.department)] = counts.get(_last(p.department), 0) + 1
    _table(
        [
            [_last(d.name), d.display_name, "yes" if d.fallback else "", str(counts.get(_last(d.name), 0))]
            for d in departments
        ],
        ["DEPARTMENT", "NAME", "FALLBACK", "PRODUCTS"],
    )
    print(f"{len(departments)} department(s)")
    return 0


async def _departments_create(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    d = await stub.CreateDepartment(
        pb.CreateDepartmentRequest(
            parent=f"tenants/{args.tenant}",
            department_id=args.id,
            department=pb.Department(display_name=args.name, fallback=args.fallback),
            request_id=args.request_id,
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"created {d.name} ({d.display_name}{', fallback' if d.fallback else ''})")
    return 0


async def _departments_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    department = pb.Department(name=f"tenants/{args.tenant}/departments/{args.id}")
    paths = []
    if args.name is not None:
        department.display_name = args.name
        paths.append("display_name")
    if args.fallback is not None:
        department.fallback = args.fallback
        paths.append("fallback")
    if not paths:
        raise UsageError("nothing to update: give --name or --fallback/--no-fallback")
    d = await stub.UpdateDepartment(
        pb.UpdateDepartmentRequest(department=department, update_mask=_mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {d.name}: {d.display_name}{' (fallback)' if d.fallback else ''}")
    return 0


async def _departments_delete(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/departments/{args.id}"
    await stub.DeleteDepartment(pb.DeleteDepartmentRequest(name=name), metadata=md, timeout=TIMEOUT)
    print(f"deleted {name}")
    return 0


# -- products ---------------------------------------------------------------------------------


def _all_products(stub: Stub, md: Metadata, parent: str, query: str = "") -> AsyncIterator[pb.Product]:
    return _pages(
        lambda token: stub.ListProducts(
            pb.ListProductsRequest(parent=parent, page_size=1000, page_token=token, filter=query),
            metadata=md,
            timeout=TIMEOUT,
        ),
        "products",
    )


def _product_line(p: pb.Product) -> list[str]:
    return [
        _last(p.name),
        p.display_name[:60],
        _last(p.department),
        _enum_name(p.handling, common_pb2.Handling, "HANDLING_"),
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
    rows = [_product_line(p) async for p in _all_products(stub, md, f"tenants/{args.tenant}", " AND ".join(terms))]
    _table(rows, ["PRODUCT", "NAME", "DEPARTMENT", "HANDLING", "ENABLED", "IVR", "SYNONYMS"])
    print(f"{len(rows)} product(s)")
    return 0


def _print_product(p: pb.Product) -> None:
    print(f"{p.name}  {p.display_name}")
    print(f"  upl_uri      {p.upl_uri}")
    print(f"  department   {p.department}")
    print(f"  handling     {_enum_name(p.handling, common_pb2.Handling, 'HANDLING_')}")
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
        product.handling = common_pb2.Handling.Value(f"HANDLING_{args.handling}")
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
        pb.UpdateProductRequest(product=product, update_mask=_mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print("updated " + ", ".join(paths))
    _print_product(updated)
    return 0


# -- entry points -----------------------------------------------------------------------------


async def _entry_points_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    rows = [
        [_last(e.name), _enum_name(e.kind, pb.EntryPoint.Kind, "KIND_"), e.value]
        async for e in _pages(
            lambda token: stub.ListEntryPoints(
                pb.ListEntryPointsRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "entry_points",
        )
    ]
    _table(rows, ["ENTRY POINT", "KIND", "VALUE"])
    print(f"{len(rows)} entry point(s)")
    return 0


async def _entry_points_add(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    ep_id = args.id or (args.kind + "-" + re.sub(r"[^a-z0-9]+", "-", args.value.lower()).strip("-"))[:63]
    e = await stub.CreateEntryPoint(
        pb.CreateEntryPointRequest(
            parent=f"tenants/{args.tenant}",
            entry_point_id=ep_id,
            entry_point=pb.EntryPoint(kind=ENTRY_KINDS[args.kind], value=args.value),
            request_id=args.request_id,
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"added {e.name}: {_enum_name(e.kind, pb.EntryPoint.Kind, 'KIND_')} {e.value}")
    return 0


async def _entry_points_delete(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/entryPoints/{args.id}"
    await stub.DeleteEntryPoint(pb.DeleteEntryPointRequest(name=name), metadata=md, timeout=TIMEOUT)
    print(f"deleted {name}")
    return 0


# -- SLA policies -----------------------------------------------------------------------------


def _sla_line(s: pb.SlaPolicy) -> list[str]:
    deadline = (
        f"{s.callback_working_days} working days"
        if s.WhichOneof("callback_deadline") == "callback_working_days"
        else f"{s.callback_working_hours} working hours"
    )
    return [
        _last(s.name),
        _enum_name(s.channel, common_pb2.Channel, "CHANNEL_") or "*",
        _last(s.department) or "*",
        _last(s.product) or "*",
        f"{s.answer_target.percent}% in {s.answer_target.seconds}s",
        deadline,
        f"{s.warning_percent}%",
        str(s.max_callback_attempts),
        s.escalation_target,
    ]


SLA_HEADER = ["POLICY", "CHANNEL", "DEPARTMENT", "PRODUCT", "ANSWER", "CALLBACK", "WARN", "ATTEMPTS", "ESCALATION"]


async def _sla_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    rows = [
        _sla_line(s)
        async for s in _pages(
            lambda token: stub.ListSlaPolicies(
                pb.ListSlaPoliciesRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "sla_policies",
        )
    ]
    _table(rows, SLA_HEADER)
    print(f"{len(rows)} SLA polic{'y' if len(rows) == 1 else 'ies'} (the most specific one applies; * = any)")
    return 0


def _sla_from_args(args: argparse.Namespace) -> tuple[pb.SlaPolicy, list[str]]:
    tenant = args.tenant
    policy = pb.SlaPolicy(name=f"tenants/{tenant}/slaPolicies/{args.id}")
    paths: list[str] = []
    if args.channel is not None:
        policy.channel = common_pb2.Channel.Value(f"CHANNEL_{args.channel}")
        paths.append("channel")
    if args.department is not None:
        policy.department = f"tenants/{tenant}/departments/{args.department}" if args.department else ""
        paths.append("department")
    if args.product is not None:
        policy.product = f"tenants/{tenant}/products/{args.product}" if args.product else ""
        paths.append("product")
    if args.answer_seconds is not None or args.answer_percent is not None:
        policy.answer_target.seconds = args.answer_seconds or 0
        policy.answer_target.percent = args.answer_percent or 0
        paths.append("answer_target")
    if args.callback_hours is not None:
        policy.callback_working_hours = args.callback_hours
        paths.append("callback_deadline")
    if args.callback_days is not None:
        policy.callback_working_days = args.callback_days
        paths.append("callback_deadline")
    if args.warning_percent is not None:
        policy.warning_percent = args.warning_percent
        paths.append("warning_percent")
    if args.max_attempts is not None:
        policy.max_callback_attempts = args.max_attempts
        paths.append("max_callback_attempts")
    if args.escalation is not None:
        policy.escalation_target = args.escalation
        paths.append("escalation_target")
    return policy, paths


async def _sla_create(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    policy, _paths = _sla_from_args(args)
    policy.ClearField("name")
    created = await stub.CreateSlaPolicy(
        pb.CreateSlaPolicyRequest(
            parent=f"tenants/{args.tenant}", sla_policy_id=args.id, sla_policy=policy, request_id=args.request_id
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"created {created.name}")
    _table([_sla_line(created)], SLA_HEADER)
    return 0


async def _sla_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    policy, paths = _sla_from_args(args)
    if not paths:
        raise UsageError("nothing to update (see --help)")
    if "answer_target" in paths and (args.answer_seconds is None or args.answer_percent is None):
        current = await stub.GetSlaPolicy(pb.GetSlaPolicyRequest(name=policy.name), metadata=md, timeout=TIMEOUT)
        policy.answer_target.seconds = args.answer_seconds or current.answer_target.seconds
        policy.answer_target.percent = args.answer_percent or current.answer_target.percent
    updated = await stub.UpdateSlaPolicy(
        pb.UpdateSlaPolicyRequest(sla_policy=policy, update_mask=_mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {updated.name}: " + ", ".join(paths))
    _table([_sla_line(updated)], SLA_HEADER)
    return 0


# -- business calendar ------------------------------------------------------------------------


def _periods(text: str) -> list[pb.OpeningPeriod]:
    periods = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})", part)
        if not match:
            raise UsageError(f"{part!r} is not a period like 08:30-17:00")
        start, end = (v.zfill(5) for v in match.groups())
        periods.append(pb.OpeningPeriod(start=start, end=end))
    if not periods:
        raise UsageError("give at least one period, e.g. 08:30-17:00")
    return periods


def _weekday(text: str) -> int:
    value = WEEKDAYS.get(text.strip().lower()[:3]) or WEEKDAYS.get(text.strip().lower()[:2])
    if value is None and text.strip().isdigit() and 1 <= int(text) <= 7:
        value = int(text)
    if value is None:
        raise UsageError(f"{text!r} is not a weekday (1-7, ma..zo or mon..sun)")
    return value


def _weekdays(text: str) -> list[int]:
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "-" in part:
            first, last = (_weekday(v) for v in part.split("-", 1))
            if last < first:
                raise UsageError(f"{part!r}: the range runs backwards")
            days.update(range(first, last + 1))
        else:
            days.add(_weekday(part))
    return sorted(days)


def _fmt_periods(periods: Any) -> str:
    return ", ".join(f"{p.start}-{p.end}" for p in periods) or "closed"


def _print_calendar(cal: pb.BusinessCalendar) -> None:
    print(f"{cal.name}")
    print(f"  time zone                {cal.time_zone}")
    print(f"  Dutch public holidays    {'closed' if cal.observe_public_holidays else 'not observed'}")
    hours = {d.iso_weekday: d.periods for d in cal.weekly_hours}
    for day in range(1, 8):
        print(f"  {DAY_NAMES[day]}                       {_fmt_periods(hours.get(day, []))}")
    if cal.special_days:
        print("  special days")
        for special in sorted(cal.special_days, key=lambda s: s.date):
            print(f"    {special.date}           {_fmt_periods(special.periods)}")


async def _get_calendar(stub: Stub, md: Metadata, tenant: str) -> pb.BusinessCalendar:
    return await stub.GetBusinessCalendar(
        pb.GetBusinessCalendarRequest(name=f"tenants/{tenant}/businessCalendar"), metadata=md, timeout=TIMEOUT
    )


async def _update_calendar(stub: Stub, md: Metadata, cal: pb.BusinessCalendar, path: str) -> int:
    updated = await stub.UpdateBusinessCalendar(
        pb.UpdateBusinessCalendarRequest(business_calendar=cal, update_mask=_mask(path)), metadata=md, timeout=TIMEOUT
    )
    _print_calendar(updated)
    return 0


async def _calendar_show(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    _print_calendar(await _get_calendar(stub, md, args.tenant))
    return 0


async def _calendar_set_hours(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    days = _weekdays(args.days)
    periods = [] if args.closed else _periods(args.hours)
    cal = await _get_calendar(stub, md, args.tenant)
    weekly = {d.iso_weekday: list(d.periods) for d in cal.weekly_hours}
    for day in days:
        weekly[day] = periods
    del cal.weekly_hours[:]
    cal.weekly_hours.extend(pb.WeekdayHours(iso_weekday=d, periods=ps) for d, ps in sorted(weekly.items()) if ps)
    return await _update_calendar(stub, md, cal, "weekly_hours")


async def _calendar_special(
    stub: Stub, md: Metadata, tenant: str, day: str, periods: list[pb.OpeningPeriod] | None
) -> int:
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        raise UsageError(f"{day!r} is not a date like 2026-12-24")
    cal = await _get_calendar(stub, md, tenant)
    kept = [s for s in cal.special_days if s.date != day]
    if periods is not None:
        kept.append(pb.SpecialDay(date=day, periods=periods))
    elif len(kept) == len(cal.special_days):
        raise UsageError(f"{day} is not a special day of tenants/{tenant}")
    del cal.special_days[:]
    cal.special_days.extend(kept)
    return await _update_calendar(stub, md, cal, "special_days")


async def _calendar_add_closure(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, [])


async def _calendar_add_opening(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, _periods(args.hours))


async def _calendar_remove_day(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    return await _calendar_special(stub, md, args.tenant, args.date, None)


# -- import, onboarding, export ---------------------------------------------------------------


def _progress(**options: Any) -> Any:
    """A progress bar on stderr when the `cli` extra (tqdm) is installed; without it, none."""
    try:
        from tqdm import tqdm
    except ImportError:
        return contextlib.nullcontext(types.SimpleNamespace(update=lambda _n=1: None))
    return tqdm(file=sys.stderr, **options)


def _read_upl(path: Traversable, gemeente_only: bool = True, show_progress: bool = True) -> list[catalogue.UplProduct]:
    """Reads and validates the file with a progress bar; a malformed row raises UsageError naming its line."""
    try:
        with path.open(encoding="utf-8-sig") as handle:
            total = max(sum(1 for _ in handle) - 1, 0)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    with _progress(total=total, unit="row", desc=f"reading {path.name}", disable=not show_progress) as bar:
        try:
            products = catalogue.read_upl_csv(path, gemeente_only=gemeente_only, progress=bar.update)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"{exc}; nothing was imported") from exc
    return products


def _print_distribution(products: list[catalogue.UplProduct]) -> None:
    counts = catalogue.mapping_distribution(products)
    names = dict(catalogue.DEFAULT_DEPARTMENTS)
    print(f"default mapping of {len(products)} products:")
    for department, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {department:24} {names.get(department, ''):30} {count:4}")


async def _import_upl(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    products = _read_upl(args.path, gemeente_only=not args.all_products)
    default = f"tenants/{args.tenant}/departments/{args.default_department}" if args.default_department else ""
    print(f"importing {len(products)} products into tenants/{args.tenant} in one transaction ...", file=sys.stderr)
    reply = await stub.ImportUplProducts(
        pb.ImportUplProductsRequest(
            parent=f"tenants/{args.tenant}", rows=catalogue.upl_rows(products), default_department=default
        ),
        metadata=md,
        timeout=onboarding.CALL_TIMEOUT,
    )
    print(f"tenants/{args.tenant}: {reply.created} created, {reply.updated} updated, {reply.unchanged} unchanged")
    return 0


async def _onboard(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = args.name or onboarding.gemeente_name(args.tenant)
    if not name:
        raise UsageError(f"{args.tenant} is not in {onboarding.GEMEENTEN_CSV.name}: give --name")
    products = _read_upl(args.upl)
    result = await onboarding.onboard_tenant(stub, md, args.tenant, name, args.short_number, products=products)
    print(f"tenants/{args.tenant} {name}: {result}")
    if result.products_created:
        _print_distribution(products)
    return 0


async def _onboard_all(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    try:
        gemeenten = onboarding.read_gemeenten(args.file)
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    products = _read_upl(args.upl, show_progress=not args.no_progress)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with _progress(total=len(gemeenten), unit="gemeente", desc="onboarding", disable=args.no_progress) as bar:
        results, failures = await onboarding.onboard_all(
            stub, md, gemeenten, products, args.concurrency, on_done=lambda _outcome: bar.update(1)
        )
    seconds = loop.time() - started
    changed = [r for r in results if r.changed]
    created = sum(r.tenant_created for r in results)
    products_created = sum(r.products_created for r in results)
    for failure in failures:
        print(f"FAILED tenants/{failure.tenant}: {failure.error}", file=sys.stderr)
    _print_distribution(products)
    print(
        f"onboarded {len(results)}/{len(gemeenten)} gemeenten in {seconds:.1f}s: {created} new tenant(s), "
        f"{len(changed)} changed, {len(results) - len(changed)} unchanged, {products_created} products created, "
        f"{len(failures)} failed"
    )
    return 1 if failures else 0


EXPORT_FIELDS = ("product", "display_name", "upl_uri", "department", "handling", "enabled", "synonyms", "ivr_codes")


async def _export(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    records = [
        {
            "product": _last(p.name),
            "display_name": p.display_name,
            "upl_uri": p.upl_uri,
            "department": _last(p.department),
            "handling": _enum_name(p.handling, common_pb2.Handling, "HANDLING_"),
            "enabled": p.enabled,
            "synonyms": list(p.synonyms),
            "ivr_codes": list(p.ivr_codes),
        }
        async for p in _all_products(stub, md, f"tenants/{args.tenant}")
    ]
    if args.format == "json":
        text = json.dumps({"tenant": args.tenant, "products": records}, ensure_ascii=False, indent=2) + "\n"
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS, lineterminator="\n")
        writer.writeheader()
        for record in records:
            writer.writerow(
                {
                    **record,
                    "enabled": "true" if record["enabled"] else "false",
                    "synonyms": "|".join(record["synonyms"]),
                    "ivr_codes": "|".join(record["ivr_codes"]),
                }
            )
        text = buffer.getvalue()
    if args.out:
        args.out.write_text(text, encoding="utf-8")
        print(f"wrote {len(records)} products of tenants/{args.tenant} to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _mapping(args: argparse.Namespace) -> int:
    try:
        products = catalogue.read_upl_csv(args.upl)
    except (OSError, ValueError) as exc:
        print(f"kcc tenancy: {exc}", file=sys.stderr)
        return 2
    if args.products:
        for product in sorted(products, key=lambda p: (catalogue.default_department_for(p.name), p.name)):
            print(f"{catalogue.default_department_for(product.name):24} {product.name}")
    _print_distribution(products)
    return 0
