"""`kcc tenancy lexicon show|update` and the lexicon columns of `kcc tenancy export` (SQLite; the API
tests in tests/test_tenancy_lexicon.py cover PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

from services.common import lexicon
from tests.test_tenancy import env  # noqa: F401 - a fixture
from tests.test_tenancy_cli import Kcc, database_url, kcc, nijmegen  # noqa: F401 - fixtures


async def test_update_show_and_export(nijmegen: Kcc, tmp_path: Path) -> None:  # noqa: F811
    run = nijmegen
    unwanted = lexicon.default().phrases["paspoort"][0]
    product = ("--tenant", "gm0268", "--product", "paspoort")
    code, out, err = await run(
        "tenancy", "lexicon", "update", *product, "--add", "groene loper", "--suppress", unwanted
    )
    assert code == 0, err
    assert "added        groene loper" in out and f"suppressed   {unwanted}" in out
    code, out, _ = await run("tenancy", "lexicon", "show", *product)
    assert code == 0 and f"default lexicon {lexicon.default().version}" in out and "groene loper" in out
    code, _, err = await run("tenancy", "lexicon", "update", *product, "--suppress", "niet een standaardzin")
    assert code == 1 and "INVALID_ARGUMENT" in err
    code, _, err = await run("tenancy", "lexicon", "update", *product)
    assert code == 2 and "give --add, --suppress or --reset" in err

    exported = tmp_path / "catalogue.json"
    code, _, err = await run("tenancy", "export", "--tenant", "gm0268", "--format", "json", "--out", str(exported))
    assert code == 0, err
    paspoort = next(p for p in json.loads(exported.read_text())["products"] if p["product"] == "paspoort")
    assert paspoort["lexicon_added"] == ["groene loper"] and paspoort["lexicon_suppressed"] == [unwanted]
