"""Live queue figures as a wallboard stream (WatchQueueStats) and as OpenTelemetry gauges.

Everything runs against the real in-process tenancy and routing services on a real
nats-server. The short-abandon rule is the one in services/routing/matching.py: a
withdrawal within SHORT_ABANDON_SECONDS (5 s) of routing is a short abandon, counted
apart and left out of the service level and the abandonment rate.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC

import grpc
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader, NumberDataPoint

from kcc.common.v1 import common_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from services.common import auth, client, telemetry
from services.common.app import ServiceApp
from services.common.config import Settings
from services.routing import matching
from services.routing.app import RoutingApp
from services.tenancy.app import TenancyApp
from tests.builders import UPL, Metadata, eventually, make_tenant, routable

PRODUCTS = [
    ("paspoort", "paspoort", "burgerzaken"),
    ("afvalstoffenheffing", "afvalstoffenheffing", "belastingen"),
]
NIJMEGEN, ARNHEM = "gm0268", "gm0202"
# Personal data that travels with contacts and agents and must never become a metric label.
CITIZEN_KEY = "citizen-key-of-j-jansen"
AGENT_NAME = "Fatima El Amrani"
LONG_ABANDON_AFTER = 0.5  # the short-abandon threshold while a test needs a long abandon quickly


@pytest.fixture
def metric_reader(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemoryMetricReader]:
    """Gives routing a meter whose gauges a test can read.

    telemetry.setup() builds the process-wide MeterProvider once (conftest calls it) with no
    reader a test could reach, so routing's `telemetry.meter` is pointed at a provider of our own.
    """
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    monkeypatch.setattr(telemetry, "meter", provider.get_meter)
    yield reader
    provider.shutdown()


@pytest.fixture
async def routing(
    settings: Settings, tenancy: TenancyApp, metric_reader: InMemoryMetricReader
) -> AsyncIterator[RoutingApp]:
    """conftest's routing service, started after `metric_reader` so its gauges land there."""
    app = RoutingApp(settings)
    await app.start(0)
    yield app
    await app.stop()


@pytest.fixture
async def stub(
    tenancy: TenancyApp,
    routing: RoutingApp,
    channel_to: Callable[[ServiceApp], grpc.aio.Channel],
    admin: Metadata,
) -> routing_pb2_grpc.RoutingServiceStub:
    """Nijmegen and Arnhem onboarded and routable, and one Nijmegen agent (not yet connected)."""
    await make_tenant(channel_to(tenancy), admin, NIJMEGEN, "Nijmegen", PRODUCTS)
    await make_tenant(channel_to(tenancy), admin, ARNHEM, "Arnhem", PRODUCTS)
    await routable(channel_to(routing), admin, NIJMEGEN)
    await routable(channel_to(routing), admin, ARNHEM)
    routing_stub = routing_pb2_grpc.RoutingServiceStub(channel_to(routing))
    await routing_stub.CreateAgent(
        rt.CreateAgentRequest(
            agent_id="fatima", agent=rt.Agent(display_name=AGENT_NAME, tenants=[f"tenants/{NIJMEGEN}"])
        ),
        metadata=admin,
    )
    return routing_stub


def integration(settings: Settings, tenant: str) -> Metadata:
    return client.metadata(
        auth.issue_token(settings.auth_secret, f"{tenant}-int", auth.Role.TENANT_INTEGRATION, [tenant])
    )


def fatima(settings: Settings) -> Metadata:
    return client.metadata(auth.issue_token(settings.auth_secret, "fatima", auth.Role.AGENT, [NIJMEGEN]))


async def route(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, tenant: str, product: str = "paspoort"
) -> rt.Contact:
    reply = await stub.RouteContact(
        rt.RouteContactRequest(
            tenant=f"tenants/{tenant}",
            channel=common_pb2.CHANNEL_PHONE,
            product_uri=UPL + product,
            citizen_key=CITIZEN_KEY,
        ),
        metadata=integration(settings, tenant),
    )
    return reply.contact


