"""A fault run that counts every id, like the NATS server's own chaos tests.

Starts a 3-node JetStream cluster on random loopback ports (R3 stream and buckets), an embedded
PostgreSQL, and two replicas each of tenancy (onboarding alternates between them), routing and
callbacks, each its own process. Routes contacts for several gemeenten while agents accept and
complete them, and creates callbacks with deadlines that fall during the run, while it kills -9
random NATS nodes (restarting them on the same store), the routing replica that holds the matcher
lease and the callbacks replica that holds the scheduler lease, each at least once; killed
services come back as a new process, as Kubernetes would bring them. Clients retry with the same
request_id, as a partner would. At the end it counts, from the stream and through the API, what
was acknowledged, lost, duplicated and offered twice.

Run: .venv/bin/python bench/chaos.py [--seed N] [--contacts N] [--callbacks N] [--lease-seconds S]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import nats
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client
from services.common.config import DEV_SECRET

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench.chaos_platform import Platform  # noqa: E402 - beside this script
from tests.builders import make_tenant, routable  # noqa: E402 - the test builders onboard through the real API

UPL = "http://standaarden.overheid.nl/owms/terms/"
PRODUCTS = [("paspoort", "paspoort", "burgerzaken"), ("rijbewijs", "rijbewijs", "burgerzaken")]
RETRYABLE = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
CALL_SECONDS = 20.0  # per attempt; a partner's telephony gives up on one attempt after this


def metadata(role: auth.Role, subject: str, tenants: list[str] | None = None) -> tuple[tuple[str, str], ...]:
    return client.metadata(auth.issue_token(DEV_SECRET, subject, role, tenants or []))


ADMIN = metadata(auth.Role.PLATFORM_ADMIN, "chaos-admin")


@dataclass
class Tally:
    """What the clients were told, and what they saw."""

    contacts: dict[str, str] = field(default_factory=dict)  # request_id -> acknowledged contact name
    callbacks: dict[str, tuple[str, datetime]] = field(default_factory=dict)  # request_id -> (name, deadline)
    accepted: Counter[str] = field(default_factory=Counter)  # contact -> successful AcceptOffer calls
    completed: set[str] = field(default_factory=set)
    two_offers_at_once: int = 0  # an agent's desktop got an offer while it held another
    retries: int = 0
    faults: list[str] = field(default_factory=list)
    progress: asyncio.Event = field(default_factory=asyncio.Event)  # set on every completed contact
    routing_takeovers: list[float] = field(default_factory=list)
    scheduler_takeovers: list[float] = field(default_factory=list)


async def call(stubs: list, method: str, request: object, md: object, tally: Tally, rng: random.Random) -> object:  # type: ignore[type-arg]
    """Calls any replica; on a retryable error again (same request, so the same request_id)."""
    deadline = time.monotonic() + 120
    while True:
        stub = rng.choice(stubs)
        try:
            return await getattr(stub, method)(request, metadata=md, timeout=CALL_SECONDS)
        except grpc.aio.AioRpcError as err:
            if err.code() not in RETRYABLE or time.monotonic() > deadline:
                raise
            tally.retries += 1
            await asyncio.sleep(0.2)


async def route_contacts(
    stubs: list,  # type: ignore[type-arg]
    tenants: list[str],
    count: int,
    tally: Tally,
    rng: random.Random,
    pace: float,
    counted: asyncio.Event,
    until: asyncio.Event,
) -> None:
    """`count` contacts at `pace` (then sets `counted`), and more until `until` is set: offers must be
    waiting whenever a fault strikes, or a takeover would have nothing to show."""

    async def one(i: int) -> None:
        tenant = tenants[i % len(tenants)]
        request = rt.RouteContactRequest(
            tenant=f"tenants/{tenant}",
            channel=common_pb2.CHANNEL_PHONE,
            product_uri=UPL + rng.choice(PRODUCTS)[0],
            request_id=f"chaos-contact-{i}",
            citizen_key=f"citizen-{rng.randrange(10**9)}",
        )
        md = metadata(auth.Role.TENANT_INTEGRATION, f"{tenant}-telefonie", [tenant])
        reply = await call(stubs, "RouteContact", request, md, tally, rng)
        tally.contacts[request.request_id] = reply.contact.name  # type: ignore[attr-defined]

    pending = set()
    i = 0
    while i < count or not until.is_set():
        pending.add(asyncio.create_task(one(i)))
        i += 1
        if i == count:
            counted.set()
        await asyncio.sleep(pace)
    await asyncio.gather(*pending)


async def agent(
    name: str, tenants: list[str], stubs: list, tally: Tally, rng: random.Random, stop: asyncio.Event
) -> None:  # type: ignore[type-arg]
    """Connects to a random replica, accepts and completes what it is offered, reconnects when its replica dies."""
    md = metadata(auth.Role.AGENT, name.removeprefix("agents/"), tenants)
    back = asyncio.create_task(back_from_break(name, md, stubs, rng, stop))
    while not stop.is_set():
        desktop = rng.choice(stubs).ConnectAgent(rt.ConnectAgentRequest(name=name), metadata=md)
        held = ""
        try:
            async for message in desktop:
                if message.HasField("offer"):
                    contact = message.offer.contact.name
                    if held and held != contact:
                        tally.two_offers_at_once += 1
                    held = contact
                    try:
                        await call(
                            stubs, "AcceptOffer", rt.AcceptOfferRequest(agent=name, contact=contact), md, tally, rng
                        )
                    except grpc.aio.AioRpcError:
                        held = ""
                        continue  # withdrawn or expired meanwhile
                    held = ""
                    tally.accepted[contact] += 1
                    await asyncio.sleep(rng.uniform(0.05, 0.3))  # the conversation
                    with contextlib.suppress(grpc.aio.AioRpcError):
                        await call(
                            stubs,
                            "CompleteContact",
                            rt.CompleteContactRequest(agent=name, contact=contact, outcome="answered"),
                            md,
                            tally,
                            rng,
                        )
                    tally.completed.add(contact)
                    tally.progress.set()
                elif message.offer_revoked:
                    held = ""
                if stop.is_set():
                    break
        except grpc.aio.AioRpcError:
            pass  # the replica went away: connect again, anywhere
        finally:
            desktop.cancel()
        await asyncio.sleep(0.2)
    back.cancel()


async def back_from_break(name: str, md: object, stubs: list, rng: random.Random, stop: asyncio.Event) -> None:  # type: ignore[type-arg]
    """An offer that timed out (its desktop was on a replica that died) puts the agent on break;
    like a real agent, it makes itself available again."""
    while not stop.is_set():
        await asyncio.sleep(2)
        with contextlib.suppress(grpc.aio.AioRpcError):
            stub = rng.choice(stubs)
            found = await stub.GetAgent(rt.GetAgentRequest(name=name), metadata=md, timeout=5)
            if found.state == rt.Agent.STATE_BREAK:
                request = rt.SetAgentStateRequest(name=name, state=rt.Agent.STATE_AVAILABLE)
                await stub.SetAgentState(request, metadata=md, timeout=CALL_SECONDS)


async def create_callbacks(
    stubs: list, tenants: list[str], count: int, tally: Tally, rng: random.Random, pace: float, deadline_within: float
) -> None:  # type: ignore[type-arg]
    """`count` callbacks at `pace`, each asking for a deadline 5 to `deadline_within` seconds out, so
    the scheduler finds breaches while the faults strike."""

    async def one(i: int) -> None:
        tenant = tenants[i % len(tenants)]
        deadline = datetime.now(UTC) + timedelta(seconds=rng.uniform(5, deadline_within))
        request = cb.CreateCallbackRequest(
            parent=f"tenants/{tenant}",
            callback=cb.Callback(
                department=f"tenants/{tenant}/departments/burgerzaken",
                product_uri=UPL + "paspoort",
                phone_number=f"+3161{rng.randrange(10**7):07d}",
                note="terugbellen over de aanvraag",
            ),
            request_id=f"chaos-callback-{i}",
        )
        request.requested_deadline.FromDatetime(deadline)
        md = metadata(auth.Role.TENANT_INTEGRATION, f"{tenant}-kcc", [tenant])
        try:
            reply = await call(stubs, "CreateCallback", request, md, tally, rng)
        except grpc.aio.AioRpcError as err:  # the deadline asked for passed before any replica stored it
            if err.code() != grpc.StatusCode.INVALID_ARGUMENT:
                raise
            request.ClearField("requested_deadline")  # as a partner would: the norm's deadline, then
            reply = await call(stubs, "CreateCallback", request, md, tally, rng)
        tally.callbacks[request.request_id] = (reply.name, reply.deadline.ToDatetime(UTC))  # type: ignore[attr-defined]

    pending = set()
    for i in range(count):
        pending.add(asyncio.create_task(one(i)))
        await asyncio.sleep(pace)
    await asyncio.gather(*pending)


async def callbacks_breached(stubs: list, tally: Tally, rng: random.Random) -> None:  # type: ignore[type-arg]
    """Waits until every deadline set during the run has passed and its callback reads breached, or
    until 25 s after the last one: `count` then finds each breach missing that has not come by then."""
    horizon = datetime.now(UTC) + timedelta(minutes=5)  # a norm's deadline (the fallback) lies days out
    waiting = {name: deadline for name, deadline in tally.callbacks.values() if deadline < horizon}
    last = max(waiting.values(), default=datetime.now(UTC))
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(max(0.0, (last - datetime.now(UTC)).total_seconds()) + 25):
            while waiting:
                now = datetime.now(UTC)
                for name in [n for n, deadline in waiting.items() if deadline <= now]:
                    found = await call(stubs, "GetCallback", cb.GetCallbackRequest(name=name), ADMIN, tally, rng)
                    if found.breached:  # type: ignore[attr-defined]
                        del waiting[name]
                await asyncio.sleep(1)


async def lease_holder(js: nats.js.JetStreamContext, bucket: str, key: str) -> str:
    import json

    with contextlib.suppress(Exception):
        kv = await js.key_value(bucket)
        entry = await kv.get(key)
        if entry.value:
            value = json.loads(entry.value)
            if float(value.get("expires_at", 0)) > time.time():
                return str(value.get("holder", ""))
    return ""


def holder_pid(holder: str) -> int:
    """Lease holders are named <host>-<pid>-<random>."""
    parts = holder.rsplit("-", 2)
    return int(parts[1]) if len(parts) == 3 and parts[1].isdigit() else 0


async def kill_lease_holder(
    platform: Platform, js: nats.js.JetStreamContext, service: str, bucket: str, key: str, tally: Tally
) -> tuple[float, float | None]:
    """Kills the replica holding the lease and restarts it; returns when it was killed (0: nobody held
    it) and the seconds until another holder took the lease."""
    holder = await lease_holder(js, bucket, key)
    replica = platform.pids(service).get(holder_pid(holder))
    if replica is None:
        return 0.0, None
    platform.kill(replica)
    killed = time.monotonic()
    tally.faults.append(f"kill -9 {service} (lease holder) at {time.strftime('%H:%M:%S')}")
    await asyncio.sleep(2)
    platform.spawn(replica)  # back as a new process, as Kubernetes would
    while time.monotonic() - killed < 60:
        now_holder = await lease_holder(js, bucket, key)
        if now_holder and now_holder != holder:
            return killed, time.monotonic() - killed
        await asyncio.sleep(0.1)
    return killed, None


async def first_new_term_offer(nc: nats.NATS) -> float:
    """When (monotonic) the first offer of a matcher term opened after this call reached the stream."""
    fences: list[int] = []
    got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    async def on_elected(msg: object) -> None:
        fences.append(events_pb2.Envelope.FromString(msg.data).matcher_elected.fence)  # type: ignore[attr-defined]

    async def on_offer(msg: object) -> None:
        fence = events_pb2.Envelope.FromString(msg.data).contact_changed.fence  # type: ignore[attr-defined]
        if fences and fence >= fences[0] and not got.done():
            got.set_result(time.monotonic())

    subs = [
        await nc.subscribe("kcc.platform.matcher.elected", cb=on_elected),
        await nc.subscribe("kcc.*.contact.offered", cb=on_offer),
    ]
    try:
        return await asyncio.wait_for(got, 60)
    finally:
        for sub in subs:
            await sub.unsubscribe()


async def faults(platform: Platform, nc: nats.NATS, tally: Tally, rng: random.Random, load_done: asyncio.Event) -> None:
    """Round after round, in random order: a NATS node, the routing leader, the scheduler holder; stops
    after the round in which the load finished, so each happens at least once."""
    js = nc.jetstream()
    kinds = ["nats", "routing", "callbacks"]
    while True:
        rng.shuffle(kinds)
        for kind in kinds:
            await asyncio.sleep(rng.uniform(0.2, 0.4) * platform.lease_seconds)  # 2-4 s with 10 s leases
            if kind == "nats":
                node = rng.randrange(3)
                platform.cluster.kill(node)
                tally.faults.append(f"kill -9 nats node {node} at {time.strftime('%H:%M:%S')}")
                await asyncio.sleep(rng.uniform(2, 5))
                await asyncio.to_thread(platform.cluster.restart, node)
            elif kind == "routing":
                watch = asyncio.ensure_future(first_new_term_offer(nc))
                await asyncio.sleep(0.2)  # subscribed before the kill
                killed, _ = await kill_lease_holder(platform, js, "routing", "routing-leases", "matcher", tally)
                if not killed:
                    watch.cancel()
                    continue
                with contextlib.suppress(TimeoutError):
                    tally.routing_takeovers.append(await watch - killed)
            else:
                _, seconds = await kill_lease_holder(platform, js, "callbacks", "callbacks-leases", "scheduler", tally)
                if seconds is not None:
                    tally.scheduler_takeovers.append(seconds)
            for replicas in platform.replicas.values():  # wait for restarted services before the next fault
                for replica in replicas:
                    await asyncio.to_thread(replica.wait_healthy)
        if load_done.is_set() and tally.routing_takeovers and tally.scheduler_takeovers:
            return


async def progress(tally: Tally, started: float) -> None:
    """A line every ten seconds, so a long run shows where it is."""
    while True:
        await asyncio.sleep(10)
        print(
            f"{time.monotonic() - started:5.0f} s: contacts {len(tally.contacts)} acknowledged, "
            f"{len(tally.completed)} completed; callbacks {len(tally.callbacks)}; retries {tally.retries}; "
            f"faults {len(tally.faults)}: {tally.faults[-1] if tally.faults else '-'}",
            flush=True,
        )


async def read_stream(urls: list[str]) -> list[tuple[str, events_pb2.Envelope]]:
    """Every event in the stream, in order (the cluster may still be settling after the last fault)."""
    nc = await nats.connect(urls)
    js = nc.jetstream(timeout=30)
    last = (await js.stream_info("KCC")).state.last_seq
    sub = await js.pull_subscribe(
        "kcc.>", stream="KCC", config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, ack_policy=AckPolicy.NONE)
    )
    stored: list[tuple[str, events_pb2.Envelope]] = []
    seq = 0
    deadline = time.monotonic() + 120
    while seq < last:
        try:
            msgs = await sub.fetch(1000, timeout=5)
        except (nats.errors.TimeoutError, TimeoutError, nats.js.errors.ServiceUnavailableError):
            if time.monotonic() > deadline:  # no answer, or 503 while the stream elects a leader
                raise
            await asyncio.sleep(0.5)
            continue
        for msg in msgs:
            stored.append((msg.subject, events_pb2.Envelope.FromString(msg.data)))
            seq = msg.metadata.sequence.stream
    await nc.close()
    return stored


@dataclass
class Report:
    contacts: int
    callbacks: int
    lost: int
    duplicated: int
    double_offers: int
    unknown_to_routing: int
    warnings_twice: int
    breaches_missing: int
    breaches_twice: int
    routing_takeover: float
    scheduler_takeover: float
    retries: int
    faults: list[str]

    @property
    def ok(self) -> bool:
        return (
            self.lost == self.duplicated == self.double_offers == self.unknown_to_routing == 0
            and self.warnings_twice == self.breaches_missing == self.breaches_twice == 0
            and 0 < self.routing_takeover <= 15
            and 0 < self.scheduler_takeover <= 15
        )

    def last_line(self) -> str:
        return (
            f"chaos: acknowledged contacts {self.contacts} callbacks {self.callbacks}; lost {self.lost}; "
            f"duplicated {self.duplicated}; double offers {self.double_offers}; "
            f"routing takeover {self.routing_takeover:.1f} s; scheduler takeover {self.scheduler_takeover:.1f} s"
        )


async def count(platform: Platform, tally: Tally, tenants: list[str]) -> Report:
    """Counts every id, from the stream and through each live replica's API."""
    stored = await read_stream(platform.cluster.urls)
    routed: Counter[str] = Counter()
    event_ids: Counter[str] = Counter()
    callback_changes: dict[str, Counter[str]] = defaultdict(Counter)
    for _subject, env in stored:
        kind = env.WhichOneof("payload")
        if kind == "contact_routed":
            routed[env.contact_routed.contact] += 1
        elif kind == "callback_changed":
            event_ids[env.id] += 1
            callback_changes[env.callback_changed.callback][env.callback_changed.change] += 1
    acknowledged = set(tally.contacts.values())
    lost = sum(1 for name in acknowledged if routed[name] == 0)
    duplicated = sum(1 for name in acknowledged if routed[name] > 1)
    duplicated += sum(1 for n in event_ids.values() if n > 1)

    unknown = 0
    for replica in platform.replicas["routing"]:
        async with grpc.aio.insecure_channel(replica.target) as channel:
            stub = routing_pb2_grpc.RoutingServiceStub(channel)
            for name in routed:  # everything on the stream, acknowledged or not
                try:
                    await stub.GetContact(rt.GetContactRequest(name=name), metadata=ADMIN)
                except grpc.aio.AioRpcError:
                    unknown += 1
    async with grpc.aio.insecure_channel(platform.replicas["callbacks"][0].target) as channel:
        callbacks = callbacks_pb2_grpc.CallbackServiceStub(channel)
        for name, _deadline in tally.callbacks.values():
            try:
                await callbacks.GetCallback(cb.GetCallbackRequest(name=name), metadata=ADMIN)
            except grpc.aio.AioRpcError:
                lost += 1
            requested = callback_changes[name]["requested"]
            lost += requested == 0
            duplicated += requested > 1
    now = datetime.now(UTC)
    warnings_twice = sum(1 for c in callback_changes.values() if c["warning"] > 1)
    breaches_twice = sum(1 for c in callback_changes.values() if c["breached"] > 1)
    breaches_missing = sum(
        1
        for name, deadline in tally.callbacks.values()
        if deadline < now - timedelta(seconds=20) and not callback_changes[name]["breached"]
    )
    double_offers = tally.two_offers_at_once + sum(1 for n in tally.accepted.values() if n > 1)
    return Report(
        contacts=len(acknowledged),
        callbacks=len(tally.callbacks),
        lost=lost,
        duplicated=duplicated,
        double_offers=double_offers,
        unknown_to_routing=unknown,
        warnings_twice=warnings_twice,
        breaches_missing=breaches_missing,
        breaches_twice=breaches_twice,
        routing_takeover=max(tally.routing_takeovers, default=0.0),
        scheduler_takeover=max(tally.scheduler_takeovers, default=0.0),
        retries=tally.retries,
        faults=tally.faults,
    )


