"""Compiled per-tenant snapshots in a JetStream key-value bucket: what a tenant offers and promises.

Tenancy writes them; routing and callbacks read them at start and follow changes,
so neither calls tenancy on its hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import nats.errors
from nats.js.errors import NotFoundError
from nats.js.kv import KeyValue

from services.common.bucketwatch import BucketFollower
from services.common.events import EventBus
from services.common.pacing import Pacer

log = logging.getLogger(__name__)

BUCKET = "tenant-snapshots"

CHANNELS = ("PHONE", "CHAT", "EMAIL", "COUNTER", "WEB_FORM")


@dataclass(frozen=True)
class ProductSnapshot:
    uri: str
    slug: str
    name: str
    department: str  # department id, e.g. `burgerzaken`
    handling: str  # FIRST_LINE or CALLBACK
    synonyms: tuple[str, ...] = ()  # every phrase routing recognises it by: the lexicon's, as the tenant has it
    ivr_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlaSnapshot:
    channel: str = ""
    department: str = ""
    product: str = ""  # product slug
    answer_seconds: int = 20
    answer_percent: int = 80
    callback_working_hours: int = 16
    callback_working_days: int = 0
    warning_percent: int = 75
    max_callback_attempts: int = 3
    escalation_target: str = ""

    @property
    def specificity(self) -> int:
        return (4 if self.product else 0) + (2 if self.department else 0) + (1 if self.channel else 0)

    def applies(self, channel: str, department: str, product: str) -> bool:
        return (
            (not self.channel or self.channel == channel)
            and (not self.department or self.department == department)
            and (not self.product or self.product == product)
        )


DEFAULT_SLA = SlaSnapshot()


@dataclass
class TenantSnapshot:
    tenant: str
    display_name: str
    state: str = "ACTIVE"
    version: int = 0
    lexicon_version: str = ""  # the default lexicon's edition the phrases start from
    retention_days: int = 365
    departments: dict[str, str] = field(default_factory=dict)  # id -> display name
    fallback_department: str = ""
    products: list[ProductSnapshot] = field(default_factory=list)  # enabled products only
    entry_points: list[tuple[str, str]] = field(default_factory=list)  # (kind, value)
    sla_policies: list[SlaSnapshot] = field(default_factory=list)
    calendar: dict[str, object] | None = None  # BusinessCalendar.to_dict(); None = default

    def sla_for(self, channel: str, department: str, product: str) -> SlaSnapshot:
        """The most specific policy wins: product over department over channel over default."""
        matching = [p for p in self.sla_policies if p.applies(channel, department, product)]
        return max(matching, key=lambda p: p.specificity) if matching else DEFAULT_SLA

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @staticmethod
    def version_of(data: bytes) -> int:
        """The version of a stored snapshot, to compare before replacing it."""
        return int(json.loads(data).get("version", 0))

    @classmethod
    def from_json(cls, data: bytes, held: TenantSnapshot | None = None) -> TenantSnapshot:
        """`held`: the tenant's snapshot before this one, whose unchanged products are kept
        rather than made again (a change touches a product or two of 450)."""
        raw = json.loads(data)
        before = {p.uri: p for p in held.products} if held is not None else {}
        raw["products"] = [_product(p, before.get(p["uri"])) for p in raw["products"]]
        raw["sla_policies"] = [SlaSnapshot(**p) for p in raw["sla_policies"]]
        raw["entry_points"] = [tuple(e) for e in raw["entry_points"]]
        return cls(**raw)


def _product(raw: dict[str, Any], before: ProductSnapshot | None) -> ProductSnapshot:
    synonyms, ivr_codes = tuple(raw["synonyms"]), tuple(raw["ivr_codes"])
    if (
        before is not None
        and before.synonyms == synonyms
        and before.ivr_codes == ivr_codes
        and (before.slug, before.name, before.department, before.handling)
        == (raw["slug"], raw["name"], raw["department"], raw["handling"])
    ):
        return before
    # every tenant carries the same default phrases: one string each in memory, not 342
    return ProductSnapshot(**{**raw, "synonyms": tuple(map(sys.intern, synonyms)), "ivr_codes": ivr_codes})


async def bucket(bus: EventBus) -> KeyValue:
    return await bus.key_value(BUCKET)


class SnapshotFollower:
    """Keeps the newest snapshot of every tenant in memory; `on_change` runs for each update.

    A snapshot older than the one held is ignored (a stale writer, e.g. an old tenancy replica
    during a rolling update, must not take a tenant's catalogue back); the same version again is
    taken, as tests and a re-import may rewrite a version.
    """

    def __init__(self, on_change: Callable[[TenantSnapshot], None] | None = None, pacer: Pacer | None = None) -> None:
        self.snapshots: dict[str, TenantSnapshot] = {}
        self.on_change = on_change
        self.pacer = pacer or Pacer()  # routing shares its own with the recognizers
        self._bucket: BucketFollower | None = None

    async def start(self, bus: EventBus) -> None:
        self._bucket = BucketFollower(bus, await bucket(bus), "snapshots", self._apply)
        await self._bucket.start()

    async def _apply(self, entry: KeyValue.Entry) -> None:
        assert self._bucket is not None
        if entry.value is None or entry.operation in ("DEL", "PURGE"):
            self.snapshots.pop(entry.key, None)
            return
        # A few milliseconds for a snapshot with every phrase, so once serving each is a turn
        # of background work: twenty tenants changing at once must not stall calls
        async with self.pacer.turn() if self._bucket.ready.is_set() else contextlib.nullcontext():
            if (entry.revision or 0) > self._bucket.revisions.get(entry.key, 0):  # else read meanwhile
                self._take(TenantSnapshot.from_json(entry.value, self.snapshots.get(entry.key)))

    async def caught_up(self, tenant: str, within: float) -> None:
        """Makes the tenant's snapshot held the newest in the bucket, read there (within `within`
        seconds) if the watch has not brought it yet: a department made a moment ago is found and one
        that does not exist is said so at once, also while the watch lags behind."""
        assert self._bucket is not None, "start() first"
        try:
            entry = await asyncio.wait_for(self._bucket.kv.get(tenant), within)
        except NotFoundError:  # no snapshot, or a deleted one: nothing on its way
            return
        except (TimeoutError, nats.errors.Error):  # the bucket cannot say (an outage): what is held answers
            return
        revision = entry.revision or 0
        if entry.value and revision > self._bucket.revisions.get(tenant, 0):
            self._take(TenantSnapshot.from_json(entry.value, self.snapshots.get(tenant)))
            self._bucket.taken(tenant, revision)

    def _take(self, snapshot: TenantSnapshot) -> None:
        held = self.snapshots.get(snapshot.tenant)
        if held is not None and snapshot.version < held.version:
            log.warning("snapshot %s v%d ignored: v%d held", snapshot.tenant, snapshot.version, held.version)
            return
        self.snapshots[snapshot.tenant] = snapshot
        if self.on_change is not None:
            try:
                self.on_change(snapshot)
            except Exception:  # noqa: BLE001 - one bad snapshot must not stop the follower
                log.exception("snapshot handler failed for %s", snapshot.tenant)

    async def stop(self) -> None:
        if self._bucket is not None:
            await self._bucket.stop()

    def get(self, tenant: str) -> TenantSnapshot | None:
        return self.snapshots.get(tenant)
