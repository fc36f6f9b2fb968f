"""`kcc agents ...`: the KCC's agents through the routing service's gRPC API (a platform admin's work).

An agent's desktop signs in with a token whose subject is the agent id and whose tenants
include every gemeente it serves or takes overflow from (`kcc auth issue-token --role agent`);
`create` prints that command. Commands use KCC_ROUTING_TARGET and KCC_TOKEN (client.py).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # gRPC and the protos load when a command runs, so that parsing starts at once
    from kcc.routing.v1 import routing_pb2 as pb
    from kcc.routing.v1.routing_pb2_grpc import RoutingServiceAsyncStub as Stub

CHANNELS = ("PHONE", "CHAT", "EMAIL", "COUNTER", "WEB_FORM")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("agents", help="KCC agents: who answers which gemeenten").add_subparsers(
        dest="agents_command", required=True
    )
    create = group.add_parser("create", help="add an agent")
    create.add_argument("--id", required=True, help="agent id, e.g. fatima; the subject of the agent's token")
    create.add_argument("--name", default="", help="display name")
    _pools(create, required=True)
    create.add_argument("--department", action="append", default=[], help="department id; repeat (default: all)")
    create.add_argument("--language", action="append", default=[], help="e.g. nl; repeat (default: any)")
    create.add_argument("--channel", action="append", default=[], choices=CHANNELS, help="repeat (default: every)")
    create.add_argument("--capacity", action="append", default=[], help="CHANNEL=N contacts at once, e.g. CHAT=3")
    create.add_argument("--request-id", default="", help="makes a retry safe")
    create.set_defaults(run=_grpc(_create))
    listing = group.add_parser("list", help="every agent as JSON lines")
    listing.set_defaults(run=_grpc(_list))
    get = group.add_parser("get", help="one agent as JSON")
    get.add_argument("id")
    get.set_defaults(run=_grpc(_get))
    update = group.add_parser("update", help="set the gemeenten an agent serves and takes overflow from")
    update.add_argument("id")
    _pools(update, required=False)
    update.set_defaults(run=_grpc(_update))


def _pools(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument(
        "--tenant", action="append", default=[], required=required, help="a gemeente served first, e.g. gm0268"
    )
    parser.add_argument("--overflow", action="append", default=[], help="a gemeente whose overflow it takes")


Command = Callable[["Stub", tuple[tuple[str, str], ...], argparse.Namespace], Awaitable[int]]


def _grpc(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import asyncio

        import grpc

        from kcc.routing.v1 import routing_pb2_grpc
        from services.common import client
        from services.common.config import Settings
        from services.common.errors import error_info

        async def go() -> int:
            settings = Settings()
            metadata = client.metadata(client.token(settings))
            async with client.channel(settings, "routing") as channel:
                try:
                    return await command(routing_pb2_grpc.RoutingServiceStub(channel), metadata, args)
                except grpc.aio.AioRpcError as err:
                    info = error_info(err)
                    reason = f" (reason {info.reason})" if info is not None and info.reason else ""
                    print(f"kcc agents: {err.code().name}: {err.details()}{reason}", file=sys.stderr)
                    return 1

        return asyncio.run(go())

    return run


def _print(agent: pb.Agent) -> None:
    from google.protobuf import json_format

    print(json_format.MessageToJson(agent, indent=None), flush=True)


def _tenants(ids: list[str]) -> list[str]:
    return [t if t.startswith("tenants/") else f"tenants/{t}" for t in ids]


async def _create(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from kcc.routing.v1 import routing_pb2 as pb
    from services.common import enums

    capacities = []
    for spec in args.capacity:
        channel, _, count = spec.partition("=")
        if channel not in CHANNELS or not count.isdigit():
            print(f"kcc agents: --capacity {spec!r}: expected CHANNEL=N, e.g. CHAT=3", file=sys.stderr)
            return 2
        capacities.append(
            pb.ChannelCapacity(channel=enums.CHANNELS.number(channel), capacity=int(count))  # type: ignore[arg-type]
        )
    agent = pb.Agent(
        display_name=args.name,
        tenants=_tenants(args.tenant),
        overflow_tenants=_tenants(args.overflow),
        departments=args.department,
        languages=args.language,
        channels=[enums.CHANNELS.number(c) for c in args.channel],  # type: ignore[misc]
        capacities=capacities,
    )
    made = await stub.CreateAgent(
        pb.CreateAgentRequest(agent_id=args.id, agent=agent, request_id=args.request_id), metadata=md
    )
    _print(made)
    every = sorted({t.removeprefix("tenants/") for t in [*made.tenants, *made.overflow_tenants]})
    token = " ".join(f"--tenant {t}" for t in every)
    print(f"the desktop's token: kcc auth issue-token --subject {args.id} --role agent {token}", file=sys.stderr)
    return 0


async def _list(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from kcc.routing.v1 import routing_pb2 as pb

    token = ""
    while True:
        page = await stub.ListAgents(pb.ListAgentsRequest(page_size=500, page_token=token), metadata=md)
        for agent in page.agents:
            _print(agent)
        token = page.next_page_token
        if not token:
            return 0


async def _get(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from kcc.routing.v1 import routing_pb2 as pb

    _print(await stub.GetAgent(pb.GetAgentRequest(name=f"agents/{args.id}"), metadata=md))
    return 0


async def _update(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from google.protobuf import field_mask_pb2

    from kcc.routing.v1 import routing_pb2 as pb

    agent = pb.Agent(name=f"agents/{args.id}", tenants=_tenants(args.tenant), overflow_tenants=_tenants(args.overflow))
    paths = [path for path, given in (("tenants", args.tenant), ("overflow_tenants", args.overflow)) if given]
    if not paths:
        print("kcc agents update: give --tenant or --overflow", file=sys.stderr)
        return 2
    request = pb.UpdateAgentRequest(agent=agent, update_mask=field_mask_pb2.FieldMask(paths=paths))
    _print(await stub.UpdateAgent(request, metadata=md))
    return 0
