"""The UPL catalogue of a tenant: the default department template, the default mapping and the import."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.config import DATA
from services.common.errors import failed_precondition, invalid_argument
from services.tenancy.models import DepartmentRow, ProductRow, utcnow

UPL_CSV = DATA / "upl" / "UPL-actueel.csv"
UPL_PREFIX = "http://standaarden.overheid.nl/owms/terms/"

# (id, display name): the default vakafdelingen of a new gemeente; the last is the fallback.
DEFAULT_DEPARTMENTS: tuple[tuple[str, str], ...] = (
    ("burgerzaken", "Burgerzaken"),
    ("belastingen", "Belastingen"),
    ("afval-openbare-ruimte", "Afval en Openbare ruimte"),
    ("wonen-vergunningen", "Wonen en Vergunningen"),
    ("werk-inkomen", "Werk en Inkomen"),
    ("zorg-wmo", "Zorg en Wmo"),
    ("jeugd-onderwijs", "Jeugd en Onderwijs"),
    ("algemeen", "Algemene zaken"),
)
FALLBACK_DEPARTMENT = "algemeen"

# Word stems in a UPL product name that place it with a department; first match wins.
DEPARTMENT_KEYWORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("belastingen", ("belasting", "woz", "heffing", "kwijtschelding", "leges", "precario", "toeristen")),
    ("jeugd-onderwijs", ("jeugd", "leerling", "school", "onderwijs", "kinderopvang", "peuter", "leerplicht")),
    ("zorg-wmo", ("wmo", "zorg", "mantel", "huishoudelijke", "rolstoel", "vervoer", "gehandicapt", "schuldhulp",
                  "beschermd", "maatschappelijk", "mantelzorg", "woningaanpassing", "thuiszorg")),
    ("werk-inkomen", ("bijstand", "uitkering", "inkomen", "re-integratie", "participatie", "minima",
                      "bijzondere bijstand", "ioaw", "ioaz", "bbz", "inburgering", "werk")),
    ("burgerzaken", ("paspoort", "identiteitskaart", "rijbewijs", "verhuis", "brp", "uittreksel", "geboorte",
                     "huwelijk", "partnerschap", "overlijden", "naturalisatie", "nationaliteit", "naam",
                     "verklaring omtrent", "adres", "inschrijving", "erkenning", "burgerservicenummer",
                     "reisdocument", "legalisatie", "kiezer", "stem", "verkiezing", "begraaf", "crematie")),
    ("afval-openbare-ruimte", ("afval", "container", "vuil", "riool", "boom", "groen", "openbare",
                                "straat", "lantaarn", "verlichting", "ongedierte", "zwerf", "graffiti",
                                "parkeer", "verkeer", "gladheid", "speelplaats", "hond", "kap")),
    ("wonen-vergunningen", ("vergunning", "bouw", "omgeving", "woning", "huisvesting", "monument",
                            "bestemmingsplan", "evenement", "horeca", "drank", "exploitatie", "sloop",
                            "standplaats", "ontheffing", "splitsing", "kamerverhuur", "markt")),
)


def default_department_for(product_name: str) -> str:
    name = product_name.lower()
    for department, stems in DEPARTMENT_KEYWORDS:
        if any(stem in name for stem in stems):
            return department
    return FALLBACK_DEPARTMENT


def slug(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class UplProduct:
    line: int
    name: str
    uri: str


def read_upl_csv(path: Path = UPL_CSV, gemeente_only: bool = True) -> list[UplProduct]:
    """Reads the published UPL list; rows repeat per legal basis, so products are deduplicated by URI."""
    products: dict[str, UplProduct] = {}
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"UniformeProductnaam", "URI"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: missing column(s) {sorted(missing)}")
        for line, row in enumerate(reader, start=2):
            name, uri = (row.get("UniformeProductnaam") or "").strip(), (row.get("URI") or "").strip()
            if not name or not uri.startswith("http"):
                raise ValueError(f"{path}, line {line}: a product needs a name and an http(s) URI")
            if gemeente_only and (row.get("Gemeente") or "").strip() != "X":
                continue
            products.setdefault(uri, UplProduct(line, name, uri))
    return list(products.values())


def import_upl_rows(
    session: Session, tenant: str, rows: Sequence[pb.UplRow], default_department: str = ""
) -> tuple[int, int, int]:
    """Adds new products and renames changed ones; keeps each tenant's own department and synonyms."""
    for row in rows:
        if not row.name.strip() or not row.uri.startswith(("http://", "https://")) or not slug(row.uri):
            raise invalid_argument("rows", f"line {row.line}: a product needs a name and an http(s) URI")
        if len(row.name) > 255 or len(row.uri) > 255:
            raise invalid_argument("rows", f"line {row.line}: name or URI longer than 255 characters")
    existing = {p.id: p for p in session.exec(select(ProductRow).where(ProductRow.tenant == tenant))}
    departments = {d.id: d for d in session.exec(select(DepartmentRow).where(DepartmentRow.tenant == tenant))}
    fallback = next((d.id for d in departments.values() if d.fallback), "")

    def place(name: str) -> str:
        department = default_department or default_department_for(name)
        if department in departments:
            return department
        if fallback:
            return fallback
        raise failed_precondition(
            "DEPARTMENT_NOT_FOUND", f"tenants/{tenant} has no department {department!r} and no fallback department"
        )

    created = updated = unchanged = 0
    seen: set[str] = set()
    for row in rows:
        product_id = slug(row.uri)[:64]
        if product_id in seen:
            continue
        seen.add(product_id)
        current = existing.get(product_id)
        if current is None:
            session.add(
                ProductRow(
                    tenant=tenant,
                    id=product_id,
                    upl_uri=row.uri,
                    display_name=row.name.strip(),
                    department=place(row.name),
                    handling="CALLBACK",
                    synonyms=json.dumps([]),
                    ivr_codes=json.dumps([]),
                )
            )
            created += 1
        elif current.display_name != row.name.strip() or current.upl_uri != row.uri:
            current.display_name, current.upl_uri, current.update_time = row.name.strip(), row.uri, utcnow()
            session.add(current)
            updated += 1
        else:
            unchanged += 1
    return created, updated, unchanged


def upl_rows(products: Iterable[UplProduct]) -> list[pb.UplRow]:
    return [pb.UplRow(line=p.line, name=p.name, uri=p.uri) for p in products]
