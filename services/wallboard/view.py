"""What one viewer sees of the board: only the gemeenten it may see, KCC totals over those.

Gemeenten appear by name; agents only by id and state, and only to trafficers. Nothing here
carries personal data: the board holds figures, and the callbacks' contents are never read.
Webhook subscriptions appear by id and state with their delivery figures, never their URL.
"""

from __future__ import annotations

from typing import Any

from services.wallboard.feed import HISTORY_MINUTES, Board
from services.wallboard.login import Viewer, ViewerRole

TOTALS = (
    "waiting",
    "offered",
    "answered",
    "answered_within_target",
    "abandoned",
    "short_abandoned",
    "overflowed",
    "repeat_contacts",
)
# A subscription is marked when events are parked or the oldest undelivered one waits this long.
WEBHOOK_ALERT_SECONDS = 300


def _webhook(sub: dict[str, Any]) -> dict[str, Any]:
    late = float(sub.get("oldest_undelivered_seconds", 0.0)) >= WEBHOOK_ALERT_SECONDS
    return {**sub, "alert": int(sub.get("parked", 0)) > 0 or late}


def _queue(q: dict[str, Any], history: dict[int, int], now_minute: int) -> dict[str, Any]:
    target = q.get("target") or {}
    target_percent = int(target.get("percent", 0))
    # MessageToDict leaves zeros out: a missing service level is 0 %, not 100 %. With nothing answered
    # or abandoned yet there is no service level at all (None: "—" on the page).
    counted = int(q.get("answered", 0)) + int(q.get("abandoned", 0))
    service_level = float(q.get("service_level", 0.0)) if counted else None
    return {
        "queue": q.get("queue", ""),
        "waiting": int(q.get("waiting", 0)),
        "longest_wait_seconds": round(float(q.get("longest_wait_seconds", 0.0)), 1),
        "service_level": None if service_level is None else round(service_level * 100, 1),
        "target_percent": target_percent,
        "target_seconds": int(target.get("seconds", 0)),
        "below_target": service_level is not None and bool(target_percent) and service_level * 100 < target_percent,
        "average_speed_of_answer_seconds": round(float(q.get("average_speed_of_answer_seconds", 0.0)), 1),
        "abandonment_rate": round(float(q.get("abandonment_rate", 0.0)) * 100, 1),
        "agents_available": int(q.get("agents_available", 0)),
        "agents_eligible": int(q.get("agents_eligible", 0)),
        "overflowed": int(q.get("overflowed", 0)),
        "overflowed_in": int(q.get("overflowed_in", 0)),
        "repeat_contacts": int(q.get("repeat_contacts", 0)),
        "overflow_threshold_seconds": int(q.get("overflow_threshold_seconds", 0)),
        "sparkline": [history.get(m, 0) for m in range(now_minute - HISTORY_MINUTES + 1, now_minute + 1)],
    }


def render(board: Board, viewer: Viewer, now_minute: int) -> dict[str, Any]:
    """The page's whole state for this viewer, as sent on the event stream."""
    if viewer.role == ViewerRole.DEPARTMENT:
        return _department(board, viewer)
    tenants: dict[str, dict[str, Any]] = {}

    def tenant(tid: str) -> dict[str, Any]:
        if tid not in tenants:
            tenants[tid] = {
                "id": tid,
                "name": board.tenant_names.get(tid, tid),
                "queues": [],
                "callbacks": board.callbacks.get(tid, []),
                "accountability": board.accountability.get(tid, []),
                "referrals": {},
                "webhooks": [_webhook(s) for s in board.webhooks.get(tid, [])],
            }
        return tenants[tid]

    totals: dict[str, int | float] = dict.fromkeys((*TOTALS, "referrals"), 0)
    for q in board.queues:
        tid = str(q.get("tenant", "")).removeprefix("tenants/")
        if not viewer.sees(tid):
            continue
        queue = str(q.get("queue", ""))
        tenant(tid)["queues"].append(_queue(q, board.history.get((tid, queue), {}), now_minute))
        for key in TOTALS:
            totals[key] += int(q.get(key, 0))
        referrals = tenant(tid)["referrals"]  # questions meant for another body, by body
        for body, count in (q.get("referrals") or {}).items():
            referrals[body] = referrals.get(body, 0) + int(count)
            totals["referrals"] += int(count)
    for tid in board.tenant_names:
        if viewer.sees(tid):
            tenant(tid)
    counted = totals["answered"] + totals["abandoned"]
    level = round(100 * totals["answered_within_target"] / counted, 1) if counted else None
    result: dict[str, Any] = {
        "viewer": {"role": viewer.role.value, "may_act": viewer.may_act},
        "totals": {**totals, "service_level": level},
        "webhooks": board.webhooks_status,
        "tenants": sorted(tenants.values(), key=lambda t: (t["name"], t["id"])),
    }
    if viewer.may_act:
        result["agents"] = board.agents
    return result


def _department(board: Board, viewer: Viewer) -> dict[str, Any]:
    """A department sees its own callbacks and what they cause, as departments do in the callbacks
    API; the KCC's queues are not theirs to see (routing shows department users no contacts)."""
    (tid,) = viewer.tenants
    name = f"tenants/{tid}/departments/{viewer.department}"
    return {
        "viewer": {"role": viewer.role.value, "may_act": False},
        "tenants": [
            {
                "id": tid,
                "name": board.tenant_names.get(tid, tid),
                "queues": [],
                "referrals": {},
                "callbacks": [d for d in board.callbacks.get(tid, []) if d.get("department") == name],
                "accountability": [d for d in board.accountability.get(tid, []) if d.get("department") == name],
            }
        ],
    }
