"""Following a JetStream key-value bucket: every key's entries applied in revision order, each once.

nats-py's watch is an ordered push consumer that notices its consumer is gone only when two of
its 5 s heartbeats are missed, and may need a second round while the cluster elects: a watch whose
NATS node was killed brought nothing new for 20 s (bench/watch_lag.py), so a replica kept an old
catalogue or did not know an agent made on another replica. The follower compares the watch with
the bucket every CHECK_SECONDS: when the bucket holds a revision the watch has not brought, at two
checks in a row with nothing brought between them, it starts a new watch. A new watch brings every
key's newest entry again; an entry not newer than the one applied for its key is skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import nats.errors
from nats.js.kv import KeyValue

from services.common.events import EventBus

log = logging.getLogger(__name__)

CHECK_SECONDS = 2.0
STOP_SECONDS = 2.0  # unsubscribing a watch whose server is gone must not hold the follower


class BucketFollower:
    """Applies each entry of `kv` once through `apply` (a value, or a delete with `operation` DEL or
    PURGE): first every key's newest, then every change."""

    def __init__(
        self,
        bus: EventBus,
        kv: KeyValue,
        what: str,
        apply: Callable[[KeyValue.Entry], Awaitable[None]],
        check_seconds: float = CHECK_SECONDS,
    ) -> None:
        self.bus, self.kv, self.what, self.apply = bus, kv, what, apply
        self.check_seconds = check_seconds
        self.revisions: dict[str, int] = {}  # per key: the revision applied last
        self.ready = asyncio.Event()  # every entry the bucket held at start is applied
        self.rewatched = 0  # watches started again because one fell behind
        self._brought = 0  # the newest revision the watch brought, of any key
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def taken(self, key: str, revision: int) -> None:
        """An entry applied from elsewhere (a read of the bucket): the watch skips it when it comes."""
        self.revisions[key] = max(revision, self.revisions.get(key, 0))

    async def start(self) -> None:
        watcher = await self.bus.at_start(f"{self.what} watch", self.kv.watchall, exists=True)
        self._task = asyncio.create_task(self._follow(watcher))
        await asyncio.wait_for(self.ready.wait(), 30)

    async def stop(self) -> None:
        # Python 3.11's asyncio.wait_for can swallow a cancel that meets a result (the follower hung
        # in bench/watch_lag.py once in a few stops): the loop also ends on the flag.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        loop = asyncio.get_running_loop()
        next_check = loop.time() + self.check_seconds
        behind = False  # the bucket was ahead of the watch at the last check
        brought_since_check = False
        while not self._stopping:
            try:
                entry = await watcher.updates(timeout=max(0.01, next_check - loop.time()))
            except nats.errors.TimeoutError:
                pass
            else:
                brought_since_check = True
                if entry is None:  # the end of the entries the watch found
                    self.ready.set()
                else:
                    await self._take(entry)
            if loop.time() >= next_check:
                ahead = await self._bucket_ahead()
                if ahead and behind and not brought_since_check:
                    fresh = await self._watch_again(watcher)
                    ahead, watcher = fresh is watcher, fresh  # else the next check tries again
                behind, brought_since_check = ahead, False
                next_check = loop.time() + self.check_seconds

    async def _take(self, entry: KeyValue.Entry) -> None:
        revision = entry.revision or 0
        self._brought = max(self._brought, revision)
        if revision > self.revisions.get(entry.key, 0):
            try:
                await self.apply(entry)
            except Exception:  # noqa: BLE001 - one bad entry must not end the following of the rest
                # (not the key: in the agents bucket it is an agent's id, which may be a name)
                log.exception("%s watch: revision %d not applied", self.what, revision)
            self.taken(entry.key, revision)

    async def _bucket_ahead(self) -> bool:
        """The bucket holds a revision the watch has not brought. Its oldest entries may have aged
        out, never its newest alone, so a bucket with entries still holds its last revision."""
        try:
            state = (await asyncio.wait_for(self.kv.status(), self.check_seconds)).stream_info.state
        except (TimeoutError, nats.errors.Error):  # NATS away: the watch's own reconnect goes on
            return False
        return state.messages > 0 and state.last_seq > self._brought

    async def _watch_again(self, watcher: KeyValue.KeyWatcher) -> KeyValue.KeyWatcher:
        try:
            fresh = await asyncio.wait_for(self.kv.watchall(), self.check_seconds)
        except (TimeoutError, nats.errors.Error):  # an election: the next check tries again
            return watcher
        with contextlib.suppress(TimeoutError, nats.errors.Error):
            await asyncio.wait_for(watcher.stop(), STOP_SECONDS)
        self.rewatched += 1
        log.info("%s watch: brought nothing while the bucket moved on; watching again", self.what)
        return fresh
