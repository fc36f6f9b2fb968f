"""The matcher's rules on plain objects: order, idleness, rejection, time-outs, overflow, abandonment."""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from zoneinfo import ZoneInfo

from services.routing.days import LocalDays
from services.routing.matching import OFFER_TIMEOUT_SECONDS, AgentState, ContactState, Offer, Router


def contact(
    name: str, at: float, priority: int = 5, tenant: str = "gm0268", queue: str = "burgerzaken"
) -> ContactState:
    return ContactState(
        name=name,
        tenant=tenant,
        queue=queue,
        department=queue,
        channel="PHONE",
        priority=priority,
        enqueued_at=at,
        overflow_after=20.0,
        answer_target_seconds=20,
    )


def agent(
    router: Router, name: str, idle_since: float, tenants: set[str], overflow: set[str] | None = None
) -> AgentState:
    a = AgentState(name=name, tenants=frozenset(tenants), overflow_tenants=frozenset(overflow or set()))
    router.upsert_agent(a)
    a.connected, a.state, a.idle_since = True, "AVAILABLE", idle_since
    return a


def decide(router: Router, now: float) -> list[Offer]:
    """What the leader does: decide, then apply each decision (as the stream would)."""
    offers = router.match(now)
    for offer in offers:
        assert router.offer(offer.contact, offer.agent, now)
    return offers


def expire(router: Router, now: float) -> list[Offer]:
    expired = router.expired_offers(now)
    for offer in expired:
        assert router.expire_offer(offer.contact, offer.agent, now)
    return expired


def test_higher_priority_first_then_longest_waiting() -> None:
    router = Router()
    router.enqueue(contact("c-old", at=1.0))
    router.enqueue(contact("c-new", at=2.0))
    router.enqueue(contact("c-urgent", at=3.0, priority=7))
    agent(router, "a1", 0.0, {"gm0268"})
    assert [o.contact for o in decide(router, now=4.0)] == ["c-urgent"]
    agent(router, "a2", 0.0, {"gm0268"})
    assert [o.contact for o in decide(router, now=4.0)] == ["c-old"]


def test_longest_idle_agent_gets_the_offer() -> None:
    router = Router()
    agent(router, "recent", idle_since=100.0, tenants={"gm0268"})
    agent(router, "longest", idle_since=10.0, tenants={"gm0268"})
    router.enqueue(contact("c1", at=101.0))
    (offer,) = decide(router, now=102.0)
    assert offer.agent == "longest"


def test_rejected_offer_goes_to_the_next_agent() -> None:
    router = Router()
    agent(router, "a1", 1.0, {"gm0268"})
    agent(router, "a2", 2.0, {"gm0268"})
    router.enqueue(contact("c1", at=3.0))
    (first,) = decide(router, now=3.0)
    router.reject(first.agent, "c1")
    (second,) = decide(router, now=4.0)
    assert (first.agent, second.agent) == ("a1", "a2")


def test_offer_times_out_returns_contact_and_makes_agent_not_ready() -> None:
    router = Router()
    a1 = agent(router, "a1", 1.0, {"gm0268"})
    router.enqueue(contact("c1", at=2.0))
    decide(router, now=2.0)
    assert expire(router, now=2.0 + OFFER_TIMEOUT_SECONDS - 0.1) == []
    (expired,) = expire(router, now=2.0 + OFFER_TIMEOUT_SECONDS)
    assert expired.agent == "a1" and router.contacts["c1"].state == "QUEUED" and a1.state == "BREAK"


def test_overflow_to_other_pool_only_after_threshold_and_counted() -> None:
    router = Router()
    agent(router, "arnhem-agent", 1.0, {"gm0202"}, overflow={"gm0268"})
    router.enqueue(contact("c1", at=10.0))
    assert decide(router, now=10.0 + 19.9) == []
    (offer,) = decide(router, now=10.0 + 20.0)
    assert offer.overflow and router.contacts["c1"].overflowed
    assert router.queue_figures("gm0268", now=31.0)[0]["overflowed"] == 1


def test_agent_without_overflow_right_never_gets_other_tenant() -> None:
    router = Router()
    agent(router, "arnhem-only", 1.0, {"gm0202"})
    router.enqueue(contact("c1", at=0.0))
    assert decide(router, now=1000.0) == []


