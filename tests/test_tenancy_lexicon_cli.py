"""`kcc tenancy lexicon show|update|suggestions|adopt|accuracy` and the lexicon columns of
`kcc tenancy export` (SQLite; the API tests in tests/test_tenancy_lexicon.py and
tests/test_lexicon_corrections.py cover PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from kcc.events.v1 import events_pb2
from services.common import events, lexicon
from services.tenancy.corrections import iso_week
from tests.builders import UPL
from tests.test_tenancy import Env, env  # noqa: F401 - a fixture
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


async def test_suggestions_adopt_and_accuracy(nijmegen: Kcc, env: Env) -> None:  # noqa: F811
    """Corrections arrive as routing publishes them (contact.completed); the commands report and adopt."""
    run = nijmegen
    said = [("afvalcontainer", "", ["blauwe", "flodder", "stuk"]), ("afvalcontainer", "", ["blauwe", "flodder"])]
    said.append(("afvalcontainer", "", ["blauwe", "flodder"]))  # three questions: shared words, kept in clear
    said.append(("paspoort", "paspoort", ["paspoort", "verlengen"]))
    for n, (actual, recognised, words) in enumerate(said):
        correction = events_pb2.RecognitionCorrection(
            product_uri=UPL + actual,
            recognised_product_uri=UPL + recognised if recognised else "",
            question_words=words,
            question_hash=f"hash-{n}",
        )
        changed = events_pb2.ContactChanged(
            contact=f"tenants/gm0268/contacts/c{n}", change="completed", agent="agents/fatima", correction=correction
        )
        await env.app.bus.publish(
            events.subject("gm0268", "contact", "completed"), events.envelope("gm0268", contact_changed=changed)
        )
    week = [iso_week(datetime.now(UTC)), "4", "1", "25.0%"]
    for _ in range(200):
        code, out, err = await run("tenancy", "lexicon", "accuracy", "--tenant", "gm0268")
        if week in [line.split() for line in out.splitlines()]:
            break
        await asyncio.sleep(0.05)
    assert code == 0 and week in [line.split() for line in out.splitlines()], (out, err)

    code, out, err = await run("tenancy", "lexicon", "suggestions", "--tenant", "gm0268")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].split() == ["3", "0", "afvalcontainer", "blauwe"]
    assert "afvalcontainer           blauwe flodder" in out and "stuk" not in out  # one question is no pattern

    code, _, err = await run("tenancy", "lexicon", "adopt", "--tenant", "gm0268", "--suggestion", "afvalcontainer:nee")
    assert code == 2 and "not a current suggestion: afvalcontainer:nee" in err
    adopt = ("tenancy", "lexicon", "adopt", "--tenant", "gm0268", "--suggestion", "afvalcontainer:blauwe flodder")
    code, out, err = await run(*adopt)
    assert code == 0 and "tenants/gm0268/products/afvalcontainer/lexicon: added blauwe flodder" in out, err
    code, out, _ = await run("tenancy", "lexicon", "show", "--tenant", "gm0268", "--product", "afvalcontainer")
    assert "added        blauwe flodder" in out
    code, out, _ = await run("tenancy", "lexicon", "suggestions", "--tenant", "gm0268")
    assert "blauwe flodder" not in out and "blauwe" in out
    code, out, err = await run("tenancy", "lexicon", "adopt", "--tenant", "gm0268", "--top", "1")
    assert code == 0 and "added blauwe" in out, err
