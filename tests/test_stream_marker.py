"""Every server stream tells its client it was accepted: `kcc-stream: open` in its initial metadata,
sent once the handler has checked the request and the caller, before any message and whether or
not there is anything to send yet. A refused stream never carries it. The streams are read from
the protos, so a new one is covered as soon as it has a row in tests/rpc_table.py."""

from __future__ import annotations

import importlib
import pkgutil

import grpc
from google.protobuf.message import Message

import kcc
from kcc.callbacks.v1 import callbacks_pb2 as cb
from services.common import auth
from services.common.server import STREAM_OPEN
from tests.builders import Metadata
from tests.rpc_table import CASES, World, rpcs


def streaming_rpcs() -> list[str]:
    """Every server-streaming RPC of every service the protos define (webhooks too)."""
    found = []
    for module in pkgutil.walk_packages(kcc.__path__, "kcc."):
        if module.name.endswith("_pb2"):
            for service in importlib.import_module(module.name).DESCRIPTOR.services_by_name.values():
                found += [m.name for m in service.methods if m.server_streaming]
    return sorted(found)


async def open_or_end(world: World, rpc: str, request: Message | bytes, md: Metadata) -> tuple[bool, grpc.StatusCode]:
    """Opens the stream: whether its initial metadata carried the marker, and how it ended (OK if still open)."""
    service, full, _ = rpcs()[rpc]
    raw = isinstance(request, bytes)
    stream = world.channels[service].unary_stream(
        f"/{full}/{rpc}", request_serializer=None if raw else type(request).SerializeToString
    )(request, metadata=md)
    try:
        marked = STREAM_OPEN in tuple(await stream.initial_metadata() or ())
        # refused: the answer was trailers only, so the status is there already
        return marked, grpc.StatusCode.OK if marked else await stream.code()
    finally:
        stream.cancel()


def test_the_streams_come_from_the_protos_and_each_has_a_row() -> None:
    streams = streaming_rpcs()
    assert streams, "no server-streaming RPC found in the protos"
    assert sorted(rpc for rpc, (_s, _f, streaming) in rpcs().items() if streaming) == streams
    assert set(streams) <= set(CASES)


async def test_an_accepted_stream_always_carries_the_marker_and_a_refused_one_never(world: World) -> None:
    problems = []
    for rpc in streaming_rpcs():
        row = CASES[rpc]
        for role in auth.Role:
            md = world.metadata(role)
            marked, code = await open_or_end(world, rpc, await row.build(world, world.own, False), md)
            if (marked, code) != ((True, grpc.StatusCode.OK) if role in row.allowed else (False, code)):
                problems.append(f"{rpc} as {role} on its own tenant: marker {marked}, {code.name}")
            if not marked and code == grpc.StatusCode.OK:
                problems.append(f"{rpc} as {role}: ended OK without opening")
            for label, side in world.others().items():
                marked, code = await open_or_end(world, rpc, await row.build(world, side, False), md)
                if role not in (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE) and (marked or code == grpc.StatusCode.OK):
                    problems.append(f"{rpc} as {role} on {label} names of another tenant: marker {marked}, {code.name}")
        refusals: dict[str, tuple[Message | bytes, Metadata]] = {
            "no credentials": (await row.build(world, world.own, False), ()),
            "undecodable bytes": (b"\xff" * 12, world.admin),
        }
        for label, (request, md) in refusals.items():
            marked, code = await open_or_end(world, rpc, request, md)
            if marked or code == grpc.StatusCode.OK:
                problems.append(f"{rpc} with {label}: marker {marked}, {code.name}")
    assert not problems, "\n".join(problems)


async def test_a_stream_with_nothing_to_send_yet_is_open_at_once(world: World) -> None:
    """The case the marker is for: a worklist watched from after its last change sends nothing, yet is open."""
    request = cb.WatchCallbacksRequest(parent=world.own.parent, after_sequence=10**9)
    stream = world.callbacks.WatchCallbacks(request, metadata=world.admin)
    try:
        assert STREAM_OPEN in tuple(await stream.initial_metadata())
        assert not stream.done()
    finally:
        stream.cancel()