def test_abandonment_short_abandons_apart_and_service_level() -> None:
    router = Router()
    router.enqueue(contact("short", at=0.0))
    router.enqueue(contact("long", at=0.0))
    router.enqueue(contact("answered", at=0.0))
    router.abandon("short", now=3.0)
    router.abandon("long", now=60.0)
    a = agent(router, "a1", 0.0, {"gm0268"})
    decide(router, now=10.0)
    router.accept(a.name, "answered", now=10.0)
    fig = router.queue_figures("gm0268", now=61.0)[0]
    assert (fig["short_abandoned"], fig["abandoned"], fig["answered"]) == (1, 1, 1)
    assert fig["service_level"] == 0.5  # 1 within target of (1 answered + 1 long abandon)
    assert fig["abandonment_rate"] == 0.5
    assert fig["average_speed_of_answer_seconds"] == 10.0


def test_enqueue_is_idempotent() -> None:
    router = Router()
    assert router.enqueue(contact("c1", at=0.0))
    assert not router.enqueue(contact("c1", at=0.0))
    assert router.queue_figures("gm0268", now=1.0)[0]["offered"] == 1


def test_waiting_index_matches_the_contacts_through_any_sequence_of_steps() -> None:
    """Matching reads waiting contacts from an index kept per (tenant, queue); whatever happens, it
    must hold exactly the QUEUED contacts, and no offer may go to a busy or already-offered agent."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    steps = st.lists(
        st.tuples(
            st.sampled_from(["enqueue", "match", "accept", "reject", "expire", "abandon", "complete", "break"]),
            st.integers(0, 5),
            st.integers(0, 2),
        ),
        max_size=60,
    )

    @settings(max_examples=200, deadline=None)
    @given(steps)
    def run(sequence: list[tuple[str, int, int]]) -> None:
        router = Router()
        agents = [agent(router, f"a{i}", float(i), {"gm0268"} if i else {"gm0202"}, {"gm0268"}) for i in range(3)]
        now = 100.0
        for step, c, a in sequence:
            now += 7.0
            name, ag = f"c{c}", agents[a]
            known = router.contacts.get(name)
            if step == "enqueue":
                router.enqueue(
                    contact(name, at=now, tenant=("gm0268", "gm0202")[c % 2], queue=("afval", "wmo")[c % 3 % 2])
                )
            elif step == "match":
                for offer in decide(router, now):
                    assert router.agents[offer.agent].offer == offer.contact
            elif step == "expire":
                expire(router, now)
            elif step == "break":
                router.set_state(ag.name, "BREAK", now)  # a break revokes the agent's offer
                router.set_state(ag.name, "AVAILABLE", now + 1)
            elif known is None:
                continue
            elif step == "accept" and known.state == "OFFERED":
                router.accept(known.agent, name, now)
            elif step == "reject" and known.state == "OFFERED":
                router.reject(known.agent, name)
            elif step == "abandon":
                router.abandon(name, now)
            elif step == "complete" and known.state == "CONNECTED":
                router.complete(known.agent, name, now)
            indexed = {n for waiting in router.queued.values() for n in waiting}
            assert indexed == {n for n, x in router.contacts.items() if x.state == "QUEUED"}
            assert all(key == (x.tenant, x.queue) for key, w in router.queued.items() for x in w.values())

    run()


def test_matching_decides_without_changing_anything() -> None:
    router = Router()
    a1 = agent(router, "a1", 1.0, {"gm0268"})
    router.enqueue(contact("c1", at=2.0))
    assert [o.contact for o in router.match(now=3.0)] == ["c1"]
    assert router.contacts["c1"].state == "QUEUED" and a1.offer == ""
    assert router.match(now=3.0) == router.match(now=3.0)


def test_a_decision_that_lost_its_race_changes_nothing() -> None:
    """Two decisions for one agent (say from two leaders) in the stream: only the first applies."""
    router = Router()
    agent(router, "a1", 1.0, {"gm0268"})
    router.enqueue(contact("c1", at=2.0))
    router.enqueue(contact("c2", at=2.5))
    assert router.offer("c1", "a1", 3.0)
    assert not router.offer("c2", "a1", 3.0)  # the agent holds an offer
    assert not router.offer("c1", "a1", 3.0)  # the contact is no longer waiting
    router.abandon("c1", 4.0)
    assert not router.accept("a1", "c1", 4.5)  # withdrawn before the accept reached the stream
    assert not router.expire_offer("c1", "a1", 20.0)
    assert router.contacts["c2"].state == "QUEUED" and router.agents["a1"].state == "AVAILABLE"


def test_a_newer_desktop_session_replaces_the_older_one() -> None:
    router = Router()
    a = agent(router, "a1", 1.0, {"gm0268"})
    router.connect("a1", "s1", 2.0)
    router.enqueue(contact("c1", at=2.0))
    decide(router, now=3.0)
    router.connect("a1", "s2", 4.0)  # the desktop came back through another replica
    assert router.disconnect("a1", "s1", 5.0) == "" and a.connected and a.offer == "c1"
    assert router.disconnect("a1", "s2", 6.0) == "c1" and not a.connected
    assert router.contacts["c1"].state == "QUEUED"


def test_finished_contacts_are_forgotten_after_the_window_and_waiting_ones_kept() -> None:
    router = Router()
    a1 = agent(router, "a1", 0.0, {"gm0268"})
    for i, at in enumerate((1.0, 2.0, 3.0, 50.0)):
        router.enqueue(contact(f"c{i}", at=at))
    decide(router, now=4.0)
    router.accept(a1.name, "c0", 4.0)
    router.complete(a1.name, "c0", 5.0)
    router.abandon("c1", 6.0)
    router.forget_finished(before=10.0)
    assert list(router.contacts) == ["c2", "c3"]  # c2 still waits; c3 is recent
    assert router.queue_figures("gm0268", now=60.0)[0]["offered"] == 4


def amsterdam(day: int, hour: int, minute: int = 0) -> float:
    return datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo("Europe/Amsterdam")).timestamp()


def answer(router: Router, name: str, agent_name: str, now: float) -> None:
    assert router.offer(name, agent_name, now) and router.accept(agent_name, name, now)
    assert router.complete(agent_name, name, now)


def test_figures_count_the_contacts_routed_today_in_the_tenants_time_zone() -> None:
    router = Router()  # the default zone: Europe/Amsterdam
    agent(router, "a1", 0.0, {"gm0268"})
    router.enqueue(contact("late", at=amsterdam(2, 23, 58)))  # yesterday evening
    router.enqueue(contact("early", at=amsterdam(3, 0, 30)))  # today, though still 2 December in UTC
    answer(router, "late", "a1", amsterdam(3, 0, 31))  # counts on the day it was routed, not today
    answer(router, "early", "a1", amsterdam(3, 0, 40))
    router.enqueue(contact("gone", at=amsterdam(3, 8, 0)))
    router.abandon("gone", amsterdam(3, 8, 1))
    (today,) = router.queue_figures("gm0268", now=amsterdam(3, 9, 0))
    assert (today["offered"], today["answered"], today["answered_within_target"], today["abandoned"]) == (2, 1, 0, 1)
    assert today["average_speed_of_answer_seconds"] == 600.0
    (tomorrow,) = router.queue_figures("gm0268", now=amsterdam(4, 9, 0))
    assert (tomorrow["offered"], tomorrow["answered"], tomorrow["abandoned"], tomorrow["target_seconds"]) == (
        0,
        0,
        0,
        20,
    )
    # the same instant is still 2 December where the tenant's calendar says America/Kralendijk
    caribbean = Router(day_of=LocalDays(lambda _tenant: "America/Kralendijk").day_of)
    caribbean.enqueue(contact("early", at=amsterdam(3, 0, 30)))
    assert caribbean.queue_figures("gm0268", now=amsterdam(3, 9, 0))[0]["offered"] == 0


def test_figures_are_running_sums_that_do_not_grow_with_the_day() -> None:
    router = Router()
    agent(router, "a1", 0.0, {"gm0268"})
    start = amsterdam(3, 8)

    def size() -> int:
        fig = router.figures[("gm0268", "burgerzaken")]
        return sum(len(v) if isinstance(v, list | dict) else 1 for v in (getattr(fig, f.name) for f in fields(fig)))

    sizes = []
    for i in range(1000):
        router.enqueue(contact(f"c{i}", at=start + i))
        answer(router, f"c{i}", "a1", start + i + i % 40)
        if i in (9, 999):
            sizes.append(size())
    assert sizes[0] == sizes[1], "the figures hold something per contact"
    (figures,) = router.queue_figures("gm0268", now=start + 2000)
    assert figures["answered"] == 1000 and figures["average_speed_of_answer_seconds"] == 19.5
    assert figures["answered_within_target"] == 21 * 25