async def withdraw(stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, contact: rt.Contact) -> None:
    tenant = contact.tenant.removeprefix("tenants/")
    await stub.WithdrawContact(rt.WithdrawContactRequest(name=contact.name), metadata=integration(settings, tenant))


def queue_of(frame: rt.WatchQueueStatsResponse, queue: str) -> rt.QueueStats | None:
    found = [q for q in frame.queues if q.queue == queue]
    assert len(found) <= 1, f"queue {queue} twice in one frame"
    return found[0] if found else None


class Wallboard:
    """A WatchQueueStats stream read in the background; every frame is kept, in order."""

    def __init__(self, call: grpc.aio.UnaryStreamCall) -> None:  # type: ignore[type-arg]
        self.call = call
        self.frames: list[rt.WatchQueueStatsResponse] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for frame in self.call:
            self.frames.append(frame)

    def _alive(self) -> None:
        if self.task.done():
            self.task.result()  # raises what ended the stream
            raise AssertionError("the wallboard stream ended")

    async def sees(
        self, check: Callable[[rt.WatchQueueStatsResponse], bool], after: int = 0
    ) -> rt.WatchQueueStatsResponse:
        """The first frame from index `after` on for which `check` holds, waiting for it if need be."""

        def found() -> bool:
            self._alive()
            return any(check(f) for f in self.frames[after:])

        await eventually(found)
        return next(f for f in self.frames[after:] if check(f))

    async def sees_queue(self, queue: str, check: Callable[[rt.QueueStats], bool], after: int = 0) -> rt.QueueStats:
        def on_queue(frame: rt.WatchQueueStatsResponse) -> bool:
            q = queue_of(frame, queue)
            return q is not None and check(q)

        stats = queue_of(await self.sees(on_queue, after), queue)
        assert stats is not None
        return stats

    async def close(self) -> None:
        self.call.cancel()
        with contextlib.suppress(asyncio.CancelledError, grpc.aio.AioRpcError):
            await self.task


