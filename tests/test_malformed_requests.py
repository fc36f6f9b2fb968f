"""Malformed and oversized requests on every RPC: a clear INVALID_ARGUMENT, never a crash or a write.

Hypothesis starts from each RPC's valid request (tests/rpc_table.py), spoils one field
anywhere in it (a control character or an oversized string, a negative number, an enum
value that does not exist, a timestamp no calendar holds, too many list entries) and
scrambles others at random. The spoiled field must come back as a BadRequest field
violation, and afterwards the databases and the event stream must hold exactly what
they held before. A second property only scrambles: whatever comes back, never INTERNAL,
UNKNOWN or a dead server, and never a hang. Bytes that are no request at all (a varint that
never ends, invalid UTF-8 in a string field as a Java client can send) are INVALID_ARGUMENT
with a reason, without a traceback in the log.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, inspect, select, table

from services.common.errors import error_info
from services.common.events import STREAM
from services.common.outbox import OutboxEvent
from services.common.server import MAX_REQUEST_BYTES
from services.common.validation import MAX_ITEMS, MAX_TEXT
from tests.builders import consumers_caught_up
from tests.rpc_table import BROKEN, CASES, Answer, World, call, opened, rpcs

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
}


def field_paths(descriptor: Any, prefix: tuple[FieldDescriptor, ...] = (), depth: int = 3) -> list[tuple]:
    """Every field reachable from a request type, as a chain of field descriptors."""
    paths: list[tuple[FieldDescriptor, ...]] = []
    for field in descriptor.fields:
        chain = (*prefix, field)
        paths.append(chain)
        if field.message_type is not None and not field.message_type.full_name.startswith("google.") and depth > 1:
            paths += field_paths(field.message_type, chain, depth - 1)
    return paths


def holder(request: Message, chain: tuple[FieldDescriptor, ...]) -> tuple[Message, str]:
    """The message that holds the chain's last field (made present on the way), and its path so far."""
    msg, path = request, ""
    for field in chain[:-1]:
        if field.is_repeated:
            items = getattr(msg, field.name)
            if not items:
                items.add()
            msg, path = items[0], f"{path}{field.name}[0]."
        else:
            msg, path = getattr(msg, field.name), f"{path}{field.name}."
    return msg, path


def spoiled(field: FieldDescriptor, draw: Any) -> tuple[Any, str]:
    """A value the validator must refuse for this field, and how to put it (set or append)."""
    if field.message_type is not None and field.message_type.full_name == "google.protobuf.Timestamp":
        return {"seconds": draw(st.sampled_from([10**12, -(10**12)]))}, "timestamp"
    if field.enum_type is not None:
        known = set(field.enum_type.values_by_number)
        return draw(st.integers(1, 2**31 - 1).filter(lambda v: v not in known)), "scalar"
    if field.type == FieldDescriptor.TYPE_STRING:
        return draw(
            st.one_of(
                st.text(min_size=0, max_size=20).map(lambda t: t + "\x00"),
                st.just("x" * (MAX_TEXT + 1)),
            )
        ), "scalar"
    if field.type in INT_RANGES:
        return draw(st.integers(INT_RANGES[field.type][0], -1)), "scalar"
    raise LookupError(field.full_name)


def spoilable(chain: tuple[FieldDescriptor, ...]) -> bool:
    field = chain[-1]
    if field.message_type is not None:
        return field.message_type.full_name == "google.protobuf.Timestamp" and not field.is_repeated
    return field.type != FieldDescriptor.TYPE_BOOL and field.type != FieldDescriptor.TYPE_BYTES


def scramble_value(field: FieldDescriptor, draw: Any) -> Any:
    """Any value of the field's type: valid, invalid, huge or empty."""
    if field.enum_type is not None:
        return draw(st.integers(-(2**31), 2**31 - 1))
    if field.type == FieldDescriptor.TYPE_STRING:
        return draw(
            st.one_of(
                st.text(max_size=60),
                st.sampled_from(["tenants/gm0202", "tenants/gm0268/departments/..", "../../etc", "0612345678"]),
                st.integers(0, 70_000).map(lambda n: "ä" * n),
            )
        )
    if field.type == FieldDescriptor.TYPE_BOOL:
        return draw(st.booleans())
    low, high = INT_RANGES.get(field.type, (0, 2**31 - 1))
    return draw(st.integers(low, high))


