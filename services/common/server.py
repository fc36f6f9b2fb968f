"""gRPC server bootstrap shared by all services: auth, tracing, errors, health, reflection, TLS."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.common import auth, telemetry
from services.common.config import Settings
from services.common.errors import ApiError

log = logging.getLogger(__name__)

OPEN_SERVICES = ("/grpc.health.v1.Health/", "/grpc.reflection.")

# Runs before a handler sees the request: raises ApiError(INVALID_ARGUMENT) on bad input.
Validator = Callable[[str, Any], None]


class PlatformInterceptor(grpc.aio.ServerInterceptor):
    """One interceptor per service: trace context in, principal bound, validation, errors out."""

    def __init__(self, secret: str, validate: Validator | None = None) -> None:
        self.secret = secret
        self.validate = validate
        self.tracer = telemetry.tracer("kcc.grpc")

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        method = details.method  # type: ignore[attr-defined]
        if handler is None or method.startswith(OPEN_SERVICES):
            return handler
        metadata = {k: v for k, v in (details.invocation_metadata or ()) if isinstance(v, str)}  # type: ignore[attr-defined]
        if handler.unary_unary:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(method, metadata, handler.unary_unary),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream:
            return grpc.unary_stream_rpc_method_handler(
                self._stream(method, metadata, handler.unary_stream),
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler

    def _prepare(self, method: str, metadata: dict[str, str], request: Any) -> auth.Principal:
        principal = auth.from_metadata(self.secret, metadata)
        if self.validate is not None:
            self.validate(method, request)
        return principal

    def _unary(self, method: str, metadata: dict[str, str], behavior: Any) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
            with telemetry.span(self.tracer, method.lstrip("/"), SpanKind.SERVER, telemetry.extract(metadata)) as span:
                token = None
                try:
                    token = auth.bind(self._prepare(method, metadata, request))
                    return await behavior(request, context)
                except ApiError as err:
                    span.set_status(Status(StatusCode.ERROR, err.reason))
                    await _abort(context, err)
                except Exception as exc:  # noqa: BLE001 - never leak a stack trace or crash
                    if isinstance(exc, grpc.aio.AbortError):
                        raise
                    log.exception("internal error in %s", method)
                    span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
                    await context.abort(grpc.StatusCode.INTERNAL, "internal error")
                finally:
                    if token is not None:
                        auth.unbind(token)

        return wrapper

    def _stream(self, method: str, metadata: dict[str, str], behavior: Any) -> Any:
        async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            token = None
            try:
                with telemetry.span(self.tracer, method.lstrip("/"), SpanKind.SERVER, telemetry.extract(metadata)):
                    token = auth.bind(self._prepare(method, metadata, request))
                async for item in behavior(request, context):
                    yield item
            except ApiError as err:
                await _abort(context, err)
            finally:
                # A cancelled stream is closed from another context; its own context ends with its task.
                if token is not None:
                    with contextlib.suppress(ValueError):
                        auth.unbind(token)

        return wrapper


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


async def start_server(
    settings: Settings,
    address: str,
    register: Sequence[Callable[[grpc.aio.Server], None]],
    service_names: Sequence[str],
    validate: Validator | None = None,
) -> tuple[grpc.aio.Server, int]:
    """Starts a server with health and reflection; returns it and the bound port (address may end in :0)."""
    server = grpc.aio.server(
        interceptors=[PlatformInterceptor(settings.auth_secret, validate)],
        options=[("grpc.max_receive_message_length", 16 * 1024 * 1024)],
    )
    for add in register:
        add(server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    names = [*service_names, health.SERVICE_NAME, reflection.SERVICE_NAME]
    reflection.enable_server_reflection(names, server)
    credentials = server_credentials(settings)
    port = server.add_insecure_port(address) if credentials is None else server.add_secure_port(address, credentials)
    await server.start()
    for name in [*service_names, ""]:
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return server, port