async def test_wallboard_streams_a_new_frame_on_every_change_and_only_then(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, admin: Metadata, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Arnhem has a queue of its own before the wallboards open, so "only Nijmegen's queues" means something.
    await route(stub, settings, ARNHEM)
    arnhem = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{ARNHEM}"), metadata=admin)
    assert [(q.queue, q.waiting) for q in arnhem.queues] == [("burgerzaken", 1)]

    md = integration(settings, NIJMEGEN)
    board = Wallboard(
        stub.WatchQueueStats(rt.WatchQueueStatsRequest(tenant=f"tenants/{NIJMEGEN}", interval_ms=100), metadata=md)
    )
    try:
        first = await board.sees(lambda f: True)
        assert list(first.queues) == []  # Nijmegen has had no contact yet

        # A call comes in while no agent is connected: it waits.
        mark = len(board.frames)
        call_1 = await route(stub, settings, NIJMEGEN)
        queued = await board.sees_queue("burgerzaken", lambda q: q.waiting == 1, after=mark)
        assert (queued.offered, queued.answered, queued.abandoned, queued.short_abandoned) == (1, 0, 0, 0)
        assert (queued.agents_available, queued.agents_eligible) == (0, 1)
        assert (queued.target.seconds, queued.target.percent) == (20, 80)
        assert queued.tenant == f"tenants/{NIJMEGEN}"

        # Fatima connects, is offered the call and accepts it.
        desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=fatima(settings))
        try:
            assert (await desktop.read()).agent.state == rt.Agent.STATE_AVAILABLE
            offer = await asyncio.wait_for(desktop.read(), 10)
            assert offer.offer.contact.name == call_1.name
            mark = len(board.frames)
            await stub.AcceptOffer(
                rt.AcceptOfferRequest(agent="agents/fatima", contact=call_1.name), metadata=fatima(settings)
            )
            accepted_by = time.time()
            answered = await board.sees_queue("burgerzaken", lambda q: q.answered == 1, after=mark)
            assert (answered.waiting, answered.longest_wait_seconds) == (0, 0.0)
            assert answered.answered_within_target == 1 and answered.service_level == 1.0
            waited = accepted_by - call_1.enqueue_time.ToDatetime(UTC).timestamp()
            # ASA is the one answered call's wait: from routing to the accept, which had happened by `accepted_by`.
            assert 0.0 < answered.average_speed_of_answer_seconds <= waited
            assert answered.agents_available == 0  # Fatima is busy with the call

            # A second caller hangs up at once: a short abandon, left out of the rates.
            mark = len(board.frames)
            call_2 = await route(stub, settings, NIJMEGEN)
            await board.sees_queue("burgerzaken", lambda q: q.waiting == 1, after=mark)
            mark = len(board.frames)
            await withdraw(stub, settings, call_2)
            short = await board.sees_queue("burgerzaken", lambda q: q.short_abandoned == 1, after=mark)
            assert (short.waiting, short.abandoned, short.answered) == (0, 0, 1)
            assert short.abandonment_rate == 0.0 and short.service_level == 1.0

            # A third caller waits past the short-abandon threshold (as the wallboard shows) and then
            # hangs up: a real abandon. The threshold is lowered so the test need not wait 5 s.
            assert matching.SHORT_ABANDON_SECONDS == 5.0
            monkeypatch.setattr(matching, "SHORT_ABANDON_SECONDS", LONG_ABANDON_AFTER)
            mark = len(board.frames)
            call_3 = await route(stub, settings, NIJMEGEN)
            await board.sees_queue(
                "burgerzaken", lambda q: q.waiting == 1 and q.longest_wait_seconds >= LONG_ABANDON_AFTER, after=mark
            )
            mark = len(board.frames)
            await withdraw(stub, settings, call_3)
            long = await board.sees_queue("burgerzaken", lambda q: q.abandoned == 1, after=mark)
            assert (long.waiting, long.short_abandoned, long.answered, long.offered) == (0, 1, 1, 3)
            assert long.abandonment_rate == 0.5  # 1 abandon of (1 answered + 1 abandon)
            assert long.service_level == 0.5  # 1 within target of the same 2

            # Nothing waits at Nijmegen now, so its figures stand still: no frame while Arnhem's
            # wallboard, whose caller keeps waiting, ticks three times at the same interval.
            stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{NIJMEGEN}"), metadata=md)
            await board.sees(lambda f: list(f.queues) == list(stats.queues))
            assert list(board.frames[-1].queues) == list(stats.queues)
            quiet_from = len(board.frames)
            ticks = Wallboard(
                stub.WatchQueueStats(
                    rt.WatchQueueStatsRequest(tenant=f"tenants/{ARNHEM}", interval_ms=100), metadata=admin
                )
            )
            try:
                await route(stub, settings, ARNHEM)  # a change at Arnhem: nothing for Nijmegen's wallboard
                await ticks.sees(lambda f: f.queues[0].waiting == 2)
                await eventually(lambda: len(ticks.frames) >= 4)
                assert all(f.queues[0].waiting for f in ticks.frames)  # someone waited at Arnhem all along
            finally:
                await ticks.close()
            assert len(board.frames) == quiet_from, "a frame without a change"
        finally:
            desktop.cancel()

        for earlier, later in zip(board.frames, board.frames[1:], strict=False):
            assert earlier != later, "two identical frames in a row"
        assert {q.tenant for f in board.frames for q in f.queues} == {f"tenants/{NIJMEGEN}"}
    finally:
        await board.close()