@st.composite
def scrambled(draw: Any, request: Message) -> Message:
    """The request with up to three scalar fields anywhere in it set to arbitrary values."""
    chains = [c for c in field_paths(request.DESCRIPTOR) if c[-1].message_type is None]
    for chain in draw(st.lists(st.sampled_from(chains), max_size=3)) if chains else []:
        msg, _ = holder(request, chain)
        field = chain[-1]
        value = scramble_value(field, draw)
        if field.is_repeated:
            getattr(msg, field.name).extend([value] * draw(st.sampled_from([1, 2, MAX_ITEMS + 1])))
        else:
            setattr(msg, field.name, value)
    return request


async def fingerprint(world: World) -> tuple[Any, ...]:
    """Row counts of every table of tenancy and callbacks, contacts and agents in routing, events in the stream."""
    counts = []
    for app in (world.apps["tenancy"], world.apps["callbacks"]):
        engine = app.db.engine
        with engine.connect() as conn:
            for name in sorted(inspect(engine).get_table_names()):
                counts.append((name, conn.execute(select(func.count()).select_from(table(name))).scalar()))
    routing = world.apps["routing"].state.router  # type: ignore[attr-defined]
    info = await world.apps["tenancy"].bus.js.stream_info(STREAM)
    return (*counts, len(routing.contacts), len(routing.agents), info.state.messages)


async def settled(world: World) -> tuple[Any, ...]:
    """The fingerprint once the platform is quiet by positive signs, not by a moment without change:
    both outboxes empty, every consumer of the stream caught up, routing's follower at its end."""
    js = world.apps["tenancy"].bus.js

    async def quiet() -> bool:
        for app in (world.apps["tenancy"], world.apps["callbacks"]):
            if await app.db.run(lambda s: s.exec(select(func.count()).select_from(OutboxEvent)).scalar_one()):
                return False
        return await consumers_caught_up(js)

    for _ in range(200):
        if await quiet():
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the outboxes did not drain or a consumer did not catch up")
    await world.apps["routing"].follower.sync()  # type: ignore[attr-defined]
    return await fingerprint(world)


async def seeds(world: World) -> dict[str, Message]:
    """Each RPC's valid request on Nijmegen's own names."""
    return {rpc: await row.build(world, world.own, False) for rpc, row in sorted(CASES.items())}


def fresh_copy(seed: Message) -> Message:
    copy = type(seed)()
    copy.CopyFrom(seed)
    return copy


def run_property(
    world: World, check: Callable[[st.DataObject, Callable[[str, Message], Answer]], None]
) -> Awaitable[None]:
    """Runs a Hypothesis property in a worker thread (its draws are thread-bound); calls run on this event loop."""
    loop = asyncio.get_running_loop()

    def on_loop(rpc: str, request: Message) -> Answer:
        return asyncio.run_coroutine_threadsafe(call(world, rpc, request, world.admin), loop).result(timeout=60)

    @PROPERTY
    @given(data=st.data())
    def examples(data: st.DataObject) -> None:
        check(data, on_loop)

    return asyncio.to_thread(examples)


async def test_a_spoiled_field_is_named_and_nothing_is_written(world: World) -> None:
    valid = await seeds(world)
    before = await settled(world)

    def spoil(data: st.DataObject, send: Callable[[str, Message], Answer]) -> None:
        rpc = data.draw(st.sampled_from(sorted(valid)), label="rpc")
        request = data.draw(scrambled(fresh_copy(valid[rpc])), label="scrambled")
        chain = data.draw(st.sampled_from([c for c in field_paths(request.DESCRIPTOR) if spoilable(c)]), label="field")
        msg, path = holder(request, chain)
        field = chain[-1]
        value, how = spoiled(field, data.draw)
        if how == "timestamp":
            getattr(msg, field.name).seconds = value["seconds"]
            path += field.name
        elif field.is_repeated:
            items = getattr(msg, field.name)
            items.append(value)
            path += f"{field.name}[{len(items) - 1}]"
        else:
            setattr(msg, field.name, value)
            path += field.name
        assume(request.ByteSize() <= MAX_REQUEST_BYTES)  # larger ones gRPC refuses itself (RESOURCE_EXHAUSTED)
        code, _, violations = send(rpc, request)
        assert code == grpc.StatusCode.INVALID_ARGUMENT, f"{rpc} with {path} spoiled: {code.name}"
        # the spoiled entry, or its whole list when that list is too long already
        named = path in violations or path.endswith("]") and path.rsplit("[", 1)[0] in violations
        assert named, f"{rpc} with {path} spoiled: violations name {sorted(violations)}"

    await run_property(world, spoil)
    assert await settled(world) == before, "a refused request wrote something"


