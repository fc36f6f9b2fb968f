"""Onboarding gemeenten over the tenancy API: tenant, default departments, UPL catalogue, entry point.

Everything goes through the public gRPC API (like `kcc tenancy onboard` and the demo), and
every step is idempotent: creates carry request ids derived from the tenant, existing rows
are left alone and the catalogue import only adds or renames. Running it again changes
nothing, or brings a changed name or a new UPL product in.

Per gemeente this costs a handful of calls: the catalogue goes in one ImportUplProducts
transaction (all 450 products or none), so all 342 gemeenten take seconds, not minutes.
"""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from google.protobuf import field_mask_pb2

from kcc.tenancy.v1 import tenancy_pb2 as pb
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common.citizen import normalise_phone
from services.common.config import DATA
from services.tenancy.catalogue import (
    DEFAULT_DEPARTMENTS,
    FALLBACK_DEPARTMENT,
    UplProduct,
    read_upl_csv,
    upl_rows,
)

GEMEENTEN_CSV = DATA / "gemeenten.csv"
Metadata = Sequence[tuple[str, str]]
# One onboarding call may import hundreds of products; generous, but never forever.
CALL_TIMEOUT = 120.0


@dataclass(frozen=True)
class Gemeente:
    tenant: str  # gm0268
    name: str  # Nijmegen
    short_number: str = ""  # 14024, if the file has one


def read_gemeenten(path: Path = GEMEENTEN_CSV) -> list[Gemeente]:
    """Reads `gemeentecode,naam[,kort_nummer]`; the code becomes the tenant id in lower case."""
    gemeenten: list[Gemeente] = []
    seen: set[str] = set()
    with path.open(newline="", encoding="utf-8-sig") as handle:
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


def gemeente_name(tenant: str, path: Path = GEMEENTEN_CSV) -> str:
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


def _code(err: grpc.RpcError) -> grpc.StatusCode | None:
    return err.code() if isinstance(err, grpc.aio.AioRpcError) else None


async def onboard_tenant(
    stub: tenancy_pb2_grpc.TenancyServiceAsyncStub,
    metadata: Metadata,
    tenant: str,
    name: str,
    short_number: str = "",
    products: Sequence[UplProduct] | None = None,
    rows: Sequence[pb.UplRow] | None = None,
) -> OnboardResult:
    """Onboards one gemeente (idempotent). `rows` (or `products`) defaults to the shipped UPL list."""
    md = tuple(metadata)
    result = OnboardResult(tenant)
    parent = f"tenants/{tenant}"

    try:
        current = await stub.GetTenant(pb.GetTenantRequest(name=parent), metadata=md, timeout=CALL_TIMEOUT)
    except grpc.RpcError as err:
        if _code(err) != grpc.StatusCode.NOT_FOUND:
            raise
        await stub.CreateTenant(
            pb.CreateTenantRequest(
                tenant_id=tenant,
                tenant=pb.Tenant(display_name=name, state=pb.Tenant.STATE_ACTIVE),
                request_id=f"onboard:{tenant}:tenant",
            ),
            metadata=md,
            timeout=CALL_TIMEOUT,
        )
        result.tenant_created = True
    else:
        if name and current.display_name != name:
            await stub.UpdateTenant(
                pb.UpdateTenantRequest(
                    tenant=pb.Tenant(name=parent, display_name=name),
                    update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            result.tenant_renamed = True

    existing = await stub.ListDepartments(
        pb.ListDepartmentsRequest(parent=parent, page_size=1000), metadata=md, timeout=CALL_TIMEOUT
    )
    present = {d.name.rsplit("/", 1)[-1] for d in existing.departments}
    has_fallback = any(d.fallback for d in existing.departments)
    for department_id, display_name in DEFAULT_DEPARTMENTS:
        if department_id in present:
            continue
        try:
            await stub.CreateDepartment(
                pb.CreateDepartmentRequest(
                    parent=parent,
                    department_id=department_id,
                    department=pb.Department(
                        display_name=display_name,
                        fallback=department_id == FALLBACK_DEPARTMENT and not has_fallback,
                    ),
                    request_id=f"onboard:{tenant}:department:{department_id}",
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
        except grpc.RpcError as err:
            # NOT_FOUND: onboarded before and deleted by an admin since; leave it deleted.
            # ALREADY_EXISTS: created meanwhile by someone else.
            if _code(err) not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.ALREADY_EXISTS):
                raise
            continue
        result.departments_created.append(department_id)

    if rows is None:
        rows = upl_rows(products if products is not None else read_upl_csv())
    imported = await stub.ImportUplProducts(
        pb.ImportUplProductsRequest(parent=parent, rows=rows), metadata=md, timeout=CALL_TIMEOUT
    )
    result.products_created = imported.created
    result.products_updated = imported.updated
    result.products_unchanged = imported.unchanged

    if short_number:
        number = normalise_phone("short_number", short_number, allow_short=True)
        entry_points = await stub.ListEntryPoints(
            pb.ListEntryPointsRequest(parent=parent, page_size=1000), metadata=md, timeout=CALL_TIMEOUT
        )
        if any(e.kind == pb.EntryPoint.KIND_PHONE_NUMBER and e.value == number for e in entry_points.entry_points):
            result.entry_point = "present"
        else:
            await stub.CreateEntryPoint(
                pb.CreateEntryPointRequest(
                    parent=parent,
                    entry_point_id=f"telefoon-{number.lstrip('+')}",
                    entry_point=pb.EntryPoint(kind=pb.EntryPoint.KIND_PHONE_NUMBER, value=number),
                    request_id=f"onboard:{tenant}:entry-point:{number}",
                ),
                metadata=md,
                timeout=CALL_TIMEOUT,
            )
            result.entry_point = "created"
    return result


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
