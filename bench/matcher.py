"""One matcher pass and one wallboard read during a peak, in memory.

The matcher runs after every routed contact, so its pass must not grow with the day's
traffic. The peak here: 2,000 contacts waiting across 20 gemeenten and 3 queues, 50,000
finished contacts of the last 24 hours still in memory, and 100 idle agents who cannot
take any of them (another gemeente's pool, or another department), the worst case for
a matcher that scans. Run: .venv/bin/python bench/matcher.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.routing.matching import AgentState, ContactState, Router  # noqa: E402

QUEUES = ("afval", "wmo", "burgerzaken")


def peak(agents_home: bool) -> tuple[Router, float]:
    router, now = Router(), time.time()
    for n in range(2000):
        queue = QUEUES[n % 3]
        router.enqueue(
            ContactState(
                name=f"w{n}",
                tenant=f"gm{n % 20:04d}",
                queue=queue,
                department=queue,
                channel="PHONE",
                priority=5,
                enqueued_at=now - n * 0.01,
                overflow_after=600,
                answer_target_seconds=600,
            )
        )
    for n in range(50_000):
        router.enqueue(
            ContactState(
                name=f"f{n}",
                tenant="gm0001",
                queue="afval",
                department="afval",
                channel="PHONE",
                priority=5,
                enqueued_at=now - 3600,
                overflow_after=600,
                answer_target_seconds=600,
                state="COMPLETED",
            )
        )
    for n in range(100):
        agent = AgentState(
            name=f"agents/a{n}",
            tenants=frozenset({"gm0001"} if agents_home else {"gm0202"}),
            departments=frozenset({"jeugd"}) if agents_home else frozenset(),
        )
        router.upsert_agent(agent)
        agent.state, agent.connected = "AVAILABLE", True
    return router, now


def per_call_ms(call, repeat: int = 20) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    for _ in range(repeat):
        call()
    return (time.perf_counter() - began) / repeat * 1000


if __name__ == "__main__":
    for label, home in (("idle agents of another gemeente", False), ("idle home agents of another department", True)):
        router, now = peak(home)
        match_ms = per_call_ms(lambda: router.match(now))  # noqa: B023
        figures_ms = per_call_ms(lambda: router.queue_figures("gm0001", now))  # noqa: B023
        print(f"{label}: matcher pass {match_ms:.2f} ms, queue figures of one gemeente {figures_ms:.2f} ms")
