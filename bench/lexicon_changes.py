"""RouteContact latency while 20 gemeenten change their catalogue or lexicon, and how long until
each change is live in routing.

Loads the 342 gemeenten's catalogues (the 450 UPL gemeente products each, so all share the
default recognizer) as snapshots in JetStream KV, starts routing as its own process, and keeps 16
callers routing citizen questions to the gemeenten that do not change, flat out (or, with --rate,
a steady number of calls a second: a national KCC's peak is a few a second). Then, in turn:

- ``ivr``: 20 gemeenten each change an IVR code (no phrase changes: they stay on the shared
  recognizer, nothing is made);
- ``known``: 20 gemeenten each add a phrase of words the catalogue already knows to paspoort
  (``kcc tenancy lexicon update --add``: a recognizer of their own, derived from the default's);
- ``new``: the same with a word the catalogue does not know;
- ``replace``: 20 gemeenten each suppress paspoort's 47 default phrases and add one of known words
  (the words of the suppressed phrases change weight: ~1,300 phrases are indexed again).

Each kind runs twice: the 20 changes ``staggered`` (one every --gap seconds) and as a ``burst`` (all
at once). A change is live when ClassifyQuestion of the tenant answers it (see Liveness). The quiet
rounds between kinds give the baseline in the same run.
Run: .venv/bin/python bench/lexicon_changes.py
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parent))

from route_contacts import free_port, load_catalogues, pct  # noqa: E402

from kcc.common.v1 import common_pb2  # noqa: E402
from kcc.routing.v1 import routing_pb2 as rt  # noqa: E402
from kcc.routing.v1 import routing_pb2_grpc  # noqa: E402
from services.common import auth, client, snapshots  # noqa: E402
from services.common.config import Settings  # noqa: E402
from services.common.events import EventBus  # noqa: E402
from services.common.natsserver import NatsServer  # noqa: E402
from services.common.snapshots import TenantSnapshot  # noqa: E402
from services.launcher import wait_healthy  # noqa: E402
from services.routing.recognition import ProductRecognizer  # noqa: E402
from services.routing.recognition.dutch import stem  # noqa: E402
from services.routing.recognition.lexicon import default_catalogue  # noqa: E402

CHANGERS = 20
CALLERS = 16
#: Everyday words of other products; pairs of them make phrases of known words for `paspoort`.
KNOWN = ("hond", "boom", "lantaarnpaal", "graf", "fiets", "container", "steiger", "markt", "kermis", "subsidie")


class Load:
    """Callers routing questions to the gemeenten that do not change; latencies by wall time."""

    def __init__(self, stub: routing_pb2_grpc.RoutingServiceStub, md, work: list[tuple[str, str]]) -> None:  # type: ignore[no-untyped-def]
        self.stub, self.md, self.work = stub, md, work
        self.samples: list[tuple[float, float]] = []  # (end time, latency ms)
        self.running = True

    async def call(self, i: int, began: float) -> None:
        tenant, question = self.work[i % len(self.work)]
        await self.stub.RouteContact(
            rt.RouteContactRequest(
                tenant=f"tenants/{tenant}", channel=common_pb2.CHANNEL_PHONE, question=question, citizen_key=f"k{i}"
            ),
            metadata=self.md,
        )
        now = time.perf_counter()
        self.samples.append((now, (now - began) * 1000))

    async def caller(self, n: int) -> None:
        """Closed loop: the next call once the last is answered, so routing runs flat out."""
        for i in itertools.count(n * 1_000_000):
            if not self.running:
                return
            await self.call(i, time.perf_counter())

    async def at_rate(self, rate: float) -> None:
        """Open loop: calls at a steady rate whatever routing does, each timed from when it was
        due (a stalled server cannot hide its stall by slowing the callers down)."""
        calls: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        for i in itertools.count():
            if not self.running:
                break
            due = start + i / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            task = asyncio.create_task(self.call(i, due))
            calls.add(task)
            task.add_done_callback(calls.discard)
        await asyncio.gather(*calls)

    def between(self, start: float, end: float) -> list[float]:
        return [ms for at, ms in self.samples if start <= at <= end]


class Liveness:
    """Polls ClassifyQuestion until each change is live. Polling must not become the load: the
    oldest change still pending (routing derives recognizers in the order their snapshots came)
    is asked every 5 ms, the others every 100 ms in case one overtakes it."""

    HEAD_SECONDS = 0.005
    SWEEP_SECONDS = 0.1

    def __init__(self, stub: routing_pb2_grpc.RoutingServiceStub, md) -> None:  # type: ignore[no-untyped-def]
        self.stub, self.md = stub, md
        self.pending: dict[str, tuple[str, float]] = {}  # tenant -> (probe, written at), in write order
        self.live: list[float] = []
        self.polls = 0
        self.writing = True  # more changes to come

    async def answers(self, tenant: str, probe: str, expect: str) -> bool:
        self.polls += 1
        reply = await self.stub.ClassifyQuestion(
            rt.ClassifyQuestionRequest(tenant=f"tenants/{tenant}", question=probe, limit=1), metadata=self.md
        )
        return bool(reply.products) and reply.products[0].uri.endswith("/" + expect)

    async def not_yet(self, batch: list[tuple[str, bytes, str]], expect: str) -> None:
        """A probe that the tenant's old recognizer already answers would be "live" at once."""
        for tenant, _, probe in batch:
            if await self.answers(tenant, probe, expect):
                raise SystemExit(f"{tenant}: {probe!r} gives {expect} before its change: a useless probe")
        self.polls = 0

    def written(self, tenant: str, probe: str) -> None:
        self.pending[tenant] = (probe, time.perf_counter())

    async def until_all_live(self, expect: str) -> list[float]:
        """Seconds from each write until ClassifyQuestion of its probe puts `expect` first."""
        self.live = []
        swept = time.perf_counter()
        while self.pending or self.writing:
            sweep = time.perf_counter() - swept >= self.SWEEP_SECONDS
            for tenant, (probe, written) in list(self.pending.items())[: None if sweep else 1]:
                if await self.answers(tenant, probe, expect):
                    self.live.append(time.perf_counter() - written)
                    del self.pending[tenant]
            if sweep:
                swept = time.perf_counter()
            await asyncio.sleep(self.HEAD_SECONDS)
        return self.live