async def test_wallboard_without_tenant_shows_every_tenant_of_the_caller_and_no_other(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings, admin: Metadata
) -> None:
    """The proto: an empty tenant means all tenants the caller may see."""
    await route(stub, settings, ARNHEM)
    await route(stub, settings, NIJMEGEN, "afvalstoffenheffing")
    nijmegen = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{NIJMEGEN}"), metadata=admin)
    arnhem = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{ARNHEM}"), metadata=admin)
    assert nijmegen.queues and arnhem.queues
    for md, expected in (
        (integration(settings, NIJMEGEN), {f"tenants/{NIJMEGEN}"}),
        (integration(settings, ARNHEM), {f"tenants/{ARNHEM}"}),
        (admin, {f"tenants/{NIJMEGEN}", f"tenants/{ARNHEM}"}),
    ):
        board = Wallboard(stub.WatchQueueStats(rt.WatchQueueStatsRequest(interval_ms=100), metadata=md))
        try:
            frame = await board.sees(lambda f: bool(f.queues))
            assert {q.tenant for q in frame.queues} == expected
            assert {(q.tenant, q.queue) for q in frame.queues} == {
                (q.tenant, q.queue) for q in [*nijmegen.queues, *arnhem.queues] if q.tenant in expected
            }
        finally:
            await board.close()


async def test_wallboard_of_another_tenant_is_permission_denied(
    stub: routing_pb2_grpc.RoutingServiceStub, settings: Settings
) -> None:
    await route(stub, settings, ARNHEM)
    for tenant in (ARNHEM, "gm9999"):  # existing or not: the same answer
        call = stub.WatchQueueStats(
            rt.WatchQueueStatsRequest(tenant=f"tenants/{tenant}"), metadata=integration(settings, NIJMEGEN)
        )
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


@pytest.mark.parametrize(
    ("tenant", "interval_ms"),
    [
        (NIJMEGEN, 100),  # the id without the collection
        (f"tenant/{NIJMEGEN}", 100),
        ("tenants/", 100),
        ("tenants/GM0268", 100),
        ("tenants/gemeente-nijmegen", 100),
        (f"tenants/{NIJMEGEN}/queues/burgerzaken", 100),
        (f"tenants/{NIJMEGEN}\n", 100),  # `$` would let a trailing newline through; names use fullmatch
        (f"tenants/{NIJMEGEN}", -1),  # a negative interval
    ],
)
async def test_malformed_watch_request_is_invalid_argument(
    stub: routing_pb2_grpc.RoutingServiceStub, admin: Metadata, tenant: str, interval_ms: int
) -> None:
    call = stub.WatchQueueStats(rt.WatchQueueStatsRequest(tenant=tenant, interval_ms=interval_ms), metadata=admin)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await call.read()
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    finally:
        call.cancel()


# --- OpenTelemetry ------------------------------------------------------------------------------

GAUGES = {
    "kcc.queue.waiting": "waiting",
    "kcc.queue.longest_wait_seconds": "longest_wait_seconds",
    "kcc.queue.service_level": "service_level",
    "kcc.queue.average_speed_of_answer_seconds": "average_speed_of_answer_seconds",
    "kcc.queue.abandonment_rate": "abandonment_rate",
    "kcc.queue.agents_available": "agents_available",
    "kcc.queue.agents_eligible": "agents_eligible",
    "kcc.queue.abandoned": "abandoned",
    "kcc.queue.overflowed": "overflowed",
}


def gauge_points(reader: InMemoryMetricReader) -> dict[str, list[NumberDataPoint]]:
    """Collects now (the gauges' callbacks run in this thread) and returns routing's points by gauge."""
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list[NumberDataPoint]] = {}
    for resource in data.resource_metrics:
        for scope in resource.scope_metrics:
            if scope.scope.name != "kcc.routing":
                continue
            for metric in scope.metrics:
                points[metric.name] = [p for p in metric.data.data_points if isinstance(p, NumberDataPoint)]
    return points


