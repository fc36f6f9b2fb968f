"""`kcc tenancy ...` and `kcc calendar add` against a real tenancy service: one test per command.

The command line is the same over either database, so these run on SQLite only; the API tests in
tests/test_tenancy.py cover PostgreSQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest

import services.cli
from kcc.tenancy.v1 import tenancy_pb2 as tp
from tests.builders import UPL
from tests.test_tenancy import Env, env, fails  # noqa: F401 - env is a fixture

Kcc = Callable[..., Awaitable[tuple[int, str, str]]]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def kcc(env: Env, monkeypatch: pytest.MonkeyPatch) -> Kcc:  # noqa: F811 - the fixture above
    """Runs `kcc ...` (services.cli.main) in a thread against the running app: (exit code, stdout, stderr)."""
    monkeypatch.setenv("KCC_TENANCY_TARGET", f"127.0.0.1:{env.app.port}")
    monkeypatch.delenv("KCC_TOKEN", raising=False)

    def run(argv: list[str]) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = services.cli.main(argv)
            except SystemExit as exit_:
                code = int(exit_.code or 0)
        return code, out.getvalue(), err.getvalue()

    async def call(*argv: str) -> tuple[int, str, str]:
        return await asyncio.to_thread(run, list(argv))

    return call


@pytest.fixture
async def nijmegen(kcc: Kcc) -> Kcc:
    """Nijmegen onboarded with the default departments, the UPL catalogue and 14 024."""
    code, _, err = await kcc("tenancy", "onboard", "--tenant", "gm0268", "--short-number", "14 024")
    assert code == 0, err
    return kcc


async def test_onboard_creates_a_gemeente_once(kcc: Kcc) -> None:
    code, out, err = await kcc("tenancy", "onboard", "--tenant", "gm0268", "--short-number", "14 024")
    assert code == 0, err
    assert "tenants/gm0268 Nijmegen: tenant created, 10 department(s) created" in out
    assert "450 created" in out and "entry point created" in out and "burgerzaken" in out
    code, out, _ = await kcc("tenancy", "onboard", "--tenant", "gm0268")
    assert (
        code == 0 and "tenant present, 0 department(s) created, products 0 created / 0 updated / 450 unchanged" in out
    )


async def test_tenants_list_show_create_and_update(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, _ = await kcc("tenancy", "tenants", "list")
    assert code == 0 and "gm0268" in out and "Nijmegen" in out and "1 tenant(s)" in out
    code, out, _ = await kcc("tenancy", "tenants", "show", "--tenant", "gm0268")
    assert code == 0 and "450 (450 enabled)" in out and "(fallback)" in out and "14024" in out
    code, out, _ = await kcc(
        "tenancy", "tenants", "create", "--tenant", "gm0363", "--name", "Amsterdam", "--state", "ONBOARDING"
    )
    assert code == 0 and "created tenants/gm0363 (Amsterdam, ONBOARDING)" in out
    code, out, _ = await kcc(
        "tenancy", "tenants", "update", "--tenant", "gm0363", "--state", "ACTIVE", "--retention-days", "730"
    )
    assert code == 0 and "state, retention_days" in out and "730" in out
    code, out, _ = await kcc("tenancy", "tenants", "list", "--state", "ACTIVE", "--search", "Amst")
    assert code == 0 and "gm0363" in out and "gm0268" not in out


async def test_departments_list_create_update_and_delete(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, _ = await kcc("tenancy", "departments", "list", "--tenant", "gm0268")
    assert code == 0 and "burgerzaken" in out and "10 department(s)" in out and "79" in out
    code, out, _ = await kcc("tenancy", "departments", "create", "--tenant", "gm0268", "--id", "kcc", "--name", "KCC")
    assert code == 0 and "created tenants/gm0268/departments/kcc" in out
    code, out, _ = await kcc(
        "tenancy", "departments", "update", "--tenant", "gm0268", "--id", "kcc", "--name", "Klantcontact"
    )
    assert code == 0 and "Klantcontact" in out
    code, _, err = await kcc("tenancy", "departments", "delete", "--tenant", "gm0268", "--id", "burgerzaken")
    assert code == 1 and "FAILED_PRECONDITION" in err and "DEPARTMENT_IN_USE" in err
    code, out, _ = await kcc("tenancy", "departments", "delete", "--tenant", "gm0268", "--id", "kcc")
    assert code == 0 and "deleted" in out


PASPOORT_UPDATE = (
    "tenancy",
    "products",
    "update",
    "--tenant",
    "gm0268",
    "--product",
    "paspoort",
    "--handling",
    "FIRST_LINE",
    "--add-synonym",
    "id-bewijs",
    "--add-synonym",
    "reispas",
    "--ivr-code",
    "1",
    "--department",
    "algemeen",
)
DISABLE_PASPOORT = (
    "tenancy", "products", "update", "--tenant", "gm0268", "--product", "paspoort", "--remove-synonym", "reispas",
    "--disable",
)  # fmt: skip


async def test_products_update_show_and_list(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, err = await kcc(*PASPOORT_UPDATE)
    assert code == 0, err
    assert "FIRST_LINE" in out and "id-bewijs, reispas" in out and "departments/algemeen" in out
    code, out, _ = await kcc(*DISABLE_PASPOORT)
    assert code == 0 and "synonyms     id-bewijs\n" in out and "enabled      no" in out
    code, out, _ = await kcc("tenancy", "products", "show", "--tenant", "gm0268", "--product", "paspoort")
    assert code == 0 and UPL + "paspoort" in out
    code, out, _ = await kcc(
        "tenancy", "products", "list", "--tenant", "gm0268", "--department", "algemeen", "--no-enabled"
    )
    assert code == 0 and "paspoort" in out and "1 product(s)" in out
    code, out, _ = await kcc("tenancy", "products", "list", "--tenant", "gm0268", "--search", "rijbewijs")
    assert code == 0 and "rijbewijs internationaal" in out
    code, _, err = await kcc(
        "tenancy", "products", "update", "--tenant", "gm0268", "--product", "paspoort", "--department", "weg"
    )
    assert code == 1 and "DEPARTMENT_NOT_FOUND" in err
    code, _, err = await kcc("tenancy", "products", "show", "--tenant", "gm0268", "--product", "bestaat-niet")
    assert code == 1 and "NOT_FOUND" in err


async def test_entry_points_add_and_list(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, _ = await kcc(
        "tenancy",
        "entry-points",
        "add",
        "--tenant",
        "gm0268",
        "--kind",
        "web-form",
        "--value",
        "https://www.nijmegen.nl",
    )
    assert code == 0 and "WEB_FORM_ORIGIN https://www.nijmegen.nl" in out
    code, out, _ = await kcc("tenancy", "entry-points", "list", "--tenant", "gm0268")
    assert code == 0 and "2 entry point(s)" in out
    assert (await kcc("tenancy", "tenants", "create", "--tenant", "gm0363", "--name", "Amsterdam"))[0] == 0
    code, _, err = await kcc("tenancy", "entry-points", "add", "--tenant", "gm0363", "--value", "14024")
    assert code == 1 and "ENTRY_POINT_TAKEN" in err


async def test_sla_create_update_and_list(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, err = await kcc(
        "tenancy", "sla", "create", "--tenant", "gm0268", "--id", "telefoon", "--channel", "PHONE",
        "--answer-seconds", "20", "--answer-percent", "80", "--callback-days", "2",
    )  # fmt: skip
    assert code == 0, err
    assert "80% in 20s" in out and "2 working days" in out
    code, out, _ = await kcc(
        "tenancy", "sla", "update", "--tenant", "gm0268", "--id", "telefoon", "--answer-seconds", "30",
        "--callback-hours", "8",
    )  # fmt: skip
    assert code == 0 and "80% in 30s" in out and "8 working hours" in out
    code, out, _ = await kcc("tenancy", "sla", "list", "--tenant", "gm0268")
    assert code == 0 and "telefoon" in out and "1 SLA policy" in out


async def test_calendar_hours_closures_openings_and_show(nijmegen: Kcc) -> None:
    kcc = nijmegen
    code, out, err = await kcc(
        "tenancy", "calendar", "set-hours", "--tenant", "gm0268", "--days", "vr", "--hours", "08:30-12:30"
    )
    assert code == 0, err
    assert "vr                       08:30-12:30" in out
    code, out, _ = await kcc(
        "tenancy", "calendar", "set-hours", "--tenant", "gm0268", "--days", "6", "--hours", "10:00-12:00"
    )
    assert code == 0 and "za                       10:00-12:00" in out
    code, out, _ = await kcc("tenancy", "calendar", "add-closure", "--tenant", "gm0268", "--date", "2026-04-28")
    assert code == 0 and "2026-04-28           closed" in out
    code, out, _ = await kcc(
        "tenancy", "calendar", "add-opening", "--tenant", "gm0268", "--date", "2026-04-27", "--hours", "10:00-14:00"
    )
    assert code == 0 and "2026-04-27           10:00-14:00" in out
    code, out, _ = await kcc("tenancy", "calendar", "show", "--tenant", "gm0268")
    assert code == 0 and "Europe/Amsterdam" in out and "zo                       closed" in out
    code, _, err = await kcc(
        "tenancy", "calendar", "set-hours", "--tenant", "gm0268", "--days", "1", "--hours", "17:00-08:00"
    )
    assert code == 1 and "INVALID_ARGUMENT" in err
    # kcc calendar add on the tenant's calendar: Friday 16:00 is after closing (12:30), Saturday 10-12,
    # Monday 27 April (King's Day) specially open 10-14, Tuesday closed, Wednesday from 08:30.
    code, out, err = await kcc(
        "calendar", "add", "--from", "2026-04-24T16:00:00+02:00", "--working-hours", "8", "--tenant", "gm0268"
    )
    assert code == 0, err
    assert out.strip() == "2026-04-29T10:30:00+02:00"


async def test_export_as_csv_and_json(nijmegen: Kcc, tmp_path: Path) -> None:
    kcc = nijmegen
    assert (await kcc(*PASPOORT_UPDATE))[0] == 0 and (await kcc(*DISABLE_PASPOORT))[0] == 0
    csv_file, json_file = tmp_path / "catalogue.csv", tmp_path / "catalogue.json"
    code, _, err = await kcc("tenancy", "export", "--tenant", "gm0268", "--format", "csv", "--out", str(csv_file))
    assert code == 0 and "wrote 450 products" in err
    lines = csv_file.read_text().splitlines()
    header = "product,display_name,upl_uri,department,handling,enabled,synonyms,ivr_codes"
    assert lines[0] == header + ",lexicon_added,lexicon_suppressed" and len(lines) == 451
    assert f"paspoort,paspoort,{UPL}paspoort,algemeen,FIRST_LINE,false,id-bewijs,1,," in lines
    code, _, _ = await kcc("tenancy", "export", "--tenant", "gm0268", "--format", "json", "--out", str(json_file))
    exported = json.loads(json_file.read_text())
    assert code == 0 and exported["tenant"] == "gm0268" and len(exported["products"]) == 450
    code, out, _ = await kcc("tenancy", "export", "--tenant", "gm0268", "--format", "json")
    assert code == 0 and json.loads(out) == exported


async def test_import_upl_and_onboard_all(env: Env, kcc: Kcc, tmp_path: Path) -> None:  # noqa: F811 - the fixture
    code, _, err = await kcc("tenancy", "import-upl", "--tenant", "gm0268")
    assert code == 1 and "NOT_FOUND" in err and "tenants/gm0268" in err

    gemeenten = tmp_path / "gemeenten.csv"
    gemeenten.write_text(
        "gemeentecode,naam,veiligheidsregio\nGM0268,Nijmegen,VR08\nGM0363,Amsterdam,VR13\nGM0344,Utrecht,VR09\n"
    )
    code, out, err = await kcc("tenancy", "onboard-all", "--file", str(gemeenten), "--no-progress")
    assert code == 0, err
    assert "onboarded 3/3 gemeenten" in out and "3 new tenant(s), 3 changed, 0 unchanged, 1350 products created" in out
    code, out, _ = await kcc("tenancy", "onboard-all", "--file", str(gemeenten), "--no-progress")
    assert code == 0 and "0 new tenant(s), 0 changed, 3 unchanged, 0 products created, 0 failed" in out
    gemeenten.write_text("gemeentecode,naam\nGM0268,Gemeente Nijmegen\n")
    code, out, _ = await kcc("tenancy", "onboard-all", "--file", str(gemeenten), "--no-progress")
    assert code == 0 and "1 changed" in out
    assert (
        await env.stub.GetTenant(tp.GetTenantRequest(name="tenants/gm0268"), metadata=env.admin)
    ).display_name == "Gemeente Nijmegen"

    code, out, err = await kcc("tenancy", "import-upl", "--tenant", "gm0268")
    assert code == 0, err
    assert "tenants/gm0268: 0 created, 0 updated, 450 unchanged" in out

    # A malformed file: a clear message naming the row; nothing changes.
    upl = tmp_path / "upl.csv"
    upl.write_text(f"UniformeProductnaam,URI,Gemeente\nnieuw product,{UPL}nieuw-product,X\nkapot product,geen-uri,X\n")
    code, _, err = await kcc("tenancy", "import-upl", "--tenant", "gm0268", str(upl))
    assert code == 2 and "line 3" in err and "nothing was imported" in err
    await fails(
        env.stub.GetProduct(tp.GetProductRequest(name="tenants/gm0268/products/nieuw-product"), metadata=env.admin),
        grpc.StatusCode.NOT_FOUND,
    )
    upl.write_text(
        f"UniformeProductnaam,URI,Gemeente\nnieuw product,{UPL}nieuw-product,X\nniet gemeentelijk,{UPL}rijks,\n"
    )
    code, out, _ = await kcc("tenancy", "import-upl", "--tenant", "gm0268", str(upl))
    assert code == 0 and "1 created, 0 updated, 0 unchanged" in out

    bad = tmp_path / "bad.csv"
    bad.write_text("code,name\nGM0268,Nijmegen\n")
    code, _, err = await kcc("tenancy", "onboard-all", "--file", str(bad), "--no-progress")
    assert code == 2 and "missing column" in err


async def test_calendar_add_without_a_server(kcc: Kcc) -> None:
    # Friday 24 April 2026 16:00; Monday 27 April is King's Day: 1 h Friday, 8.5 h Tuesday, 6.5 h Wednesday.
    code, out, err = await kcc("calendar", "add", "--from", "2026-04-24T16:00:00+02:00", "--working-hours", "16")
    assert code == 0, err
    assert out.strip() == "2026-04-29T15:00:00+02:00"
    code, out, _ = await kcc("calendar", "add", "--from", "2026-04-24T14:00:00Z", "--working-days", "1")
    assert code == 0 and out.strip() == "2026-04-28T16:00:00+02:00"
    code, out, _ = await kcc("calendar", "add", "--from", "2026-10-23T16:00:00+02:00", "--working-hours", "2")
    assert code == 0 and out.strip() == "2026-10-26T09:30:00+01:00"  # across the end of summer time
    code, _, err = await kcc("calendar", "add", "--from", "2026-04-24T16:00:00", "--working-hours", "1")
    assert code == 2 and "UTC offset" in err
    code, _, err = await kcc("calendar", "add", "--from", "2026-04-24T16:00:00+02:00", "--working-hours", "-1")
    assert code == 2 and "negative" in err
    code, _, err = await kcc(
        "calendar", "add", "--from", "2026-04-24T16:00:00+02:00", "--working-days", "1", "--tenant", "gm0999"
    )
    assert code == 1 and "NOT_FOUND" in err
