"""A lease in a JetStream KV bucket: exactly one holder acts at a time, a standby takes over when it lapses.

The value holds the holder's id and an expiry timestamp (wall clock, seconds). Taking and
renewing are compare-and-set on the key's revision (`create`, `update(last=revision)`), so of
two instances racing for a lapsed lease exactly one wins. A holder renews well before expiry;
one that cannot renew (NATS down, process stuck) stops acting when its own expiry passes,
before anyone else may take over. That local deadline is kept on the monotonic clock and counted
from before the write, so a step of the wall clock cannot stretch it past what the others see.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError
from nats.js.kv import KeyValue


class Lease:
    def __init__(self, kv: KeyValue, key: str, ttl_seconds: float = 15.0, holder: str = "") -> None:
        self.kv = kv
        self.key = key
        self.ttl = ttl_seconds
        self.holder = holder or uuid.uuid4().hex
        self.revision = 0
        self.expires_at = 0.0  # of our own lease, as we last wrote it
        self._deadline = 0.0  # time.monotonic() at which we stop acting unless renewed

    @property
    def held(self) -> bool:
        """Whether we may act now: we hold it and our own expiry has not passed."""
        return self.revision > 0 and time.monotonic() < self._deadline

    @property
    def remaining(self) -> float:
        """Seconds until our own deadline; 0 when we do not hold the lease."""
        return max(0.0, self._deadline - time.monotonic()) if self.revision > 0 else 0.0

    async def acquire(self) -> bool:
        """Takes the lease if free or lapsed, renews it if ours; False if someone else holds it."""
        started, now = time.monotonic(), time.time()
        value = json.dumps({"holder": self.holder, "expires_at": now + self.ttl}).encode()
        try:
            entry = await self.kv.get(self.key)
        except KeyNotFoundError:
            entry = None
        try:
            if entry is None or not entry.value:
                self.revision = await self.kv.create(self.key, value)
            else:
                current = json.loads(entry.value)
                if current.get("holder") != self.holder and float(current.get("expires_at", 0)) > now:
                    self.revision = 0
                    return False
                self.revision = await self.kv.update(self.key, value, last=entry.revision)
        except KeyWrongLastSequenceError:  # someone else wrote first
            self.revision = 0
            return False
        self.expires_at = now + self.ttl
        self._deadline = started + self.ttl
        return True

    async def release(self) -> None:
        """Gives the lease up at once (graceful stop), so a standby need not wait for it to lapse."""
        if self.revision <= 0:
            return
        value = json.dumps({"holder": self.holder, "expires_at": 0}).encode()
        with contextlib.suppress(Exception):  # taken over or NATS gone: it lapses by itself
            await self.kv.update(self.key, value, last=self.revision)
        self.revision = 0
        self.expires_at = 0.0
        self._deadline = 0.0
