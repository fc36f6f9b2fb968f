"""A service as a process of its own, for tests that kill it or give it settings of its own."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

from services.common.config import Settings
from services.launcher import wait_healthy


async def start_routing(
    settings: Settings, port: int, extra_env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """The routing service on `port`, once it answers its health check."""
    env = {
        **os.environ,
        "KCC_NATS_URL": settings.nats_url,
        "KCC_DATA_DIR": str(settings.data_dir),
        "KCC_ROUTING_PORT": str(port),
        **(extra_env or {}),
    }
    proc = subprocess.Popen(  # noqa: ASYNC220 - Popen returns at once
        [sys.executable, "-m", "services.launcher", "routing"], env=env, stderr=subprocess.DEVNULL
    )
    await asyncio.to_thread(wait_healthy, f"127.0.0.1:{port}", 60, process=proc)
    return proc
