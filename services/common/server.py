"""gRPC server bootstrap shared by all services: auth, tracing, errors, health, reflection, TLS."""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common import auth, telemetry
from services.common.config import Settings
from services.common.errors import ApiError, backend_unavailable

log = logging.getLogger(__name__)

# Runs before a handler sees the request: raises ApiError(INVALID_ARGUMENT) on bad input.
Validator = Callable[[str, Any], None]
# A larger request ends as RESOURCE_EXHAUSTED in gRPC itself, before any handler sees it.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


class _Undecodable:
    """What the guard's deserializer hands on for bytes that are no request (corrupt wire format,
    invalid UTF-8 in a string field): gRPC itself would answer UNKNOWN and log a traceback."""


UNDECODABLE = _Undecodable()

# Sent as a server stream's initial metadata once its handler has accepted the request: a client
# knows the stream is open without waiting for a first message that may be long in coming.
STREAM_OPEN = ("kcc-stream", "open")


class _Open:
    """What a streaming handler yields first, once it has checked the request and the caller (its
    own checks come after the guard's); the guard turns it into STREAM_OPEN and refuses a handler
    that yields anything else first, so no stream can leave its client guessing."""


OPEN = _Open()


def _tolerant(deserialize: Callable[[bytes], Any] | None) -> Callable[[bytes], Any] | None:
    if deserialize is None:
        return None

    def tolerant(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            return UNDECODABLE

    return tolerant


class PlatformGuard:
    """Wraps each method of our services, once when it is registered: trace context in, principal
    bound, validation, errors out. (A grpc.aio ServerInterceptor does the same per call, at a
    measurable cost on the RouteContact hot path.) Health and reflection are not wrapped."""

    def __init__(self, secret: auth.KeyRing, validate: Validator | None = None) -> None:
        self.secret = secret
        self.validate = validate
        self.tracer = telemetry.tracer("kcc.grpc")

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, handler.unary_unary),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, handler.unary_stream),
                request_deserializer=_tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        raise TypeError(f"{method}: only unary and server-streaming methods are guarded")

    def _prepare(self, method: str, metadata: dict[str, str], request: Any) -> auth.Principal:
        principal = auth.from_metadata(self.secret, metadata)
        if request is UNDECODABLE:
            raise ApiError(grpc.StatusCode.INVALID_ARGUMENT, "the request could not be decoded", "UNDECODABLE_REQUEST")
        if self.validate is not None:
            self.validate(method, request)
        return principal

    def _unary(self, method: str, behavior: Any) -> Any:
        name = method.lstrip("/")

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            metadata = _metadata(context)
            with telemetry.span(self.tracer, name, SpanKind.SERVER, telemetry.extract(metadata)) as span:
                token = None
                try:
                    token = auth.bind(self._prepare(method, metadata, request))
                    return await behavior(request, context)
                except ApiError as err:
                    span.set_status(Status(StatusCode.ERROR, err.reason))
                    await _abort(context, err)
                except Exception as exc:  # noqa: BLE001 - never leak a stack trace or crash
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await _abort_unexpected(context, method, exc)
                finally:
                    if token is not None:
                        auth.unbind(token)

        return wrapper

    def _stream(self, method: str, behavior: Any) -> Any:
        name = method.lstrip("/")

        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            metadata = _metadata(context)
            span, traced = telemetry.stream_span(self.tracer, name, SpanKind.SERVER, telemetry.extract(metadata))
            token = None
            try:
                with telemetry.within(traced):
                    token = auth.bind(self._prepare(method, metadata, request))
                    items = aiter(behavior(request, context))
                    opened = await anext(items, None)
                if opened is None:
                    return
                if opened is not OPEN:
                    raise TypeError(f"{method}: a stream handler yields server.OPEN before its first message")
                await context.send_initial_metadata((STREAM_OPEN,))
                while True:
                    with telemetry.within(traced):
                        try:
                            item = await anext(items)
                        except StopAsyncIteration:
                            return
                    yield item
            except ApiError as err:
                span.set_status(Status(StatusCode.ERROR, err.reason))
                await _abort(context, err)
            except Exception as exc:  # noqa: BLE001 - never leak a stack trace, as in _unary
                span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                await _abort_unexpected(context, method, exc)
            finally:
                span.end()
                # A cancelled stream is closed from another context; its own context ends with its task.
                if token is not None:
                    with contextlib.suppress(ValueError):
                        auth.unbind(token)

        return wrapper


