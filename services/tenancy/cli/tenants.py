"""`kcc tenancy tenants ...`: list, show, create and update gemeenten."""

from __future__ import annotations

import argparse
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.enums import ENTRY_KINDS, TENANT_STATES
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    UsageError,
    add,
    last,
    mask,
    pages,
    table,
    tenant_arg,
)


def add_commands(groups: Any) -> None:
    tenants = groups.add_parser("tenants", help="gemeenten").add_subparsers(dest="tenants_command", required=True)
    p = add(tenants, "list", _tenants_list, "list tenants")
    p.add_argument("--state", choices=TENANT_STATES.names)
    p.add_argument("--search", help="part of the display name")
    p = add(tenants, "show", _tenants_show, "show one tenant with its departments, entry points and counts")
    tenant_arg(p)
    p = add(tenants, "create", _tenants_create, "create a tenant (no departments or catalogue: see onboard)")
    tenant_arg(p)
    p.add_argument("--name", required=True, help="display name, e.g. Nijmegen")
    p.add_argument("--state", choices=TENANT_STATES.names, default="ACTIVE")
    p.add_argument("--retention-days", type=int, default=0)
    p.add_argument("--request-id", default="", help="makes a retried create harmless")
    p = add(tenants, "update", _tenants_update, "change a tenant's name, state or retention")
    tenant_arg(p)
    p.add_argument("--name")
    p.add_argument("--state", choices=TENANT_STATES.names)
    p.add_argument("--retention-days", type=int)


def _tenant_line(t: pb.Tenant) -> list[str]:
    return [
        last(t.name),
        t.display_name,
        TENANT_STATES.name(t.state),
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
        async for t in pages(
            lambda token: stub.ListTenants(
                pb.ListTenantsRequest(page_size=500, page_token=token, filter=query), metadata=md, timeout=TIMEOUT
            ),
            "tenants",
        )
    ]
    table(rows, ["TENANT", "NAME", "STATE", "RETENTION", "UPDATED"])
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
    print(f"  state          {TENANT_STATES.name(t.state)}")
    print(f"  retention      {t.retention_days} days")
    print(f"  created        {t.create_time.ToJsonString()}")
    print(f"  updated        {t.update_time.ToJsonString()}")
    print(f"  products       {products.total_size} ({enabled.total_size} enabled)")
    print(f"  departments    {len(departments.departments)}")
    for d in departments.departments:
        print(f"    {last(d.name):24} {d.display_name}{'  (fallback)' if d.fallback else ''}")
    print(f"  entry points   {len(entry_points.entry_points)}")
    for e in entry_points.entry_points:
        print(f"    {last(e.name):24} {ENTRY_KINDS.name(e.kind):16} {e.value}")
    return 0


async def _tenants_create(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    t = await stub.CreateTenant(
        pb.CreateTenantRequest(
            tenant_id=args.tenant,
            tenant=pb.Tenant(
                display_name=args.name,
                state=TENANT_STATES.number(args.state),
                retention_days=args.retention_days,
            ),
            request_id=args.request_id,
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"created {t.name} ({t.display_name}, {TENANT_STATES.name(t.state)})")
    return 0


async def _tenants_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    tenant = pb.Tenant(name=f"tenants/{args.tenant}")
    paths = []
    if args.name is not None:
        tenant.display_name = args.name
        paths.append("display_name")
    if args.state is not None:
        tenant.state = TENANT_STATES.number(args.state)
        paths.append("state")
    if args.retention_days is not None:
        tenant.retention_days = args.retention_days
        paths.append("retention_days")
    if not paths:
        raise UsageError("nothing to update: give --name, --state or --retention-days")
    t = await stub.UpdateTenant(
        pb.UpdateTenantRequest(tenant=tenant, update_mask=mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {t.name}: " + ", ".join(paths))
    table([_tenant_line(t)], ["TENANT", "NAME", "STATE", "RETENTION", "UPDATED"])
    return 0
