"""The callback state machine, as one table: which action may leave which status, and where to.

    REQUESTED --claim--> CLAIMED --attempt--> ATTEMPTED --attempt--> ATTEMPTED
        |                   |                    |  (not reached max_attempts times: UNREACHABLE)
        |                   +------complete------+--> COMPLETED
        +-- forward (back to REQUESTED in another department), return (RETURNED), cancel (CANCELLED)
            are allowed from every open status.

COMPLETED, RETURNED, CANCELLED and UNREACHABLE are closed: nothing leaves them.
"""

from __future__ import annotations

from services.common.errors import failed_precondition

REQUESTED = "REQUESTED"
CLAIMED = "CLAIMED"
ATTEMPTED = "ATTEMPTED"
COMPLETED = "COMPLETED"
RETURNED = "RETURNED"
CANCELLED = "CANCELLED"
UNREACHABLE = "UNREACHABLE"

OPEN = (REQUESTED, CLAIMED, ATTEMPTED)
CLOSED = (COMPLETED, RETURNED, CANCELLED, UNREACHABLE)
ALL = OPEN + CLOSED

# action -> (statuses it may start from, status it leads to). `attempt` may also lead to
# UNREACHABLE (decided by the attempt count, see service.py); forward re-opens as REQUESTED.
TRANSITIONS: dict[str, tuple[tuple[str, ...], str]] = {
    "claim": ((REQUESTED,), CLAIMED),
    "attempt": ((CLAIMED, ATTEMPTED), ATTEMPTED),
    "complete": ((CLAIMED, ATTEMPTED), COMPLETED),
    "forward": (OPEN, REQUESTED),
    "return": (OPEN, RETURNED),
    "cancel": (OPEN, CANCELLED),
}

# The event name (`kcc.<tenant>.callback.<change>`) of each action.
CHANGE = {
    "create": "requested",
    "claim": "claimed",
    "attempt": "attempted",
    "complete": "completed",
    "forward": "forwarded",
    "return": "returned",
    "cancel": "cancelled",
}


def target(action: str, status: str) -> str:
    """The status `action` leads to from `status`; FAILED_PRECONDITION ILLEGAL_TRANSITION if it may not."""
    sources, to = TRANSITIONS[action]
    if status not in sources:
        raise failed_precondition("ILLEGAL_TRANSITION", f"cannot {action} a callback that is {status}")
    return to


def is_open(status: str) -> bool:
    return status in OPEN
