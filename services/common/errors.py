"""Rich gRPC errors (google.rpc.Status with ErrorInfo / BadRequest details) raised from domain code.

Handlers raise `ApiError`; the server guard (services/common/server.py) turns it into a status, so no
handler needs the gRPC context to fail cleanly.
"""

from __future__ import annotations

from functools import cache
from typing import TypeVar

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

M = TypeVar("M", bound=Message)

DOMAIN = "kcc.example.nl"


class ApiError(Exception):
    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        reason: str,
        field: str | None = None,
        metadata: dict[str, str] | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.reason = reason
        self.metadata = metadata or {}
        # BadRequest field violations: (field path, description)
        self.violations = violations or ([(field, message)] if field is not None else [])

    def to_status(self) -> grpc.Status:
        details = []
        info = error_details_pb2.ErrorInfo(reason=self.reason, domain=DOMAIN, metadata=self.metadata)
        packed = any_pb2.Any()
        packed.Pack(info)
        details.append(packed)
        if self.violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d) for f, d in self.violations
                ]
            )
            packed_bad = any_pb2.Any()
            packed_bad.Pack(bad)
            details.append(packed_bad)
        status = status_pb2.Status(code=self.code.value[0], message=self.message, details=details)
        return rpc_status.to_status(status)


# JetStream's "stream is offline" (JSStreamOfflineErr, HTTP-like code 500): no quorum for the stream
# yet, while its leader is elected or too few nodes run. An outage, though its code says 500.
STREAM_OFFLINE = 10118


class BackendUnavailable(Exception):
    """A backend (JetStream, the database) did not answer in time; the call may be retried as it was."""


@cache
def _outages() -> tuple[type[Exception], ...]:
    """Outages that reach a handler from the NATS client or the database driver. Imported on first
    use: clients (the CLI) read errors too and need neither driver."""
    import nats.errors
    import nats.js.errors
    import sqlalchemy.exc

    return (
        BackendUnavailable,
        nats.errors.TimeoutError,
        nats.errors.NoRespondersError,
        nats.errors.ConnectionClosedError,
        nats.errors.ConnectionReconnectingError,
        nats.errors.NoServersError,
        nats.errors.StaleConnectionError,
        nats.errors.OutboundBufferLimitError,
        nats.js.errors.NoStreamResponseError,
        nats.js.errors.ServiceUnavailableError,
        sqlalchemy.exc.OperationalError,  # the server is down, restarting, or refuses connections
        sqlalchemy.exc.TimeoutError,  # no pooled connection came free
    )


def backend_unavailable(exc: BaseException) -> ApiError | None:
    """UNAVAILABLE (reason BACKEND_UNAVAILABLE) if `exc` is a backend outage, else None: the client
    retries with the same request_id, which returns what the first attempt stored, if anything."""
    import nats.js.errors
    import sqlalchemy.exc

    outage = (
        isinstance(exc, _outages())
        or (isinstance(exc, nats.js.errors.APIError) and exc.err_code == STREAM_OFFLINE)
        or (isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated)
    )
    if not outage:
        return None
    return ApiError(
        grpc.StatusCode.UNAVAILABLE,
        "a backend is unavailable; retry with the same request_id",
        "BACKEND_UNAVAILABLE",
    )


def invalid_argument(field: str, message: str, reason: str = "INVALID_ARGUMENT") -> ApiError:
    return ApiError(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {message}", reason, field=field)


def not_found(name: str) -> ApiError:
    return ApiError(grpc.StatusCode.NOT_FOUND, f"{name} not found", "NOT_FOUND", metadata={"name": name})


def already_exists(name: str) -> ApiError:
    return ApiError(grpc.StatusCode.ALREADY_EXISTS, f"{name} already exists", "ALREADY_EXISTS", metadata={"name": name})


def failed_precondition(reason: str, message: str) -> ApiError:
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, message, reason)


def permission_denied(message: str = "not allowed for this principal") -> ApiError:
    return ApiError(grpc.StatusCode.PERMISSION_DENIED, message, "PERMISSION_DENIED")


def unauthenticated(message: str) -> ApiError:
    return ApiError(grpc.StatusCode.UNAUTHENTICATED, message, "UNAUTHENTICATED")


def unavailable(message: str, reason: str = "BACKEND_UNAVAILABLE") -> ApiError:
    """A backend (NATS, the database) is down or electing a leader: retry with the same request_id."""
    return ApiError(grpc.StatusCode.UNAVAILABLE, message, reason)


def _details(error: grpc.RpcError, kind: type[M]) -> list[M]:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    found = []
    for detail in status.details if status is not None else ():
        if detail.Is(kind.DESCRIPTOR):
            message = kind()
            detail.Unpack(message)
            found.append(message)
    return found


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """Reads the ErrorInfo a server attached, for clients and tests."""
    infos = _details(error, error_details_pb2.ErrorInfo)
    return infos[0] if infos else None


def field_violations(error: grpc.RpcError) -> dict[str, str]:
    """The BadRequest field violations a server attached: field path -> description."""
    return {
        v.field: v.description for bad in _details(error, error_details_pb2.BadRequest) for v in bad.field_violations
    }
