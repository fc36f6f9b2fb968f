"""Why routing's follower filters on one subject: bare pull rate of a consumer by its filter.

Writes a day of routing events (bench/routing_replay.py's generator) into a fresh local
nats-server, then pulls them all, without acks, in batches of 1,000 through three consumers:
no filter, one filter subject (`kcc.>`, what services/routing/follower.py uses) and the three
filter subjects routing actually needs. Prints messages per second for each, in one run.
Run: .venv/bin/python bench/follower_filters.py [--contacts N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig

sys.path.insert(0, str(Path(__file__).resolve().parent))
from routing_replay import write_day  # noqa: E402 - the same day of events as the replay bench

from services.common.natsserver import NatsServer  # noqa: E402

FILTERS: dict[str, dict[str, object]] = {
    "no filter": {},
    "one filter (kcc.>)": {"filter_subject": "kcc.>"},
    "three filters": {"filter_subjects": ["kcc.*.contact.>", "kcc.platform.agent.>", "kcc.platform.matcher.>"]},
}


async def pull_all(nc: nats.NATS, name: str, total: int) -> float:
    """Messages per second for pulling `total` messages through consumer `name`."""
    received = 0
    done, batch_done = asyncio.Event(), asyncio.Event()

    async def on_message(msg: Msg) -> None:
        nonlocal received
        if not msg.reply:  # a status: the request ended
            batch_done.set()
            return
        received += 1
        if received % 1000 == 0:
            batch_done.set()
        if received >= total:
            done.set()

    inbox = nc.new_inbox()
    sub = await nc.subscribe(inbox, cb=on_message)
    started = time.perf_counter()
    while not done.is_set():
        batch_done.clear()
        request = json.dumps({"batch": 1000, "expires": int(2e9)}).encode()
        await nc.publish(f"$JS.API.CONSUMER.MSG.NEXT.KCC.{name}", request, reply=inbox)
        await batch_done.wait()
    rate = total / (time.perf_counter() - started)
    await sub.unsubscribe()
    return rate


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=10_000, help="contacts in the day (4 events each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        tenants = [f"gm{i:04d}" for i in range(1, 343)]
        total = await write_day(server.url, args.contacts, 300, tenants)
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        for i, (label, config) in enumerate(FILTERS.items()):
            name = f"bench-{i}"
            await js.add_consumer("KCC", ConsumerConfig(name=name, ack_policy=AckPolicy.NONE, **config))  # type: ignore[arg-type]
            print(f"follower_filters: {label}: {await pull_all(nc, name, total):,.0f} msg/s ({total:,} events)")
        await nc.close()


if __name__ == "__main__":
    asyncio.run(main())