async def all_stats(stub: routing_pb2_grpc.RoutingServiceStub, admin: Metadata) -> dict[tuple[str, str], rt.QueueStats]:
    """GetQueueStats of both tenants by (tenant id, queue), as the gauges label them."""
    result = {}
    for tenant in (NIJMEGEN, ARNHEM):
        stats = await stub.GetQueueStats(rt.GetQueueStatsRequest(tenant=f"tenants/{tenant}"), metadata=admin)
        result.update({(q.tenant.removeprefix("tenants/"), q.queue): q for q in stats.queues})
    return result


async def test_gauges_report_the_figures_of_get_queue_stats_by_tenant_and_queue(
    stub: routing_pb2_grpc.RoutingServiceStub,
    settings: Settings,
    admin: Metadata,
    metric_reader: InMemoryMetricReader,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Nijmegen burgerzaken: one call answered, one short and one real abandon.
    call_1 = await route(stub, settings, NIJMEGEN)
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/fatima"), metadata=fatima(settings))
    try:
        await desktop.read()
        offer = await asyncio.wait_for(desktop.read(), 10)
        assert offer.offer.contact.name == call_1.name
        await stub.AcceptOffer(
            rt.AcceptOfferRequest(agent="agents/fatima", contact=call_1.name), metadata=fatima(settings)
        )
        await withdraw(stub, settings, await route(stub, settings, NIJMEGEN))
        monkeypatch.setattr(matching, "SHORT_ABANDON_SECONDS", LONG_ABANDON_AFTER)
        call_3 = await route(stub, settings, NIJMEGEN)
        enqueued = call_3.enqueue_time.ToDatetime(UTC).timestamp()
        await eventually(lambda: time.time() - enqueued > LONG_ABANDON_AFTER)
        await withdraw(stub, settings, call_3)
        # Nijmegen belastingen and Arnhem burgerzaken: one caller each, waiting (Fatima is busy).
        await route(stub, settings, NIJMEGEN, "afvalstoffenheffing")
        await route(stub, settings, ARNHEM)

        before = await all_stats(stub, admin)
        points = gauge_points(metric_reader)
        after = await all_stats(stub, admin)
    finally:
        desktop.cancel()

    # The scenario gives figures worth comparing, and they held still while the gauges were read.
    nijmegen = before[(NIJMEGEN, "burgerzaken")]
    assert (nijmegen.answered, nijmegen.abandoned, nijmegen.short_abandoned) == (1, 1, 1)
    assert (nijmegen.service_level, nijmegen.abandonment_rate) == (0.5, 0.5)
    assert nijmegen.average_speed_of_answer_seconds > 0
    assert before[(NIJMEGEN, "belastingen")].waiting == 1 and before[(ARNHEM, "burgerzaken")].waiting == 1
    assert set(before) == set(after) == {(NIJMEGEN, "burgerzaken"), (NIJMEGEN, "belastingen"), (ARNHEM, "burgerzaken")}
    for key, stats in before.items():
        for field in GAUGES.values():
            if field != "longest_wait_seconds":
                assert getattr(after[key], field) == getattr(stats, field), (key, field)

    assert set(points) == set(GAUGES)
    for gauge, field in GAUGES.items():
        labels = [dict(p.attributes or {}) for p in points[gauge]]
        # Labelled by tenant and queue only: no agent, contact, citizen key or anything personal.
        assert all(set(label) == {"tenant", "queue"} for label in labels), (gauge, labels)
        for label in labels:
            assert not {CITIZEN_KEY, AGENT_NAME, "fatima", "agents/fatima"} & set(map(str, label.values()))
        values = {
            (str(p.attributes["tenant"]), str(p.attributes["queue"])): p.value for p in points[gauge] if p.attributes
        }
        assert len(values) == len(points[gauge]), f"{gauge}: one point per tenant and queue"
        assert set(values) == set(before), gauge
        for key, value in values.items():
            if field == "longest_wait_seconds":  # grows while a caller waits: between the two reads
                assert getattr(before[key], field) <= value <= getattr(after[key], field), (gauge, key)
            else:
                assert value == getattr(before[key], field), (gauge, key)
