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
    p = add(commands, "suggestions", _suggestions, "phrases from agents' corrections that would fix the most misses")
    tenant_arg(p)
    p.add_argument("--limit", type=int, default=20, help="at most this many (1-100)")
    p = add(commands, "adopt", _adopt, "add suggested phrases to their products' lexicons")
    tenant_arg(p)
    chosen = p.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--top", type=int, help="the best N suggestions")
    chosen.add_argument(
        "--suggestion", action="append", metavar="PRODUCT:PHRASE", help="one suggestion, e.g. afvalcontainer:kliko"
    )
    p = add(commands, "accuracy", _accuracy, "recognition accuracy per week as agents saw it")
    tenant_arg(p)
    p.add_argument("--weeks", type=int, default=12, help="the last N weeks with corrections (1-104)")


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


async def _suggested(stub: Stub, md: Metadata, tenant: str, limit: int) -> list[pb.LexiconSuggestion]:
    request = pb.ListLexiconSuggestionsRequest(parent=f"tenants/{tenant}", page_size=limit)
    return list((await stub.ListLexiconSuggestions(request, metadata=md, timeout=TIMEOUT)).suggestions)


def _product(suggestion: pb.LexiconSuggestion) -> str:
    return suggestion.lexicon.removesuffix("/lexicon").rsplit("/", 1)[-1]


async def _suggestions(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    suggestions = await _suggested(stub, md, args.tenant, args.limit)
    print(f"{'misses':>6} {'elsewhere':>9}  {'product':<24} phrase")
    for s in suggestions:
        print(f"{s.misses:>6} {s.elsewhere:>9}  {_product(s):<24} {s.phrase}")
    if not suggestions:
        print("(no suggestions: no misses corrected by agents that a phrase would fix)")
    return 0


async def _adopt(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    """Adds the chosen suggestions through UpdateProductLexicon, one request per product."""
    suggestions = await _suggested(stub, md, args.tenant, 100)
    if args.top is not None:
        if not 1 <= args.top <= 100:
            raise UsageError("--top must be 1..100")
        chosen = suggestions[: args.top]
    else:
        offered = {f"{_product(s)}:{s.phrase}": s for s in suggestions}
        missing = [c for c in args.suggestion if c not in offered]
        if missing:
            raise UsageError(f"not a current suggestion: {', '.join(missing)} (see kcc tenancy lexicon suggestions)")
        chosen = [offered[c] for c in args.suggestion]
    by_lexicon: dict[str, list[str]] = {}
    for s in chosen:
        by_lexicon.setdefault(s.lexicon, []).append(s.phrase)
    for name, phrases in by_lexicon.items():
        await stub.UpdateProductLexicon(
            pb.UpdateProductLexiconRequest(name=name, add=phrases), metadata=md, timeout=TIMEOUT
        )
        print(f"{name}: added {', '.join(phrases)}")
    if not chosen:
        print("nothing to adopt")
    return 0


async def _accuracy(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    request = pb.GetRecognitionAccuracyRequest(tenant=f"tenants/{args.tenant}", weeks=args.weeks)
    found = await stub.GetRecognitionAccuracy(request, metadata=md, timeout=TIMEOUT)
    print(f"{'week':<8} {'checked':>7} {'confirmed':>9} {'accuracy':>8}")
    for w in found.weeks:
        print(f"{w.week:<8} {w.checked:>7} {w.confirmed:>9} {w.accuracy:>8.1%}")
    if not found.weeks:
        print("(no contacts checked by agents yet)")
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
