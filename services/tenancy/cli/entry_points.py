"""`kcc tenancy entry-points ...`: the phone numbers, origins and widgets that identify a tenant."""

from __future__ import annotations

import argparse
import re
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.enums import ENTRY_KINDS
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    add,
    last,
    pages,
    table,
    tenant_arg,
)

# The command line's words for the kinds of entry point.
KIND_ALIASES = {"phone": "PHONE_NUMBER", "web-form": "WEB_FORM_ORIGIN", "chat": "CHAT_WIDGET"}


def add_commands(groups: Any) -> None:
    entry = groups.add_parser("entry-points", help="phone numbers and origins").add_subparsers(
        dest="entry_points_command", required=True
    )
    p = add(entry, "list", _entry_points_list, "list a tenant's entry points")
    tenant_arg(p)
    p = add(entry, "add", _entry_points_add, "add an entry point (unique across tenants)")
    tenant_arg(p)
    p.add_argument("--kind", choices=sorted(KIND_ALIASES), default="phone")
    p.add_argument("--value", required=True, help="e.g. 14024, +31243299999 or https://www.nijmegen.nl")
    p.add_argument("--id", default="", help="entry point id (default: derived from the value)")
    p.add_argument("--request-id", default="")
    p = add(entry, "delete", _entry_points_delete, "remove an entry point")
    tenant_arg(p)
    p.add_argument("--id", required=True)


async def _entry_points_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    rows = [
        [last(e.name), ENTRY_KINDS.name(e.kind), e.value]
        async for e in pages(
            lambda token: stub.ListEntryPoints(
                pb.ListEntryPointsRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "entry_points",
        )
    ]
    table(rows, ["ENTRY POINT", "KIND", "VALUE"])
    print(f"{len(rows)} entry point(s)")
    return 0


async def _entry_points_add(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    ep_id = args.id or (args.kind + "-" + re.sub(r"[^a-z0-9]+", "-", args.value.lower()).strip("-"))[:63]
    e = await stub.CreateEntryPoint(
        pb.CreateEntryPointRequest(
            parent=f"tenants/{args.tenant}",
            entry_point_id=ep_id,
            entry_point=pb.EntryPoint(kind=ENTRY_KINDS.number(KIND_ALIASES[args.kind]), value=args.value),
            request_id=args.request_id,
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"added {e.name}: {ENTRY_KINDS.name(e.kind)} {e.value}")
    return 0


async def _entry_points_delete(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    name = f"tenants/{args.tenant}/entryPoints/{args.id}"
    await stub.DeleteEntryPoint(pb.DeleteEntryPointRequest(name=name), metadata=md, timeout=TIMEOUT)
    print(f"deleted {name}")
    return 0
