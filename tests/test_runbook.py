"""deploy/README.md (the runbook) agrees with the manifests it describes: every Secret they name is
explained, the commands an operator copies name every Deployment they must reach, and the
production overlay's volumes and stream cap hold the sizing table's figures."""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from services.common.config import ROOT
from tests.support.kubernetes import Doc, documents, of_kind

RUNBOOK = (ROOT / "deploy" / "README.md").read_text()
UNITS = {"B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


@pytest.fixture(scope="module")
def production() -> list[Doc]:
    return documents("production")


def secret_references(node: Any) -> Iterator[tuple[str, str]]:
    """(Secret, key) for every reference in a manifest; key "" where the whole Secret is used."""
    if isinstance(node, list):
        for item in node:
            yield from secret_references(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "secretKeyRef" or (key == "s3Credentials" and isinstance(value, dict)):
                refs = [value] if key == "secretKeyRef" else list(value.values())
                yield from ((ref["name"], ref["key"]) for ref in refs)
            elif key in ("secretName", "passwordSecret"):
                yield (value if isinstance(value, str) else value["name"]), ""
            else:
                yield from secret_references(value)


def section(title: str) -> str:
    """The runbook's text from a heading or bold paragraph title to the next one."""
    start = RUNBOOK.index(title)
    following = re.search(r"^(#+ |\*\*)", RUNBOOK[start + len(title) :], re.M)
    return RUNBOOK[start : start + len(title) + following.start()] if following else RUNBOOK[start:]


def commands(text: str, verb: str) -> list[str]:
    """The `kubectl ... <verb> ...` commands in a piece of the runbook, with their arguments
    (a shell command continued on the next line with a backslash is one)."""
    return re.findall(rf"kubectl[^`\n]*{verb}[^`\n]*", re.sub(r"\\\n\s*", " ", text))


def deployments_using(docs: list[Doc], secret: str, key: str = "") -> set[str]:
    return {
        d["metadata"]["name"]
        for d in of_kind(docs, "Deployment")
        if any(name == secret and (not key or k == key) for name, k in secret_references(d))
    }


def test_every_secret_the_manifests_name_is_explained(production: list[Doc]) -> None:
    references = set(secret_references(production))
    assert references, "the manifests reference no Secret"
    for secret, key in sorted(references):
        assert f"`{secret}`" in RUNBOOK, f"deploy/README.md does not explain the Secret {secret}"
        assert not key or key in RUNBOOK, f"deploy/README.md does not say what {secret} holds in {key}"


def test_the_first_rollout_waits_for_every_deployment(production: list[Doc]) -> None:
    (waits,) = [c for c in commands(section("## Install order"), "rollout status") if "deploy/" in c]
    for deployment in of_kind(production, "Deployment"):
        assert f"deploy/{deployment['metadata']['name']}" in waits, waits


@pytest.mark.parametrize(
    ("title", "secret", "key"),
    [("**Token keys", "kcc-keys", "KCC_AUTH_KEYS"), ("**TLS.**", "kcc-grpc-tls", "")],
)
def test_a_key_rotation_restarts_every_deployment_that_reads_the_key(
    production: list[Doc], title: str, secret: str, key: str
) -> None:
    """A pod that is not restarted keeps the old key: it refuses tokens signed with the new one."""
    readers = deployments_using(production, secret, key)
    assert readers
    restarts = " ".join(commands(section(title), "rollout restart"))
    assert {d for d in readers if f"deploy/{d}" not in restarts} == set(), restarts


def table_value(figure: str) -> str:
    (value,) = re.findall(rf"^\| {re.escape(figure)} \| ([^|]+) \|", section("## Sizing"), re.M)
    return value.strip()


def in_bytes(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.,]+) ?([KMGT]?i?B?|Ki|Mi|Gi)", value).groups()  # type: ignore[union-attr]
    return float(number.replace(",", "")) * UNITS[unit or "B"]


def test_the_sizing_table_is_the_scripts_output_for_the_recorded_figures() -> None:
    """The table is computed by bench/sizing.py from what it measured, not edited by hand."""
    spec = importlib.util.spec_from_file_location("sizing", ROOT / "bench" / "sizing.py")
    assert spec and spec.loader
    sizing = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sizing)
    figures = json.loads((ROOT / "deploy" / "sizing-figures.json").read_text())
    table = sizing.table(figures, sizing.arguments().parse_args([]))
    assert table in section("## Sizing"), table


def test_the_production_overlay_holds_the_sizing_table(production: list[Doc]) -> None:
    (nats,) = [d for d in of_kind(production, "StatefulSet") if d["metadata"]["name"] == "nats"]
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    nats_volume = in_bytes(claim["spec"]["resources"]["requests"]["storage"])
    config = next(c for c in of_kind(production, "ConfigMap") if c["metadata"]["name"].startswith("kcc-config-"))
    stream_cap = int(config["data"]["KCC_STREAM_MAX_BYTES"])
    (cluster,) = of_kind(production, "Cluster")

    store = next(
        e for e in nats["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "NATS_MAX_FILE_STORE"
    )
    assert int(table_value("KCC_STREAM_MAX_BYTES")) <= stream_cap < int(store["value"]) < nats_volume
    assert in_bytes(table_value("NATS volume per node")) <= nats_volume
    assert in_bytes(table_value("PostgreSQL volume per instance")) <= in_bytes(cluster["spec"]["storage"]["size"])
    # A new routing replica replays before it is ready: its startup probe must wait that long.
    (routing,) = [d for d in of_kind(production, "Deployment") if d["metadata"]["name"] == "kcc-routing"]
    probe = routing["spec"]["template"]["spec"]["containers"][0]["startupProbe"]
    replay = float(table_value("routing replay at start").removesuffix(" s").replace(",", ""))
    assert replay <= probe["periodSeconds"] * probe["failureThreshold"]


def test_schema_commands_run_in_the_pod_of_the_service_they_name() -> None:
    """Each pod holds its own database's URL only: `kcc db` there must name that service."""
    found = re.findall(r"exec deploy/kcc-([$<>\w]+) -- kcc db (?:current|upgrade)([^`\n]*)", RUNBOOK)
    assert found
    for service, arguments in found:
        assert f"--service {service}" in arguments, (service, arguments)
