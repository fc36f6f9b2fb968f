"""One post of one CloudEvent, and the policy of retrying it.

A post counts as delivered only on a 2xx answer within the time-out; anything else is an
error to retry, after an exponentially growing wait with jitter (so receivers coming back
after an outage are not hit by every dispatcher at once), until the retry period has passed
since the first failure: then the event is parked as a dead letter.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass

import httpx

from services.webhooks import cloudevents, signing, targets
from services.webhooks.store import SubscriptionRecord

USER_AGENT = "kcc-router-webhooks/1"
# An answer's body is read (so the connection can be used again) up to this much, then dropped.
MAX_ANSWER_BYTES = 64 * 1024


def _seconds(variable: str, default: float) -> float:
    value = os.environ.get(variable, "").strip()
    return float(value) if value else default


@dataclass(frozen=True)
class Policy:
    """Timings; each from KCC_WEBHOOK_<NAME>_SECONDS, or the default."""

    retry_seconds: float = 24 * 3600.0  # from the first failure until the event is parked
    first_backoff_seconds: float = 1.0
    max_backoff_seconds: float = 600.0
    post_timeout_seconds: float = 10.0
    # A replica taking over a subscription waits at most this for the event in flight.
    ack_wait_seconds: float = 30.0
    lease_seconds: float = 20.0

    def __post_init__(self) -> None:
        if self.lease_seconds <= self.post_timeout_seconds + 1:
            raise ValueError("KCC_WEBHOOK_LEASE_SECONDS must exceed the post time-out by more than a second")
        if self.ack_wait_seconds <= self.post_timeout_seconds:
            raise ValueError("KCC_WEBHOOK_ACK_WAIT_SECONDS must exceed the post time-out")

    @classmethod
    def from_env(cls) -> Policy:
        return cls(
            retry_seconds=_seconds("KCC_WEBHOOK_RETRY_SECONDS", cls.retry_seconds),
            first_backoff_seconds=_seconds("KCC_WEBHOOK_FIRST_BACKOFF_SECONDS", cls.first_backoff_seconds),
            max_backoff_seconds=_seconds("KCC_WEBHOOK_MAX_BACKOFF_SECONDS", cls.max_backoff_seconds),
            post_timeout_seconds=_seconds("KCC_WEBHOOK_POST_TIMEOUT_SECONDS", cls.post_timeout_seconds),
            ack_wait_seconds=_seconds("KCC_WEBHOOK_ACK_WAIT_SECONDS", cls.ack_wait_seconds),
            lease_seconds=_seconds("KCC_WEBHOOK_LEASE_SECONDS", cls.lease_seconds),
        )

    def backoff(self, attempts: int) -> float:
        """The wait after the `attempts`-th failure: doubling, capped, with jitter in its upper half."""
        delay = min(self.max_backoff_seconds, self.first_backoff_seconds * 2 ** min(attempts - 1, 30))
        return delay * random.uniform(0.5, 1.0)


class Poster:
    """Posts signed CloudEvents; one HTTP client (and its connection pool) per process."""

    def __init__(self, policy: Policy, production: bool) -> None:
        self.production = production
        self.client = httpx.AsyncClient(timeout=policy.post_timeout_seconds, follow_redirects=False)

    async def post(self, record: SubscriptionRecord, event_id: str, body: bytes) -> str | None:
        """None when the receiver took it; else what went wrong, without the URL or the answer's body."""
        try:
            await targets.check(record.url, self.production)  # again: DNS may have changed
        except targets.RefusedTarget as exc:
            return f"refused: URL {exc}"
        timestamp = int(time.time())
        headers = {
            **dict(record.headers),
            "content-type": cloudevents.CONTENT_TYPE,
            "user-agent": USER_AGENT,
            "webhook-id": event_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signing.signature(record.secret, event_id, timestamp, body),
        }
        try:
            async with self.client.stream("POST", record.url, content=body, headers=headers) as response:
                status = response.status_code
                await _drain(response)
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError as exc:
            return type(exc).__name__
        if 200 <= status < 300:
            return None
        return f"HTTP {status}"

    async def close(self) -> None:
        await self.client.aclose()


async def _drain(response: httpx.Response) -> None:
    """Reads a small answer to its end, which keeps the connection for the next post; a large one
    is cut off (its connection closed) rather than held in memory."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > MAX_ANSWER_BYTES:
            return