async def run(
    seed: int,
    contacts: int,
    callbacks: int,
    gemeenten: int,
    agents: int,
    duration: float,
    workdir: Path,
    lease_seconds: float = 10.0,
) -> Report:
    rng = random.Random(seed)
    platform = Platform(workdir, lease_seconds)
    try:
        await asyncio.to_thread(platform.start)
        tenants = [f"gm{1000 + i:04d}" for i in range(gemeenten)]
        async with contextlib.AsyncExitStack() as stack:
            channels = {
                service: [await stack.enter_async_context(grpc.aio.insecure_channel(r.target)) for r in replicas]
                for service, replicas in platform.replicas.items()
            }
            for i, tenant in enumerate(tenants):
                await make_tenant(channels["tenancy"][i % 2], ADMIN, tenant, f"Gemeente {tenant}", PRODUCTS)
                for channel in channels["routing"]:
                    await routable(channel, ADMIN, tenant)
            routing = [routing_pb2_grpc.RoutingServiceStub(c) for c in channels["routing"]]
            callback_stubs = [callbacks_pb2_grpc.CallbackServiceStub(c) for c in channels["callbacks"]]
            tally = Tally()
            names = [f"agents/chaos-{i}" for i in range(agents)]
            for name in names:
                await call(
                    routing,
                    "CreateAgent",
                    rt.CreateAgentRequest(
                        agent_id=name.removeprefix("agents/"),
                        agent=rt.Agent(tenants=[f"tenants/{t}" for t in tenants]),
                        request_id=name,
                    ),
                    ADMIN,
                    tally,
                    rng,
                )
            nc = await nats.connect(platform.cluster.urls, max_reconnect_attempts=-1)
            stop, load_done = asyncio.Event(), asyncio.Event()
            desks = [asyncio.create_task(agent(n, tenants, routing, tally, rng, stop)) for n in names]
            monkey = asyncio.create_task(faults(platform, nc, tally, rng, load_done))
            faults_done = asyncio.Event()
            monkey.add_done_callback(lambda _t: faults_done.set())
            started = time.monotonic()
            reporter = asyncio.create_task(progress(tally, started))
            counted = asyncio.Event()
            routes = asyncio.create_task(
                route_contacts(routing, tenants, contacts, tally, rng, duration / contacts, counted, faults_done)
            )
            deadline_within = min(40.0, duration / 2)  # the short test run waits 10 s past its load, not 40
            await create_callbacks(
                callback_stubs, tenants, callbacks, tally, rng, duration / callbacks, deadline_within
            )
            await counted.wait()
            load_done.set()  # the fault round under way is the last
            await monkey
            await routes
            print(f"load and faults done in {time.monotonic() - started:.0f} s", flush=True)
            # Quiet down: every acknowledged contact answered, every deadline passed and handled.
            acknowledged = set(tally.contacts.values())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(120):
                    while not acknowledged <= tally.completed:
                        await tally.progress.wait()
                        tally.progress.clear()
            await callbacks_breached(callback_stubs, tally, rng)
            stop.set()
            reporter.cancel()
            for desk in desks:
                desk.cancel()
            await asyncio.gather(*desks, return_exceptions=True)
            await nc.close()
            return await count(platform, tally, tenants)
    finally:
        await asyncio.to_thread(platform.stop)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--contacts", type=int, default=3000)
    parser.add_argument("--callbacks", type=int, default=1000)
    parser.add_argument("--gemeenten", type=int, default=12)
    parser.add_argument("--agents", type=int, default=16)
    parser.add_argument("--duration", type=float, default=120.0, help="seconds over which the load is spread")
    parser.add_argument("--lease-seconds", type=float, default=10.0, help="the services' KCC_LEASE_SECONDS")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kcc-chaos-") as tmp:
        report = asyncio.run(
            run(
                args.seed,
                args.contacts,
                args.callbacks,
                args.gemeenten,
                args.agents,
                args.duration,
                Path(tmp),
                args.lease_seconds,
            )
        )
    for fault in report.faults:
        print(fault)
    print(
        f"retries {report.retries}; unknown to routing {report.unknown_to_routing}; warnings twice "
        f"{report.warnings_twice}; breaches missing {report.breaches_missing}, twice {report.breaches_twice}"
    )
    print(report.last_line())
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