def changes(
    kind: str, tenants: list[str], base: TenantSnapshot, round_: int, pairs: list[tuple[str, str]]
) -> list[tuple[str, bytes, str]]:
    """(tenant, new snapshot, probe) per changing tenant; the probe is answered once the change is live."""
    out = []
    for i, tenant in enumerate(tenants):
        products = list(base.products)
        k = next(j for j, p in enumerate(products) if p.slug == "paspoort")
        if kind == "ivr":
            code, probe = f"9{round_}{i:02d}", f"9{round_}{i:02d}"
            products[k] = replace(products[k], ivr_codes=(code,))
        elif kind in ("known", "replace"):
            probe = " ".join(pairs[(i + round_ * CHANGERS) % len(pairs)])
            kept = products[k].synonyms if kind == "known" else ()
            products[k] = replace(products[k], synonyms=(*kept, probe))
        else:  # letters only and far apart: no probe is a typo of another (the old recognizer would answer it)
            probe = "".join(random.Random(f"{round_}-{i}").choices(string.ascii_lowercase, k=9))
            products[k] = replace(products[k], synonyms=(*products[k].synonyms, probe))
        snapshot = replace(base, tenant=tenant, version=base.version + 1 + round_, products=products)
        out.append((tenant, snapshot.to_json(), probe))
    return out


