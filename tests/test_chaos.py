"""The short fault run of bench/chaos.py: kill -9 NATS nodes, the routing leader and the scheduler holder
under load, then count every id."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import chaos
from services.common.natsserver import NatsServerError
from tests.conftest import unavailable
from tests.support.postgres import PostgresError

LEASE_SECONDS = 5.0  # half production's, so each takeover waits 5 s for the dead holder's lease to lapse


@pytest.mark.long
@pytest.mark.timeout(600)
async def test_a_fault_run_loses_duplicates_and_double_offers_nothing(tmp_path: Path) -> None:
    try:
        report = await chaos.run(
            seed=7,
            contacts=240,
            callbacks=80,
            gemeenten=3,
            agents=6,
            duration=20,
            workdir=tmp_path,
            lease_seconds=LEASE_SECONDS,
        )
    except (NatsServerError, PostgresError, OSError) as exc:
        unavailable(f"cannot start the platform: {exc}")
    print(report.last_line())
    assert report.contacts >= 240 and report.callbacks == 80
    assert report.faults and {f.split(" at ")[0] for f in report.faults} >= {
        "kill -9 routing (lease holder)",
        "kill -9 callbacks (lease holder)",
    }
    assert any(f.startswith("kill -9 nats node") for f in report.faults)
    assert (report.lost, report.duplicated, report.double_offers, report.unknown_to_routing) == (0, 0, 0, 0)
    assert (report.warnings_twice, report.breaches_twice, report.breaches_missing) == (0, 0, 0)
    assert 0 < report.routing_takeover <= 2 * LEASE_SECONDS and 0 < report.scheduler_takeover <= 2 * LEASE_SECONDS
