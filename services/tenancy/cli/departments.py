"""`kcc tenancy departments ...`: a tenant's vakafdelingen."""

from __future__ import annotations

import argparse
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    UsageError,
    add,
    all_products,
    last,
    mask,
    pages,
    table,
    tenant_arg,
)


def add_commands(groups: Any) -> None:
    departments = groups.add_parser("departments", help="vakafdelingen").add_subparsers(
        dest="departments_command", required=True
    )
    p = add(departments, "list", _departments_list, "list a tenant's departments")
    tenant_arg(p)
    p = add(departments, "create", _departments_create, "create a department")
    tenant_arg(p)
    p.add_argument("--id", required=True, help="department id, e.g. burgerzaken")
    p.add_argument("--name", required=True)
    p.add_argument("--fallback", action="store_true", help="receives contacts whose product is not recognised")
    p.add_argument("--request-id", default="")
    p = add(departments, "update", _departments_update, "rename a department or make it the fallback")
    tenant_arg(p)
    p.add_argument("--id", required=True)
    p.add_argument("--name")
    p.add_argument("--fallback", action=argparse.BooleanOptionalAction, default=None)
    p = add(departments, "delete", _departments_delete, "delete a department no product maps to")
    tenant_arg(p)
    p.add_argument("--id", required=True)


async def _departments_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    departments = [
        d
        async for d in pages(
            lambda token: stub.ListDepartments(
                pb.ListDepartmentsRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "departments",
        )
    ]
    counts: dict[str, int] = {}
    async for p in all_products(stub, md, parent):
        counts[last(p.department)] = counts.get(last(p.department), 0) + 1
    table(
        [
            [last(d.name), d.display_name, "yes" if d.fallback else "", str(counts.get(last(d.name), 0))]
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
        pb.UpdateDepartmentRequest(department=department, update_mask=mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {d.name}: {d.display_name}{' (fallback)' if d.fallback else ''}")
    return 0


async def _departments_delete(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/departments/{args.id}"
    await stub.DeleteDepartment(pb.DeleteDepartmentRequest(name=name), metadata=md, timeout=TIMEOUT)
    print(f"deleted {name}")
    return 0
