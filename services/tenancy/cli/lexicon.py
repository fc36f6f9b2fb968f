"""`kcc tenancy lexicon ...`: the phrases routing recognises a tenant's product by."""

from __future__ import annotations

import argparse
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.tenancy.cli.common import TIMEOUT, Metadata, Stub, UsageError, add, tenant_arg


def add_commands(groups: Any) -> None:
    lexicon = groups.add_parser("lexicon", help="a product's phrases: the default's, added, suppressed")
    commands = lexicon.add_subparsers(dest="lexicon_command", required=True)
    p = add(commands, "show", _show, "show a product's phrases")
    _product_args(p)
    p = add(commands, "update", _update, "add, suppress or reset phrases of a product for a tenant")
    _product_args(p)
    p.add_argument("--add", action="append", default=[], metavar="PHRASE", help="a phrase of the tenant's own")
    p.add_argument("--suppress", action="append", default=[], metavar="PHRASE", help="a default phrase it drops")
    p.add_argument("--reset", action="append", default=[], metavar="PHRASE", help="back to the default")


def _product_args(parser: argparse.ArgumentParser) -> None:
    tenant_arg(parser)
    parser.add_argument("--product", required=True, help="UPL slug, e.g. paspoort")


def _name(args: argparse.Namespace) -> str:
    return f"tenants/{args.tenant}/products/{args.product}/lexicon"


def print_lexicon(lexicon: pb.ProductLexicon) -> None:
    print(f"{lexicon.name}  (default lexicon {lexicon.default_version})")
    print(f"  added        {', '.join(lexicon.added) or '-'}")
    print(f"  suppressed   {', '.join(lexicon.suppressed) or '-'}")
    print(f"  phrases      {', '.join(lexicon.phrases) or '-'}")


async def _show(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    print_lexicon(
        await stub.GetProductLexicon(pb.GetProductLexiconRequest(name=_name(args)), metadata=md, timeout=TIMEOUT)
    )
    return 0


async def _update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    if not (args.add or args.suppress or args.reset):
        raise UsageError("give --add, --suppress or --reset")
    request = pb.UpdateProductLexiconRequest(name=_name(args), add=args.add, suppress=args.suppress, reset=args.reset)
    print_lexicon(await stub.UpdateProductLexicon(request, metadata=md, timeout=TIMEOUT))
    return 0


async def changes_of(stub: Stub, md: Metadata, products: list[str]) -> dict[str, pb.ProductLexicon]:
    """Product name -> its lexicon, for the export (32 requests in flight)."""
    import asyncio

    out: dict[str, pb.ProductLexicon] = {}
    for start in range(0, len(products), 32):
        batch = products[start : start + 32]
        found = await asyncio.gather(
            *(
                stub.GetProductLexicon(pb.GetProductLexiconRequest(name=f"{p}/lexicon"), metadata=md, timeout=TIMEOUT)
                for p in batch
            )
        )
        out.update(zip(batch, found, strict=True))
    return out
