"""Queue figures across the tenant's midnight, the clock driven by the events' own times.

Three days of one queue in Nijmegen (Europe/Amsterdam, UTC+1 in December) go through
routing's one `apply`. At each moment checked, a replica that has been running all along and
one that starts at that moment show the same figures, and they are today's in the tenant's
zone only. The starting replica replays what routing/app.py replays: the events the stream
stored in the last REPLAY_WINDOW (the stream stores an event within milliseconds of its
`occurred_at`, so the test selects by that).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from services.common import events
from services.routing.matching import AgentState
from services.routing.state import REPLAY_WINDOW, RoutingState, seconds_of, stamp

ZONE = ZoneInfo("Europe/Amsterdam")
TENANT = "gm0268"


def local(day: int, hour: int, minute: int = 0, second: int = 0) -> float:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=ZONE).timestamp()


class Stream:
    """The events of the three days, in the order the stream holds them."""

    def __init__(self) -> None:
        self.events: list[events_pb2.Envelope] = []

    def _add(self, tenant: str, at: float, **payload: object) -> None:
        env = events.envelope(tenant, **payload)
        env.occurred_at.CopyFrom(stamp(at))
        self.events.append(env)

    def routed(self, contact: str, at: float) -> None:
        routed = events_pb2.ContactRouted(
            contact=f"tenants/{TENANT}/contacts/{contact}",
            tenant=TENANT,
            channel=common_pb2.CHANNEL_PHONE,
            department="burgerzaken",
            queue="burgerzaken",
            priority=5,
            enqueue_time=stamp(at),
            service_level_target=common_pb2.ServiceLevelTarget(seconds=20, percent=80),
        )
        self._add(TENANT, at, contact_routed=routed)

    def changed(self, contact: str, change: str, at: float, agent: str = "") -> None:
        changed = events_pb2.ContactChanged(
            contact=f"tenants/{TENANT}/contacts/{contact}", change=change, agent=agent, queue="burgerzaken"
        )
        self._add(TENANT, at, contact_changed=changed)

    def answered(self, contact: str, agent: str, offered: float, accepted: float, completed: float) -> None:
        for change, at in (("offered", offered), ("accepted", accepted), ("completed", completed)):
            self.changed(contact, change, at, agent)

    def desktop(self, agent: str, change: str, session: str, at: float) -> None:
        self._add("platform", at, agent_changed=events_pb2.AgentChanged(agent=agent, change=change, session=session))


def three_days() -> Stream:
    s = Stream()
    # 1 December: the day before yesterday
    s.desktop("agents/anna", "connected", "s1", local(1, 9, 55))
    s.routed("c0", local(1, 10))
    s.answered("c0", "agents/anna", local(1, 10, 0, 5), local(1, 10, 0, 8), local(1, 10, 5))
    s.desktop("agents/anna", "disconnected", "s1", local(1, 18))
    # 2 December: yesterday
    s.desktop("agents/anna", "connected", "s2", local(2, 7, 55))
    s.routed("c1", local(2, 8))
    s.answered("c1", "agents/anna", local(2, 8, 0, 5), local(2, 8, 0, 10), local(2, 8, 10))
    s.desktop("agents/bram", "connected", "s3", local(2, 22))  # the night shift
    s.routed("c2", local(2, 22, 5))
    s.changed("c2", "abandoned", local(2, 22, 5, 50))
    s.desktop("agents/anna", "disconnected", "s2", local(2, 23))
    s.routed("c3", local(2, 23, 50))  # answered after midnight: it counts on the day it was routed
    s.answered("c3", "agents/bram", local(3, 0, 5), local(3, 0, 5, 3), local(3, 0, 20))
    # 3 December: today
    s.routed("c4", local(3, 0, 30))  # still 2 December in UTC
    s.answered("c4", "agents/bram", local(3, 0, 30, 5), local(3, 0, 30, 7), local(3, 0, 40))
    s.desktop("agents/bram", "disconnected", "s3", local(3, 8))
    s.desktop("agents/anna", "connected", "s4", local(3, 8, 55))
    s.routed("c5", local(3, 9))
    s.changed("c5", "abandoned", local(3, 9, 0, 2))  # a short abandon
    s.routed("c6", local(3, 9, 10))
    s.answered("c6", "agents/anna", local(3, 9, 10, 30), local(3, 9, 10, 40), local(3, 9, 20))
    s.routed("c7", local(3, 9, 30))  # still waiting
    return s


def replica() -> RoutingState:
    state = RoutingState()
    for name in ("agents/anna", "agents/bram"):  # definitions come from the agents bucket, not the stream
        state.router.upsert_agent(AgentState(name=name, tenants=frozenset({TENANT})))
    return state


def started_at(stream: Stream, now: float) -> RoutingState:
    """A replica that starts at `now`: it replays what the stream stored in the last REPLAY_WINDOW."""
    state = replica()
    for env in stream.events:
        if now - REPLAY_WINDOW.total_seconds() <= seconds_of(env.occurred_at) <= now:
            state.apply(env)
    return state


def figures(state: RoutingState, now: float) -> dict[str, float | int | str]:
    (queue,) = state.router.queue_figures(TENANT, now)
    return queue


COUNTS = ("offered", "answered", "answered_within_target", "abandoned", "short_abandoned", "waiting")
# the moments read, in the tenant's time, and the counts of its day then (in the order of COUNTS)
TODAY = [
    (local(2, 23, 59), (3, 1, 1, 1, 0, 1)),  # yesterday, as it ends: c3 still waits
    (local(3, 0, 1), (0, 0, 0, 0, 0, 1)),  # midnight has passed: nothing of today, though c3 waits on
    (local(3, 0, 45), (1, 1, 1, 0, 0, 0)),  # c4 only: c3, answered at 00:05, counts on the day it was routed
    (local(3, 10), (4, 2, 1, 0, 1, 1)),
]


def test_a_replica_that_starts_shows_the_figures_of_one_that_kept_running_and_only_today() -> None:
    stream = three_days()
    kept = replica()  # running since before the first event, reading its figures as the clock goes on
    pending = list(stream.events)
    for now, counts in TODAY:
        while pending and seconds_of(pending[0].occurred_at) <= now:
            kept.apply(pending.pop(0))
        running = figures(kept, now)
        moment = datetime.fromtimestamp(now, ZONE).strftime("%d December %H:%M")
        assert tuple(running[c] for c in COUNTS) == counts, moment
        assert figures(started_at(stream, now), now) == running, f"a replica started at {moment}"
    assert running["average_speed_of_answer_seconds"] == (7 + 40) / 2
