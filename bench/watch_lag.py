"""How long a replica's snapshot watch brings nothing new after a NATS node is killed.

For each node of a fresh 3-node loopback cluster (R3 bucket): a reader follows the tenant
snapshots (services/common/snapshots.py) through the cluster's first node, the node is killed
(SIGKILL), and a writer puts a new snapshot every 0.25 s until the reader holds one. Printed: when
the first put after the kill was stored (the bucket's leader may be elected first), how long after
that the reader held a new snapshot, and how often the follower started its watch again. A node
the reader is on, or the one holding its watch's consumer, is the case that matters.

Run: .venv/bin/python bench/watch_lag.py [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

from services.common import snapshots
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsCluster
from services.common.snapshots import SnapshotFollower, TenantSnapshot

TENANT = "gm0268"
GIVE_UP_SECONDS = 40.0


def version(n: int) -> bytes:
    return TenantSnapshot(tenant=TENANT, display_name=f"v{n}", version=n).to_json()


async def lag_after_killing(victim: int) -> tuple[float | None, float | None, int]:
    """Seconds from the kill to the first stored put, from then to the reader holding a new
    snapshot (None: not within GIVE_UP_SECONDS), and the follower's new watches."""
    with NatsCluster(tempfile.mkdtemp(prefix="kcc-watch-lag-")) as cluster:
        settings = Settings(nats_url=cluster.url, stream_replicas=3)
        writer = await EventBus.connect(settings, "writer")
        reader = await EventBus.connect(Settings(nats_url=cluster.urls[0], stream_replicas=3), "reader")
        try:
            kv = await snapshots.bucket(writer)
            await kv.put(TENANT, version(1))
            follower = SnapshotFollower()
            await follower.start(reader)
            cluster.kill(victim)
            killed = time.monotonic()
            stored: float | None = None
            held_after: float | None = None
            n = 2
            while time.monotonic() - killed < GIVE_UP_SECONDS:
                try:
                    await asyncio.wait_for(kv.put(TENANT, version(n)), 2)
                    n += 1
                    stored = stored or time.monotonic()
                except Exception:  # noqa: BLE001 - an election: put again
                    pass
                held = follower.get(TENANT)
                if stored is not None and held is not None and held.version >= 2:
                    held_after = time.monotonic() - stored
                    break
                await asyncio.sleep(0.25)
            assert follower._bucket is not None
            rewatched = follower._bucket.rewatched
            await follower.stop()
            return (stored - killed if stored else None), held_after, rewatched
        finally:
            await writer.close()
            await reader.close()


async def main(rounds: int) -> None:
    for round_ in range(rounds):
        for victim in range(3):
            stored, held_after, rewatched = await lag_after_killing(victim)
            put = f"{stored:.1f} s" if stored is not None else "never"
            held = f"{held_after:.1f} s" if held_after is not None else f"not within {GIVE_UP_SECONDS:.0f} s"
            print(
                f"round {round_ + 1}, node {victim} killed: first put stored after {put}, "
                f"held by the reader {held} later; watch started again {rewatched}x",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1)
    asyncio.run(main(parser.parse_args().rounds))
