"""What one viewer's page is made of (services/wallboard/view.py), from a board as the feed fills it."""

from __future__ import annotations

from services.wallboard.feed import HISTORY_MINUTES, Board
from services.wallboard.login import Viewer, ViewerRole
from services.wallboard.view import WEBHOOK_ALERT_SECONDS, render

NOW = 29_000_000  # a minute number


def queue(tenant: str, name: str, **figures: object) -> dict[str, object]:
    return {"tenant": f"tenants/{tenant}", "queue": name, "target": {"seconds": 20, "percent": 80}, **figures}


BOARD = Board(
    tenant_names={"gm0268": "Nijmegen", "gm0202": "Arnhem"},
    queues=[
        queue("gm0268", "burgerzaken", waiting=3, answered=8, answered_within_target=6, abandoned=2,
              service_level=0.6, referrals={"Belastingdienst": 2, "UWV": 1}, overflowed=1, overflowed_in=2),
        queue("gm0202", "burgerzaken", waiting=1, answered=4, answered_within_target=4, service_level=1.0,
              referrals={"Belastingdienst": 5}),
    ],
    agents=[{"id": "a1", "state": "AVAILABLE", "tenants": ["gm0268"], "overflow_tenants": []}],
    callbacks={
        "gm0268": [
            {"department": "tenants/gm0268/departments/burgerzaken", "open": 2},
            {"department": "tenants/gm0268/departments/belastingen", "open": 5},
        ]
    },
    accountability={"gm0268": [{"department": "tenants/gm0268/departments/belastingen", "repeat_contacts": 3}]},
    history={("gm0268", "burgerzaken"): {NOW - 1: 4, NOW: 3, NOW - HISTORY_MINUTES: 9}},
    webhooks={
        "gm0268": [
            {"id": "crm", "state": "ACTIVE", "delivered": 12, "retrying": 0, "parked": 0, "pending": 0,
             "oldest_undelivered_seconds": 0.0},
            {"id": "zaaksysteem", "state": "ACTIVE", "delivered": 3, "retrying": 1, "parked": 2, "pending": 4,
             "oldest_undelivered_seconds": 12.0},
            {"id": "archief", "state": "PAUSED", "delivered": 0, "retrying": 0, "parked": 0, "pending": 9,
             "oldest_undelivered_seconds": WEBHOOK_ALERT_SECONDS + 1.0},
        ],
        "gm0202": [{"id": "arnhem-crm", "state": "ACTIVE", "delivered": 7, "retrying": 0, "parked": 0,
                    "pending": 0, "oldest_undelivered_seconds": 0.0}],
    },
    webhooks_status="live",
)  # fmt: skip


def test_a_trafficer_sees_every_gemeente_the_agents_and_kcc_totals() -> None:
    page = render(BOARD, Viewer("t", ViewerRole.TRAFFICER), NOW)
    assert [t["name"] for t in page["tenants"]] == ["Arnhem", "Nijmegen"]
    assert page["totals"]["waiting"] == 4 and page["totals"]["referrals"] == 8
    assert page["totals"]["service_level"] == round(100 * 10 / 14, 1)  # within target / (answered + abandoned)
    assert page["agents"] == BOARD.agents and page["viewer"]["may_act"] is True
    nijmegen = next(t for t in page["tenants"] if t["id"] == "gm0268")
    (burgerzaken,) = nijmegen["queues"]
    assert burgerzaken["below_target"] is True and burgerzaken["service_level"] == 60.0
    assert (burgerzaken["overflowed_in"], burgerzaken["overflowed"]) == (2, 1)
    assert nijmegen["referrals"] == {"Belastingdienst": 2, "UWV": 1}
    spark = burgerzaken["sparkline"]
    assert len(spark) == HISTORY_MINUTES and spark[-2:] == [4, 3] and 9 not in spark  # older than the hour


