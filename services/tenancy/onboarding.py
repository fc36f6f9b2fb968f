"""Onboarding gemeenten over the tenancy API: tenant, default departments, UPL catalogue, entry point.

Everything goes through the public gRPC API (like `kcc tenancy onboard` and the demo): one
OnboardTenant call per gemeente, one transaction (all or nothing), one event, one snapshot
version. It is idempotent by construction: what exists is left alone and the catalogue import
only adds or renames, so running it again changes nothing, or brings a changed name or a new
UPL product in. (Doing the same with the per-resource RPCs cost twelve transactions, events
and snapshot compiles per gemeente and was about twice as slow; bench/onboard_gemeenten.py.)
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable

import grpc

from kcc.tenancy.v1 import tenancy_pb2 as pb
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common.citizen import normalise_phone
from services.common.config import DATA, open_csv
from services.common.upl import UplProduct, read_upl_csv
from services.tenancy.catalogue import DEFAULT_DEPARTMENTS, FALLBACK_DEPARTMENT, upl_rows

GEMEENTEN_CSV = DATA / "gemeenten.csv"
Metadata = Sequence[tuple[str, str]]
# One onboarding call may import hundreds of products; generous, but never forever.
CALL_TIMEOUT = 120.0


@dataclass(frozen=True)
class Gemeente:
    tenant: str  # gm0268
    name: str  # Nijmegen
    short_number: str = ""  # 14024, if the file has one


def read_gemeenten(path: Traversable = GEMEENTEN_CSV) -> list[Gemeente]:
    """Reads `gemeentecode,naam[,kort_nummer]`; the code becomes the tenant id in lower case."""
    gemeenten: list[Gemeente] = []
    seen: set[str] = set()
    with open_csv(path) as handle:
        reader = csv.DictReader(handle)
        missing = {"gemeentecode", "naam"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            code = (row.get("gemeentecode") or "").strip().lower()
            name = (row.get("naam") or "").strip()
            if not code.startswith("gm") or len(code) != 6 or not code[2:].isdigit() or not name:
                raise ValueError(f"{path}, line {line}: need a code like GM0268 and a name")
            if code in seen:
                raise ValueError(f"{path}, line {line}: {code} appears twice")
            seen.add(code)
            gemeenten.append(Gemeente(code, name, (row.get("kort_nummer") or "").strip()))
    return gemeenten


def gemeente_name(tenant: str, path: Traversable = GEMEENTEN_CSV) -> str:
    """The name of a gemeente from the shipped list, or "" if it is not there."""
    return next((g.name for g in read_gemeenten(path) if g.tenant == tenant), "")


@dataclass
class OnboardResult:
    tenant: str
    tenant_created: bool = False
    tenant_renamed: bool = False
    departments_created: list[str] = field(default_factory=list)
    products_created: int = 0
    products_updated: int = 0
    products_unchanged: int = 0
    entry_point: str = ""  # "created", "present" or "" (none asked for)

    @property
    def changed(self) -> bool:
        return bool(
            self.tenant_created
            or self.tenant_renamed
            or self.departments_created
            or self.products_created
            or self.products_updated
            or self.entry_point == "created"
        )

    def __str__(self) -> str:
        tenant = "created" if self.tenant_created else "renamed" if self.tenant_renamed else "present"
        text = (
            f"tenant {tenant}, {len(self.departments_created)} department(s) created, products "
            f"{self.products_created} created / {self.products_updated} updated / "
            f"{self.products_unchanged} unchanged"
        )
        if self.entry_point:
            text += f", entry point {self.entry_point}"
        return text


async def onboard_tenant(
    stub: tenancy_pb2_grpc.TenancyServiceAsyncStub,
    metadata: Metadata,
    tenant: str,
    name: str,
    short_number: str = "",
    products: Sequence[UplProduct] | None = None,
    rows: Sequence[pb.UplRow] | None = None,
) -> OnboardResult:
    """Onboards one gemeente in one OnboardTenant transaction (idempotent).

    `rows` (or `products`) defaults to the shipped UPL list; departments are the default
    template with `algemeen` as fallback; `short_number` (14 0xx) becomes a phone entry point.
    """
    parent = f"tenants/{tenant}"
    if rows is None:
        rows = upl_rows(products if products is not None else read_upl_csv())
    entry_points = []
    if short_number:
        number = normalise_phone("short_number", short_number, allow_short=True)
        entry_points.append(
            pb.EntryPoint(
                name=f"{parent}/entryPoints/telefoon-{number.lstrip('+')}",
                kind=pb.EntryPoint.KIND_PHONE_NUMBER,
                value=number,
            )
        )
    reply = await stub.OnboardTenant(
        pb.OnboardTenantRequest(
            tenant_id=tenant,
            tenant=pb.Tenant(display_name=name, state=pb.Tenant.STATE_ACTIVE),
            departments=[
                pb.Department(
                    name=f"{parent}/departments/{department_id}",
                    display_name=display_name,
                    fallback=department_id == FALLBACK_DEPARTMENT,
                )
                for department_id, display_name in DEFAULT_DEPARTMENTS
            ],
            rows=rows,
            entry_points=entry_points,
        ),
        metadata=tuple(metadata),
        timeout=CALL_TIMEOUT,
    )
    return OnboardResult(
        tenant=tenant,
        tenant_created=reply.tenant_created,
        tenant_renamed=reply.tenant_renamed,
        departments_created=[d.rsplit("/", 1)[-1] for d in reply.departments_created],
        products_created=reply.products.created,
        products_updated=reply.products.updated,
        products_unchanged=reply.products.unchanged,
        entry_point=("created" if reply.entry_points_created else "present") if short_number else "",
    )


@dataclass
class OnboardFailure:
    tenant: str
    error: str


async def onboard_all(
    stub: tenancy_pb2_grpc.TenancyServiceAsyncStub,
    metadata: Metadata,
    gemeenten: Sequence[Gemeente],
    products: Sequence[UplProduct] | None = None,
    concurrency: int = 8,
    on_done: Callable[[OnboardResult | OnboardFailure], None] | None = None,
) -> tuple[list[OnboardResult], list[OnboardFailure]]:
    """Onboards every gemeente, `concurrency` at a time; one failure does not stop the others."""
    rows = upl_rows(products if products is not None else read_upl_csv())
    gate = asyncio.Semaphore(max(1, concurrency))
    results: list[OnboardResult] = []
    failures: list[OnboardFailure] = []

    async def one(gemeente: Gemeente) -> None:
        async with gate:
            outcome: OnboardResult | OnboardFailure
            try:
                outcome = await onboard_tenant(
                    stub, metadata, gemeente.tenant, gemeente.name, gemeente.short_number, rows=rows
                )
                results.append(outcome)
            except grpc.RpcError as err:
                details = err.details() if isinstance(err, grpc.aio.AioRpcError) else str(err)
                code = err.code().name if isinstance(err, grpc.aio.AioRpcError) else "ERROR"
                outcome = OnboardFailure(gemeente.tenant, f"{code}: {details}")
                failures.append(outcome)
            except Exception as exc:  # noqa: BLE001 - e.g. a bad short number: report, go on
                outcome = OnboardFailure(gemeente.tenant, str(exc))
                failures.append(outcome)
            if on_done is not None:
                on_done(outcome)

    await asyncio.gather(*(one(g) for g in gemeenten))
    results.sort(key=lambda r: r.tenant)
    failures.sort(key=lambda f: f.tenant)
    return results, failures
