"""A background loop's rest ends when the service stops: a stopping replica does not wait out its loops' rests."""

from __future__ import annotations

import asyncio
from pathlib import Path

from services.common.config import Settings
from services.common.events import EventBus
from services.common.outbox import OutboxEvent, OutboxRelay
from services.common.resting import rest
from tests.builders import eventually
from tests.test_outbox import open_database


async def test_a_rest_ends_when_one_of_its_events_is_set_or_its_time_is_up() -> None:
    wake, stop = asyncio.Event(), asyncio.Event()
    resting = asyncio.create_task(rest(60, wake, stop))
    await asyncio.sleep(0)
    stop.set()
    await asyncio.wait_for(resting, 5)
    await asyncio.wait_for(rest(0.01, asyncio.Event()), 5)
    await asyncio.wait_for(rest(60, stop), 5)  # already set: no rest at all


async def test_an_idle_outbox_relay_stops_at_once(tmp_path: Path, nats_url: str) -> None:
    """Resting a minute between rounds, the relay still ends as soon as the service stops."""
    db = open_database(f"sqlite:///{tmp_path / 'outbox.db'}", OutboxEvent)
    bus = await EventBus.connect(Settings(data_dir=tmp_path / "var", nats_url=nats_url), "test-resting")

    class CountedRelay(OutboxRelay):
        rounds = 0

        async def publish_pending(self) -> int:
            published = await super().publish_pending()
            self.rounds += 1  # nothing awaited between here and the rest
            return published

    relay = CountedRelay(db, bus, idle_seconds=60)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    await eventually(lambda: relay.rounds >= 1)
    stop.set()
    await asyncio.wait_for(running, 5)
    await bus.close()