def test_a_service_level_is_shown_as_answered_and_none_before_anything_was_answered() -> None:
    """MessageToDict leaves a zero out: 0 % must not read as 100 %, and a queue that answered nothing has none."""
    board = Board(
        tenant_names={"gm0268": "Nijmegen"},
        queues=[
            queue("gm0268", "burgerzaken", answered=3, abandoned=1),  # service_level 0.0, left out by MessageToDict
            queue("gm0268", "belastingen", waiting=2),
        ],
    )
    page = render(board, Viewer("t", ViewerRole.TRAFFICER), NOW)
    levels = {q["queue"]: (q["service_level"], q["below_target"]) for q in page["tenants"][0]["queues"]}
    assert levels == {"burgerzaken": (0.0, True), "belastingen": (None, False)}
    empty = render(Board(tenant_names={"gm0268": "Nijmegen"}), Viewer("t", ViewerRole.TRAFFICER), NOW)
    assert empty["totals"]["service_level"] is None


def test_a_tenant_viewer_gets_nothing_of_another_gemeente() -> None:
    page = render(BOARD, Viewer("a", ViewerRole.TENANT, frozenset({"gm0202"})), NOW)
    assert [t["id"] for t in page["tenants"]] == ["gm0202"]
    assert page["totals"]["waiting"] == 1 and page["totals"]["referrals"] == 5
    assert "agents" not in page and page["viewer"]["may_act"] is False
    text = str(page)
    assert "gm0268" not in text and "Nijmegen" not in text


def test_a_department_sees_its_own_callbacks_and_accountability_only() -> None:
    viewer = Viewer("bz", ViewerRole.DEPARTMENT, frozenset({"gm0268"}), department="burgerzaken")
    page = render(BOARD, viewer, NOW)
    (nijmegen,) = page["tenants"]
    assert nijmegen["callbacks"] == [{"department": "tenants/gm0268/departments/burgerzaken", "open": 2}]
    assert nijmegen["accountability"] == [] and nijmegen["queues"] == []
    assert "totals" not in page and "agents" not in page and page["viewer"]["may_act"] is False
    assert "belastingen" not in str(page) and "Arnhem" not in str(page)


def test_webhook_subscriptions_show_per_gemeente_marked_when_parked_or_late() -> None:
    page = render(BOARD, Viewer("t", ViewerRole.TRAFFICER), NOW)
    assert page["webhooks"] == "live"
    nijmegen = next(t for t in page["tenants"] if t["id"] == "gm0268")
    by_id = {s["id"]: s for s in nijmegen["webhooks"]}
    assert by_id["crm"]["delivered"] == 12 and by_id["crm"]["alert"] is False
    assert by_id["zaaksysteem"]["alert"] is True, "parked events"
    assert by_id["archief"]["alert"] is True and by_id["archief"]["state"] == "PAUSED", "waiting too long"


def test_a_tenant_viewer_sees_only_its_own_subscriptions() -> None:
    page = render(BOARD, Viewer("a", ViewerRole.TENANT, frozenset({"gm0202"})), NOW)
    (arnhem,) = page["tenants"]
    assert [s["id"] for s in arnhem["webhooks"]] == ["arnhem-crm"]
    assert "zaaksysteem" not in str(page) and "archief" not in str(page)
    department = render(BOARD, Viewer("bz", ViewerRole.DEPARTMENT, frozenset({"gm0268"}), department="x"), NOW)
    assert "webhooks" not in department and "webhooks" not in department["tenants"][0]


def test_the_page_says_when_webhook_figures_are_unavailable() -> None:
    board = Board(tenant_names={"gm0268": "Nijmegen"}, webhooks_status="unavailable")
    page = render(board, Viewer("t", ViewerRole.TRAFFICER), NOW)
    assert page["webhooks"] == "unavailable" and page["tenants"][0]["webhooks"] == []
    assert render(Board(tenant_names={"gm0268": "N"}), Viewer("t", ViewerRole.TRAFFICER), NOW)["webhooks"] == "off"
