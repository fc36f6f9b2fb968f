"""What every `kcc tenancy` command shares: the stub, paging, tables and error reporting.

Every command talks to the running tenancy service over gRPC (KCC_TENANCY_TARGET, KCC_TOKEN),
prints readable output and exits 1 with the server's message and ErrorInfo reason on failure.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias

from google.protobuf import field_mask_pb2

from kcc.tenancy.v1 import tenancy_pb2 as pb

# gRPC and the client load when a command runs, so that parsing and --help start at once.
if TYPE_CHECKING:
    from kcc.tenancy.v1 import tenancy_pb2_grpc

    Stub: TypeAlias = tenancy_pb2_grpc.TenancyServiceAsyncStub
else:
    Stub = Any
Metadata = tuple[tuple[str, str], ...]
Command = Callable[[Stub, Metadata, argparse.Namespace], Awaitable[int]]

TIMEOUT = 60.0


class UsageError(Exception):
    """A bad command line argument found after parsing (exit 2)."""


def runner(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import asyncio

        return asyncio.run(with_stub(command, args))

    return run


async def with_stub(command: Command, args: argparse.Namespace) -> int:
    import grpc

    from kcc.tenancy.v1 import tenancy_pb2_grpc
    from services.common import client
    from services.common.config import Settings
    from services.common.errors import ApiError, error_info

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


async def pages(fetch: Callable[[str], Awaitable[Any]], field: str) -> AsyncIterator[Any]:
    token = ""
    while True:
        reply = await fetch(token)
        for item in getattr(reply, field):
            yield item
        token = reply.next_page_token
        if not token:
            return


def last(name: str) -> str:
    return name.rsplit("/", 1)[-1] if name else ""


def table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def mask(*paths: str) -> field_mask_pb2.FieldMask:
    return field_mask_pb2.FieldMask(paths=list(paths))


def tenant_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tenant", required=True, help="tenant id: the CBS code in lower case, e.g. gm0268")


def add(sub: Any, name: str, command: Command, help: str) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = sub.add_parser(name, help=help, description=help)
    parser.set_defaults(run=runner(command))
    return parser


def all_products(stub: Stub, md: Metadata, parent: str, query: str = "") -> AsyncIterator[pb.Product]:
    return pages(
        lambda token: stub.ListProducts(
            pb.ListProductsRequest(parent=parent, page_size=1000, page_token=token, filter=query),
            metadata=md,
            timeout=TIMEOUT,
        ),
        "products",
    )
