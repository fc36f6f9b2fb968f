"""How long a routing replica takes to replay a national day from the stream and be ready.

Writes a day of events into a fresh local nats-server (started here): agents connecting,
then for every contact `contact.routed`, `offered`, `accepted` and `completed`, spread over
the gemeenten in services/data/gemeenten.csv. Then starts a routing replica in this
process and times its start: following snapshots and agents, replaying the stream through
`RoutingState.apply`, until it serves. Run: .venv/bin/python bench/routing_replay.py
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from pathlib import Path

import nats

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from services.common import events
from services.common.config import Settings
from services.common.events import EventBus
from services.common.natsserver import NatsServer
from services.routing.app import AGENTS_BUCKET, RoutingApp
from services.routing.state import stamp

UPL = "http://standaarden.overheid.nl/owms/terms/"


async def write_day(url: str, contacts: int, agents: int, tenants: list[str]) -> int:
    """Publishes the day's events without waiting for each ack (the stream stores them in order)."""
    nc = await nats.connect(url)
    bus = EventBus(nc, nc.jetstream(timeout=30))
    await bus.ensure_stream()
    kv = await bus.key_value(AGENTS_BUCKET)
    for i in range(agents):
        await kv.put(f"agent-{i}", rt.Agent(tenants=[f"tenants/{t}" for t in tenants]).SerializeToString())
    start = time.time() - 8 * 3600
    count = 0

    async def send(subject: str, env: events_pb2.Envelope) -> None:
        nonlocal count
        await nc.publish(subject, env.SerializeToString(), headers={"Nats-Msg-Id": env.id})
        count += 1

    await send(
        events.subject("platform", "matcher", "elected"),
        events.envelope("platform", matcher_elected=events_pb2.MatcherElected(holder="bench", fence=1)),
    )
    for i in range(agents):
        agent = events_pb2.AgentChanged(agent=f"agents/agent-{i}", change="connected", session=f"s{i}")
        await send(events.subject("platform", "agent", "connected"), events.envelope("platform", agent_changed=agent))
    rng = random.Random(7)
    for n in range(contacts):
        tenant = rng.choice(tenants)
        name = f"tenants/{tenant}/contacts/c{n}"
        at = start + n * 8 * 3600 / contacts
        routed = events_pb2.ContactRouted(
            contact=name,
            tenant=tenant,
            channel=common_pb2.CHANNEL_PHONE,
            product_uri=UPL + "paspoort",
            product_name="Paspoort",
            department="burgerzaken",
            queue="burgerzaken",
            priority=5,
            enqueue_time=stamp(at),
            recognised=True,
            citizen_key=f"key-{rng.randrange(10**9)}",
        )
        routed.service_level_target.seconds, routed.service_level_target.percent = 20, 80
        routed.candidates.add(uri=UPL + "paspoort", name="Paspoort", score=0.9)
        await send(events.subject(tenant, "contact", "routed"), events.envelope(tenant, contact_routed=routed))
        agent = f"agents/agent-{n % agents}"
        for change in ("offered", "accepted", "completed"):
            changed = events_pb2.ContactChanged(contact=name, change=change, agent=agent, queue="burgerzaken", fence=1)
            await send(events.subject(tenant, "contact", change), events.envelope(tenant, contact_changed=changed))
    # One acked publish after the rest: on one connection, everything before it is stored too.
    closing = events.envelope("platform", matcher_elected=events_pb2.MatcherElected(holder="bench", fence=1))
    await bus.js.publish(events.subject("platform", "matcher", "elected"), closing.SerializeToString())
    count += 1
    await nc.close()
    return count


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts in the day (a national day: 100,000)")
    parser.add_argument("--agents", type=int, default=300)
    parser.add_argument("--tenants", type=int, default=342)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as server:
        tenants = [f"gm{i:04d}" for i in range(1, args.tenants + 1)]
        started = time.perf_counter()
        written = await write_day(server.url, args.contacts, args.agents, tenants)
        print(f"wrote {written:,} events ({args.contacts:,} contacts) in {time.perf_counter() - started:.1f} s")
        app = RoutingApp(Settings(data_dir=Path(tmp) / "var", nats_url=server.url))
        app.owns_process = True  # timed as a replica in a process of its own starts
        started = time.perf_counter()
        await app.start(0)
        ready = time.perf_counter() - started
        applied = app.follower.applied_events
        assert len(app.state.router.contacts) == args.contacts, len(app.state.router.contacts)
        await app.stop(0)
    print(
        f"routing_replay: {applied:,} events ({args.contacts:,} contacts with offers and completions) "
        f"replayed, ready in {ready:.1f} s ({applied / ready:,.0f} events/s)"
    )


if __name__ == "__main__":
    asyncio.run(main())
