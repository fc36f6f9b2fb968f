"""A plaintext listener with only the standard health service, for the kubelet's gRPC probes.

The kubelet's probes cannot speak TLS, while production serves its API over TLS only. This
listener answers SERVING while the process serves and carries no data and no credentials.
"""

from __future__ import annotations

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from services.common.config import Settings


async def start(settings: Settings) -> grpc.aio.Server | None:
    """Starts the listener on KCC_HEALTH_PORT, or nothing when that is 0."""
    if not settings.health_port:
        return None
    server = grpc.aio.server()
    servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    server.add_insecure_port(f"{settings.host}:{settings.health_port}")
    await server.start()
    await servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    return server