async def test_scrambled_requests_never_break_a_service(world: World) -> None:
    valid = await seeds(world)

    def scramble(data: st.DataObject, send: Callable[[str, Message], Answer]) -> None:
        rpc = data.draw(st.sampled_from(sorted(valid)), label="rpc")
        request = data.draw(scrambled(fresh_copy(valid[rpc])), label="request")
        code, _, _ = send(rpc, request)
        assert code not in BROKEN, f"{rpc}: {code.name}"

    await run_property(world, scramble)


def varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    return bytes([*out, value])


def invalid_utf8(descriptor: Any) -> bytes:
    """A message whose first string field (nested if need be) holds bytes that are not UTF-8."""
    for field in descriptor.fields:
        if field.type == FieldDescriptor.TYPE_STRING:
            inner = b"\xff\xfe"
        elif field.message_type is not None and not field.message_type.full_name.startswith("google."):
            inner = invalid_utf8(field.message_type)
            if not inner:
                continue
        else:
            continue
        return varint(field.number << 3 | 2) + varint(len(inner)) + inner
    return b""


async def send_raw(world: World, rpc: str, payload: bytes) -> grpc.aio.AioRpcError | None:
    """Sends bytes as the request of `rpc`; the error it ended with, or None."""
    service, full, streaming = rpcs()[rpc]
    channel = world.channels[service]
    method = f"/{full}/{rpc}"
    try:
        if streaming:
            stream = channel.unary_stream(method, request_serializer=None, response_deserializer=None)(
                payload, metadata=world.admin
            )
            try:
                if not await opened(stream):
                    await stream.read()  # raises the error it ended with
            finally:
                stream.cancel()
        else:
            await channel.unary_unary(method, request_serializer=None, response_deserializer=None)(
                payload, metadata=world.admin
            )
    except grpc.aio.AioRpcError as err:
        return err
    return None


async def test_undecodable_requests_are_invalid_argument_without_a_traceback(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    payloads = {"endless varint": b"\xff" * 12}
    for rpc, (_, full, _) in sorted(rpcs().items()):
        descriptor = descriptor_pool.Default().FindServiceByName(full).methods_by_name[rpc].input_type
        bad_text = invalid_utf8(descriptor)
        assert bad_text, f"{rpc}: no string field to spoil"
        for label, payload in {**payloads, "invalid UTF-8": bad_text}.items():
            caplog.clear()
            err = await send_raw(world, rpc, payload)
            assert err is not None, f"{rpc} with {label}: accepted"
            assert err.code() == grpc.StatusCode.INVALID_ARGUMENT, f"{rpc} with {label}: {err.code().name}"
            info = error_info(err)
            assert info is not None and info.reason == "UNDECODABLE_REQUEST", f"{rpc} with {label}: {info}"
            assert not [r for r in caplog.records if r.exc_info], f"{rpc} with {label}: a traceback in the log"


async def test_arbitrary_bytes_never_break_a_service(world: World) -> None:
    loop = asyncio.get_running_loop()
    names = sorted(rpcs())

    @PROPERTY
    @given(rpc=st.sampled_from(names), payload=st.binary(max_size=64))
    def arbitrary(rpc: str, payload: bytes) -> None:
        err = asyncio.run_coroutine_threadsafe(send_raw(world, rpc, payload), loop).result(timeout=60)
        assert err is None or err.code() not in BROKEN, f"{rpc} with {payload!r}: {err.code().name}"

    await asyncio.to_thread(arbitrary)
