"""The platform guard on a real gRPC server: a server stream is traced and fails like a unary call.

A tiny service registered through `start_server` stands in for the platform's calls and
streams (worklists, queue figures, desktops), so the test can make one raise at will.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import wrappers_pb2
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import StatusCode

from services.common import auth, client
from services.common.config import Settings
from services.common.errors import error_info, failed_precondition
from services.common.server import OPEN, STREAM_OPEN, start_server
from tests.builders import eventually
from tests.conftest import SPANS

SERVICE = "kcc.test.Guarded"
WATCH = f"/{SERVICE}/Watch"
GET = f"/{SERVICE}/Get"
ENDINGS = {
    "ok": None,
    "api": failed_precondition("NOT_NOW", "not now"),
    "bug": RuntimeError("a bug with 0612345678 in its text"),
    "hold": None,
    "forgot": None,
}
HELD = asyncio.Event()  # never set: a stream that waits until its caller hangs up


async def watch(request: wrappers_pb2.StringValue, context: grpc.aio.ServicerContext) -> AsyncIterator[object]:
    """Opens, sends one item under a child span, then ends as the request says ("forgot": without opening)."""
    if request.value != "forgot":
        yield OPEN
    with trace.get_tracer("test").start_as_current_span("inside-the-stream"):
        yield wrappers_pb2.StringValue(value="first")
    if request.value == "hold":
        await HELD.wait()
    ending = ENDINGS[request.value]
    if ending is not None:
        raise ending


async def get(request: wrappers_pb2.StringValue, context: grpc.aio.ServicerContext) -> object:
    """The unary twin of `watch`."""
    ending = ENDINGS[request.value]
    if ending is not None:
        raise ending
    return wrappers_pb2.StringValue(value="first")


def register(registry: object) -> None:
    codec = {
        "request_deserializer": wrappers_pb2.StringValue.FromString,
        "response_serializer": wrappers_pb2.StringValue.SerializeToString,
    }
    handlers = {
        "Watch": grpc.unary_stream_rpc_method_handler(watch, **codec),
        "Get": grpc.unary_unary_rpc_method_handler(get, **codec),
    }
    registry.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))  # type: ignore[attr-defined]


@pytest.fixture
async def channel(tmp_path: Path) -> AsyncIterator[grpc.aio.Channel]:
    settings = Settings(data_dir=tmp_path)
    server, port = await start_server(settings, "127.0.0.1:0", [register], [SERVICE])
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as opened:
        yield opened
    await server.stop(None)


CODEC = {
    "request_serializer": wrappers_pb2.StringValue.SerializeToString,
    "response_deserializer": wrappers_pb2.StringValue.FromString,
}


def admin() -> tuple[tuple[str, str], ...]:
    return client.metadata(auth.issue_token(Settings().auth_secret, "admin", auth.Role.PLATFORM_ADMIN))


async def call(channel: grpc.aio.Channel, ending: str) -> tuple[list[str], grpc.StatusCode, str]:
    """The unary call: its reply, the status code and the ErrorInfo reason."""
    try:
        reply = await channel.unary_unary(GET, **CODEC)(wrappers_pb2.StringValue(value=ending), metadata=admin())
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        return [], err.code(), info.reason if info else ""
    return [reply.value], grpc.StatusCode.OK, ""


async def run(channel: grpc.aio.Channel, ending: str) -> tuple[list[str], grpc.StatusCode, str]:
    """Reads the whole stream: the items, the status code and the ErrorInfo reason."""
    stream = channel.unary_stream(WATCH, **CODEC)(wrappers_pb2.StringValue(value=ending), metadata=admin())
    items = []
    try:
        async for item in stream:
            items.append(item.value)
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        return items, err.code(), info.reason if info else ""
    return items, grpc.StatusCode.OK, ""


@pytest.mark.parametrize(
    ("ending", "code", "reason"),
    [
        ("ok", grpc.StatusCode.OK, ""),
        ("api", grpc.StatusCode.FAILED_PRECONDITION, "NOT_NOW"),
        ("bug", grpc.StatusCode.INTERNAL, "INTERNAL"),
    ],
)
async def test_a_stream_ends_like_a_unary_call(
    channel: grpc.aio.Channel, ending: str, code: grpc.StatusCode, reason: str
) -> None:
    assert await run(channel, ending) == (["first"], code, reason)
    assert (await call(channel, ending))[1:] == (code, reason)


def finished(name: str) -> list[ReadableSpan]:
    return [s for s in SPANS.get_finished_spans() if s.name == name]


@pytest.mark.parametrize(("ending", "status"), [("ok", StatusCode.UNSET), ("bug", StatusCode.ERROR)])
async def test_the_server_span_lasts_as_long_as_the_stream(
    channel: grpc.aio.Channel, ending: str, status: StatusCode
) -> None:
    SPANS.clear()
    await run(channel, ending)
    # the caller may hear the status before the server's handler has finished unwinding
    await eventually(lambda: finished(WATCH.lstrip("/")))
    server, inside = finished(WATCH.lstrip("/")), finished("inside-the-stream")
    assert len(server) == 1 and len(inside) == 1
    assert inside[0].parent is not None and inside[0].parent.span_id == server[0].context.span_id
    assert (server[0].end_time or 0) >= (inside[0].end_time or 0) > 0
    assert server[0].status.status_code == status
    assert "0612345678" not in str(server[0].status.description)


async def test_a_stream_the_caller_cancels_ends_its_span_without_an_error(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    SPANS.clear()
    stream = channel.unary_stream(WATCH, **CODEC)(wrappers_pb2.StringValue(value="hold"), metadata=admin())
    assert (await stream.read()).value == "first"
    stream.cancel()
    await eventually(lambda: finished(WATCH.lstrip("/")))
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_an_internal_error_is_logged_with_its_frames_and_without_its_text(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception's text may quote a request's personal data: the log names its type and where."""
    assert (await call(channel, "bug"))[1] == grpc.StatusCode.INTERNAL
    (record,) = [r for r in caplog.records if r.levelno >= logging.ERROR]
    logged = record.getMessage() + (record.exc_text or "")
    assert "RuntimeError" in logged and "in get" in logged
    assert "0612345678" not in logged


async def test_an_accepted_stream_opens_with_the_marker_and_a_refused_one_never_carries_it(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    opened = channel.unary_stream(WATCH, **CODEC)(wrappers_pb2.StringValue(value="hold"), metadata=admin())
    assert STREAM_OPEN in tuple(await opened.initial_metadata())
    assert (await opened.read()).value == "first"
    opened.cancel()
    refused = channel.unary_stream(WATCH, **CODEC)(wrappers_pb2.StringValue(value="hold"))
    assert STREAM_OPEN not in tuple(await refused.initial_metadata())
    assert await refused.code() == grpc.StatusCode.UNAUTHENTICATED
    # a handler that sends before it opens is a bug the guard turns into INTERNAL, before anything is sent
    assert await run(channel, "forgot") == ([], grpc.StatusCode.INTERNAL, "INTERNAL")
    assert "yields server.OPEN before its first message" in caplog.text