async def bench(gap: float, quiet: float, rate: float, kinds: list[str], modes: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp, NatsServer(Path(tmp) / "nats") as nats_server:
        _, work = await load_catalogues(nats_server.url)
        tenants = sorted({t for t, _ in work})
        changers = random.Random(3).sample(tenants, CHANGERS)
        work = [(t, q) for t, q in work if t not in changers]
        settings = Settings(data_dir=Path(tmp) / "var", nats_url=nats_server.url)
        port = free_port()
        env = {
            **os.environ,
            "KCC_NATS_URL": nats_server.url,
            "KCC_DATA_DIR": str(settings.data_dir),
            "KCC_ROUTING_PORT": str(port),
        }
        proc = subprocess.Popen([sys.executable, "-m", "services.launcher", "routing"], env=env)  # noqa: ASYNC220
        bus = await EventBus.connect(Settings(nats_url=nats_server.url), "bench-changes")
        kv = await snapshots.bucket(bus)
        base = TenantSnapshot.from_json((await kv.get(changers[0])).value or b"")
        vocab = ProductRecognizer(default_catalogue())._postings  # before the load: it takes a second
        pairs = [(a, b) for a, b in itertools.combinations(KNOWN, 2) if stem(a) in vocab and stem(b) in vocab]
        # serialised before the load starts: twenty snapshots take the bench's own loop ~1 s,
        # which its callers would count as routing's latency
        plan = [(kind, mode) for kind in kinds for mode in modes]
        rounds = [(kind, mode, changes(kind, changers, base, r, pairs)) for r, (kind, mode) in enumerate(plan)]
        try:
            wait_healthy(f"127.0.0.1:{port}", 300, process=proc)
            md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.SERVICE))
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as ch:
                stub = routing_pb2_grpc.RoutingServiceStub(ch)
                load = Load(stub, md, work)
                if rate:
                    callers = [asyncio.create_task(load.at_rate(rate))]
                else:
                    callers = [asyncio.create_task(load.caller(n)) for n in range(CALLERS)]
                await asyncio.sleep(quiet)  # warm-up
                for kind, mode, batch in rounds:
                    began = time.perf_counter()
                    await asyncio.sleep(quiet)
                    baseline = load.between(began, time.perf_counter())
                    watch = Liveness(stub, md)
                    await watch.not_yet(batch, "paspoort")
                    began = time.perf_counter()
                    tenant, snapshot, probe = batch[0]
                    watch.written(tenant, probe)
                    await kv.put(tenant, snapshot)
                    poller = asyncio.create_task(watch.until_all_live("paspoort"))
                    for tenant, snapshot, probe in batch[1:]:
                        if mode == "staggered":
                            await asyncio.sleep(gap)
                        watch.written(tenant, probe)
                        await kv.put(tenant, snapshot)
                    watch.writing = False
                    lives = await poller
                    took = time.perf_counter() - began
                    during = load.between(began, time.perf_counter())
                    print(
                        f"{kind:5} {mode:9}: live median {statistics.median(lives) * 1000:6.0f} ms, "
                        f"max {max(lives) * 1000:6.0f} ms; RouteContact p50/p99 {pct(during, 50):5.1f}/"
                        f"{pct(during, 99):5.1f} ms during ({len(during)} calls) vs {pct(baseline, 50):5.1f}/"
                        f"{pct(baseline, 99):5.1f} ms quiet before ({len(baseline)} calls); "
                        f"{watch.polls / took:.0f} polls/s",
                        flush=True,
                    )
                load.running = False
                await asyncio.gather(*callers)
        finally:
            await bus.close()
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--gap", type=float, default=1.0, help="seconds between staggered changes")
    parser.add_argument("--quiet", type=float, default=5.0, help="seconds of quiet load before each round")
    parser.add_argument(
        "--rate", type=float, default=0.0, help="RouteContact calls a second, open loop (default: 16 callers flat out)"
    )
    parser.add_argument("--kinds", default="ivr,known,new,replace", help="which changes, comma-separated")
    parser.add_argument("--modes", default="staggered,burst", help="staggered, burst or both")
    args = parser.parse_args()
    asyncio.run(bench(args.gap, args.quiet, args.rate, args.kinds.split(","), args.modes.split(",")))