async def _abort_unexpected(context: grpc.aio.ServicerContext, method: str, exc: Exception) -> None:
    """Ends a call that raised something other than an ApiError: a backend outage is UNAVAILABLE (retry
    with the same request_id), anything else INTERNAL, with its trace in the log and not in the answer."""
    if isinstance(exc, grpc.aio.AbortError):
        raise exc
    outage = backend_unavailable(exc)
    if outage is not None:
        # the type only: a database error's text carries the statement's parameters
        log.warning("%s: backend unavailable: %s", method, type(exc).__name__)
        await _abort(context, outage)
    # The frames, not the message: an exception's text may quote a request's personal data.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("internal error in %s: %s\n%s", method, type(exc).__name__, frames)
    await _abort(context, ApiError(grpc.StatusCode.INTERNAL, "internal error", "INTERNAL"))


def _metadata(context: grpc.aio.ServicerContext) -> dict[str, str]:
    return {k: v for k, v in (context.invocation_metadata() or ()) if isinstance(v, str)}


class _GuardedGenericHandler(grpc.GenericRpcHandler):
    """A generic handler whose methods come out guarded; each is wrapped on its first call."""

    def __init__(self, inner: grpc.GenericRpcHandler, guard: PlatformGuard) -> None:
        self.inner = inner
        self.guard = guard
        self.wrapped: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = details.method  # type: ignore[attr-defined]
        handler = self.wrapped.get(method)
        if handler is None:
            inner = self.inner.service(details)
            if inner is None:
                return None
            handler = self.wrapped[method] = self.guard.wrap(method, inner)
        return handler


class GuardedRegistry:
    """What a generated `add_XServicer_to_server` is given instead of the server: every handler
    it registers reaches the server guarded."""

    def __init__(self, server: grpc.aio.Server, guard: PlatformGuard) -> None:
        self.server = server
        self.guard = guard

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self.server.add_generic_rpc_handlers(tuple(_GuardedGenericHandler(h, self.guard) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        guarded = {name: self.guard.wrap(f"/{service}/{name}", h) for name, h in handlers.items()}
        self.server.add_registered_method_handlers(service, guarded)  # type: ignore[attr-defined]


async def _abort(context: grpc.aio.ServicerContext, err: ApiError) -> None:
    status = err.to_status()
    await context.abort(status.code, status.details, status.trailing_metadata)


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """TLS when a certificate is configured; mutual TLS when a client CA is configured too."""
    if not settings.tls_cert:
        return None
    with open(settings.tls_cert, "rb") as cert, open(settings.tls_key, "rb") as key:
        pair = [(key.read(), cert.read())]
    if settings.tls_client_ca:
        with open(settings.tls_client_ca, "rb") as ca:
            return grpc.ssl_server_credentials(pair, ca.read(), require_client_auth=True)
    return grpc.ssl_server_credentials(pair)


class PortTaken(RuntimeError):
    """The service's address is held by another process."""


async def start_server(
    settings: Settings,
    address: str,
    register: Sequence[Callable[[Any], None]],
    service_names: Sequence[str],
    validate: Validator | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Starts a server with health and reflection; returns it and the bound port (address may end in :0)."""
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)])
    registry = GuardedRegistry(server, PlatformGuard(auth.KeyRing.of(settings), validate))
    for add in register:
        add(registry)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    credentials = server_credentials(settings)
    try:
        if credentials is None:
            port = server.add_insecure_port(address)
        else:
            port = server.add_secure_port(address, credentials)
    except RuntimeError as exc:  # grpc's "Failed to bind to address"
        raise PortTaken(f"cannot listen on {address}: another process holds it (stop it, or set another port)") from exc
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port
