"""The event bus on a 3-node JetStream cluster: R3 as configured, never lowered, and a publish that
rides out the loss of the stream's leader (kill -9) without an error, a loss or a duplicate."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import nats.errors
import pytest
from nats.aio.msg import Msg
from nats.js.api import DeliverPolicy, KeyValueConfig, StorageType

from services.common.config import Settings
from services.common.events import STREAM, EventBus, envelope
from services.common.natsserver import NatsCluster

SUBJECT = "kcc.gm0268.contact.routed"
PUBLISHERS = 4


async def stored_ids(bus: EventBus, expected: int) -> Counter[str]:
    """Every `Nats-Msg-Id` in the stream, counted, read through an ordered consumer. A cluster that
    has just taken a node back can leave the consumer's request unanswered (once in a fresh clone's
    run): it is asked again, each try counting afresh."""
    for _ in range(3):
        ids: Counter[str] = Counter()
        done = asyncio.Event()
        try:
            sub = await bus.js.subscribe(
                "kcc.>", stream=STREAM, cb=counting(ids, done), ordered_consumer=True, deliver_policy=DeliverPolicy.ALL
            )
        except nats.errors.TimeoutError:
            continue
        await asyncio.wait_for(done.wait(), 30)
        await sub.unsubscribe()
        assert sum(ids.values()) == expected
        return ids
    raise AssertionError("the stream could not be read")


def counting(ids: Counter[str], done: asyncio.Event) -> Callable[[Msg], Awaitable[None]]:
    async def on_message(msg: Msg) -> None:
        ids[(msg.headers or {}).get("Nats-Msg-Id", "")] += 1
        if msg.metadata.num_pending == 0:
            done.set()

    return on_message


@pytest.mark.long
async def test_publishes_ride_out_the_loss_of_the_stream_leader_and_of_their_own_node(
    nats_cluster: NatsCluster, record_property: Callable[[str, object], None]
) -> None:
    bus = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=3), "test-publisher")
    try:
        info = await bus.js.stream_info(STREAM)
        assert info.config.num_replicas == 3 and info.cluster is not None
        leader = nats_cluster.index(info.cluster.leader or "")

        acked: list[str] = []
        pauses: list[float] = []
        stop = asyncio.Event()
        progress = asyncio.Condition()

        async def publisher(worker: int) -> None:
            for n in range(1_000_000):
                if stop.is_set():
                    return
                env = envelope("gm0268", event_id=f"{worker}-{n}")
                started = time.monotonic()
                await bus.publish(SUBJECT, env)  # any exception fails the test
                pauses.append(time.monotonic() - started)
                acked.append(env.id)
                async with progress:
                    progress.notify_all()

        async def acked_more(count: int) -> None:
            target = len(acked) + count
            async with progress:
                await progress.wait_for(lambda: len(acked) >= target)

        async def crash(node: int) -> float:
            """Kills the node, lets publishing go on without it, restarts it; the longest pause."""
            before = len(pauses)
            nats_cluster.kill(node)
            await asyncio.wait_for(acked_more(200), 30)
            await asyncio.to_thread(nats_cluster.restart, node)
            await asyncio.wait_for(acked_more(200), 30)
            return max(pauses[before:])

        workers = [asyncio.create_task(publisher(w)) for w in range(PUBLISHERS)]
        try:
            await acked_more(200)
            leader_lost = await crash(leader)  # the stream's leader: an election
            url = bus.nc.connected_url
            own = [node.port for node in nats_cluster.nodes].index(url.port if url and url.port else 0)
            own_lost = await crash(own)  # the publisher's own node: a reconnect (an election if it leads)
        finally:
            stop.set()
            await asyncio.gather(*workers)

        ids = await stored_ids(bus, len(acked))
        assert set(ids) == set(acked) and max(ids.values()) == 1
        record_property("longest_publish_pause_leader_killed_s", round(leader_lost, 2))
        record_property("longest_publish_pause_own_node_killed_s", round(own_lost, 2))
        print(
            f"\npublished {len(acked)}; longest publish pause: stream leader killed {leader_lost:.2f} s,"
            f" own node killed {own_lost:.2f} s (node {own}, leader was {leader})"
        )
    finally:
        await bus.close()


async def test_an_operators_r3_stream_and_bucket_survive_a_start_configured_with_r1(
    nats_cluster: NatsCluster,
) -> None:
    operator = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=3), "operator")
    try:
        # The operator tightens the limits by hand (as `nats stream edit` would) and makes a bucket R3.
        info = await operator.js.stream_info(STREAM)
        await operator.js.update_stream(info.config.evolve(max_bytes=64 * 2**20, max_age=30 * 86400))
        await operator.js.create_key_value(
            KeyValueConfig(bucket="routing-agents", history=1, storage=StorageType.FILE, replicas=3)
        )

        service = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=1), "a-service")
        try:
            kv = await service.key_value("routing-agents")
            await kv.put("agents.fatima", b"ready")
            info = await service.js.stream_info(STREAM)
            assert (info.config.num_replicas, info.config.max_bytes, info.config.max_age) == (
                3,
                64 * 2**20,
                30 * 86400,
            )
            assert (await service.js.stream_info("KV_routing-agents")).config.num_replicas == 3
            # A bucket the service creates itself gets the configured replicas.
            await service.key_value("callbacks-leases")
            assert (await service.js.stream_info("KV_callbacks-leases")).config.num_replicas == 1
        finally:
            await service.close()
    finally:
        await operator.close()


async def test_a_start_configured_with_r3_raises_an_r1_stream(nats_cluster: NatsCluster) -> None:
    first = await EventBus.connect(Settings(nats_url=nats_cluster.url), "single-node-days")
    await first.publish(SUBJECT, envelope("gm0268", event_id="before"))
    await first.close()

    bus = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=3), "after-scale-up")
    try:
        info = await bus.js.stream_info(STREAM)
        assert info.config.num_replicas == 3 and info.state.messages == 1
        await bus.key_value("tenant-snapshots")  # KV replicas follow the stream's by default
        assert (await bus.js.stream_info("KV_tenant-snapshots")).config.num_replicas == 3
    finally:
        await bus.close()


async def test_a_service_starts_while_the_streams_leader_is_being_elected(nats_cluster: NatsCluster) -> None:
    settings = Settings(nats_url=nats_cluster.url, stream_replicas=3)
    first = await EventBus.connect(settings, "first-start")
    await first.key_value("routing-agents")
    info = await first.js.stream_info(STREAM)
    await first.close()
    assert info.cluster is not None
    nats_cluster.kill(nats_cluster.index(info.cluster.leader or ""))

    started = time.monotonic()
    bus = await EventBus.connect(settings, "second-start")  # reads the stream's info: waits out the election
    try:
        await bus.key_value("routing-agents")
        await bus.publish(SUBJECT, envelope("gm0268"))
        print(f"\nstarted during the election in {time.monotonic() - started:.2f} s")
    finally:
        await bus.close()


async def test_a_read_of_the_streams_position_waits_out_the_election(nats_cluster: NatsCluster) -> None:
    """What a handler does before it answers NOT_FOUND (services/routing/follower.py `sync`): a pause
    while the survivors elect a new stream leader, never an error."""
    bus = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=3), "reader")
    try:
        await bus.publish(SUBJECT, envelope("gm0268", event_id="before-the-election"))
        info = await bus.js.stream_info(STREAM)
        assert info.cluster is not None
        nats_cluster.kill(nats_cluster.index(info.cluster.leader or ""))
        assert await bus.last_seq() == 1
    finally:
        await bus.close()


async def test_one_event_published_twice_at_once_is_stored_once_and_both_get_its_sequence(
    nats_cluster: NatsCluster,
) -> None:
    """A partner's retry that comes while the first call's event is still being stored (or a publish's
    own retry after a time-out): the clustered stream answers 'duplicate message id is in process'
    until the first is stored; the bus asks again, and both get the stored sequence."""
    bus = await EventBus.connect(Settings(nats_url=nats_cluster.url, stream_replicas=3), "twice")
    try:
        for i in range(50):
            env = envelope("gm0268", event_id=f"twice-{i}")
            first, second = await asyncio.gather(bus.publish(SUBJECT, env), bus.publish(SUBJECT, env))
            assert first.seq == second.seq == i + 1
        ids = await stored_ids(bus, 50)
        assert max(ids.values()) == 1
    finally:
        await bus.close()
