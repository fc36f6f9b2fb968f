"""`kcc tenancy import-upl | onboard | onboard-all | export | mapping`: the UPL catalogue in bulk."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import sys
import types
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.enums import HANDLINGS
from services.tenancy.cli import lexicon
from services.tenancy.cli.common import (
    Metadata,
    Stub,
    UsageError,
    add,
    all_products,
    last,
    tenant_arg,
)

if TYPE_CHECKING:  # the UPL reader, catalogue and onboarding (with the database models) load when a command runs
    from services.common.upl import UplProduct

SHIPPED_UPL = "default: the shipped UPL-actueel.csv"


def add_commands(groups: Any) -> None:
    p = add(groups, "import-upl", _import_upl, "import the UPL gemeente products into a catalogue (one transaction)")
    tenant_arg(p)
    p.add_argument("path", nargs="?", type=Path, help=f"UPL-actueel.csv ({SHIPPED_UPL})")
    p.add_argument("--all-products", action="store_true", help="not only the rows marked Gemeente=X")
    p.add_argument("--default-department", default="", help="for products the mapping does not place")

    p = add(groups, "onboard", _onboard, "onboard one gemeente: tenant, departments, catalogue, entry point")
    tenant_arg(p)
    p.add_argument("--name", default="", help="display name (default: from the shipped gemeenten.csv)")
    p.add_argument("--short-number", "--entry-point", dest="short_number", default="", help="e.g. 14024")
    p.add_argument("--upl", type=Path, help=SHIPPED_UPL)

    p = add(groups, "onboard-all", _onboard_all, "onboard every gemeente in a file (idempotent)")
    p.add_argument("--file", type=Path, help="default: the shipped gemeenten.csv")
    p.add_argument("--upl", type=Path, help=SHIPPED_UPL)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--no-progress", action="store_true")

    p = add(groups, "export", _export, "export a tenant's catalogue")
    tenant_arg(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--out", type=Path, help="file to write (default: standard output)")

    p = groups.add_parser("mapping", help="how the default mapping places the UPL gemeente products")
    p.add_argument("--upl", type=Path, help=SHIPPED_UPL)
    p.add_argument("--products", action="store_true", help="list every product with its department")
    p.set_defaults(run=_mapping)


def _progress(**options: Any) -> Any:
    """A progress bar on stderr when the `cli` extra (tqdm) is installed; without it, none."""
    try:
        from tqdm import tqdm
    except ImportError:
        return contextlib.nullcontext(types.SimpleNamespace(update=lambda _n=1: None))
    return tqdm(file=sys.stderr, **options)


def _read_upl(path: Traversable | None, gemeente_only: bool = True, show_progress: bool = True) -> list[UplProduct]:
    """Reads and validates the file (None: the shipped one) with a progress bar; a malformed row raises
    UsageError naming its line."""
    from services.common import upl

    path = path or upl.UPL_CSV
    try:
        with path.open(encoding="utf-8-sig") as handle:
            total = max(sum(1 for _ in handle) - 1, 0)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from exc
    with _progress(total=total, unit="row", desc=f"reading {path.name}", disable=not show_progress) as bar:
        try:
            products = upl.read_upl_csv(path, gemeente_only=gemeente_only, progress=bar.update)
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"{exc}; nothing was imported") from exc
    return products


def _print_distribution(products: list[UplProduct]) -> None:
    from services.tenancy import catalogue

    counts = catalogue.mapping_distribution(products)
    names = dict(catalogue.DEFAULT_DEPARTMENTS)
    print(f"default mapping of {len(products)} products:")
    for department, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {department:24} {names.get(department, ''):30} {count:4}")


async def _import_upl(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    from services.tenancy import catalogue, onboarding

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
    from services.tenancy import onboarding

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
    from services.tenancy import onboarding

    try:
        gemeenten = onboarding.read_gemeenten(args.file or onboarding.GEMEENTEN_CSV)
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


EXPORT_FIELDS = (
    "product",
    "display_name",
    "upl_uri",
    "department",
    "handling",
    "enabled",
    "synonyms",
    "ivr_codes",
    "lexicon_added",
    "lexicon_suppressed",
)


async def _export(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    products = [p async for p in all_products(stub, md, f"tenants/{args.tenant}")]
    lexicons = await lexicon.changes_of(stub, md, [p.name for p in products])
    records = [
        {
            "product": last(p.name),
            "display_name": p.display_name,
            "upl_uri": p.upl_uri,
            "department": last(p.department),
            "handling": HANDLINGS.name(p.handling),
            "enabled": p.enabled,
            "synonyms": list(p.synonyms),
            "ivr_codes": list(p.ivr_codes),
            "lexicon_added": list(lexicons[p.name].added),
            "lexicon_suppressed": list(lexicons[p.name].suppressed),
        }
        for p in products
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
                    "lexicon_added": "|".join(record["lexicon_added"]),
                    "lexicon_suppressed": "|".join(record["lexicon_suppressed"]),
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
    from services.common import upl
    from services.tenancy import catalogue

    try:
        products = upl.read_upl_csv(args.upl or upl.UPL_CSV)
    except (OSError, ValueError) as exc:
        print(f"kcc tenancy: {exc}", file=sys.stderr)
        return 2
    if args.products:
        for product in sorted(products, key=lambda p: (catalogue.default_department_for(p.name), p.name)):
            print(f"{catalogue.default_department_for(product.name):24} {product.name}")
    _print_distribution(products)
    return 0
