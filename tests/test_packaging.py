"""The wheel works outside the source tree: it carries the data and the migrations.

The same path as the image (Dockerfile): build the wheel from the sources, install it into a
fresh virtualenv, run `kcc` from another directory. Offline: the wheel is built without build
isolation, and the new virtualenv borrows only the project environment's third-party packages
(a .pth line; the project itself is installed there as an editable finder, which a .pth line does
not activate), so everything of kcc-router that runs comes from the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from services.db_cli import service_schema

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("tenancy", "routing", "callbacks")


def run(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PYTHONPATH": "", **env},
        check=False,
    )


def source_copy(dest: Path) -> Path:
    """The project's files as git knows them, so the build writes nothing into the shared tree."""
    listed = run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT)
    if listed.returncode != 0:
        pytest.fail(f"git ls-files failed: {listed.stderr}")
    for name in filter(None, listed.stdout.split("\0")):
        source = ROOT / name
        if source.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; returns its bin directory."""
    tmp = tmp_path_factory.mktemp("packaging")
    sources = source_copy(tmp / "src")
    built = run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", tmp / "dist"],
        cwd=sources,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "dist").glob("kcc_router-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "services/data/upl/UPL-actueel.csv",
        "services/data/upl/synonyms.tsv",
        "services/data/nl/real-words-near-catalogue.txt",
        "services/data/nl/words.toml",
        "services/data/referral/bodies.csv",
        "services/data/referral/topics.tsv",
        "services/data/gemeenten.csv",
        "services/data/planning/profile.json",
        "services/data/SOURCES.md",
        "services/callbacks/migrations/env.py",
        "services/callbacks/migrations/script.py.mako",
        "services/callbacks/migrations/versions/callbacks_0001_initial.py",
        "kcc/routing/v1/routing_pb2.py",
    ):
        assert shipped in names, f"the wheel lacks {shipped}"
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    (Path(site) / "kcc-router-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp)
    assert pip.returncode == 0, pip.stdout + pip.stderr
    return venv / "bin"


def test_the_installed_wheel_recognises_a_question_from_another_directory(installed: Path, tmp_path: Path) -> None:
    where = run(
        [installed / "python", "-c", "import services, kcc; print(services.__file__, kcc.__path__[0])"], cwd=tmp_path
    )
    assert where.returncode == 0, where.stderr
    assert all(Path(p).is_relative_to(installed.parent) for p in where.stdout.split()), where.stdout

    classified = subprocess.run(
        [installed / "kcc", "classify"],
        input="mijn paspoort is verlopen\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": "", "XDG_CACHE_HOME": str(tmp_path / "cache")},
        check=False,
    )

    assert classified.returncode == 0, classified.stderr
    answer = json.loads(classified.stdout.splitlines()[0])
    assert answer["products"][0]["uri"].endswith("/paspoort"), answer


def test_the_installed_wheel_reads_the_shipped_upl_list(installed: Path, tmp_path: Path) -> None:
    mapping = run([installed / "kcc", "tenancy", "mapping"], cwd=tmp_path)
    assert mapping.returncode == 0, mapping.stderr
    assert mapping.stdout.startswith("default mapping of 450 products:")


def test_the_installed_wheel_plans_with_the_shipped_day_profile(installed: Path, tmp_path: Path) -> None:
    planned = run([installed / "kcc", "plan", "--tenant", "gm0268=220000"], cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    assert json.loads(planned.stdout.splitlines()[-1])["intervals"] == 18


def test_the_installed_wheel_migrates_every_schema(installed: Path, tmp_path: Path) -> None:
    upgraded = run(
        [installed / "kcc", "db", "upgrade"], cwd=tmp_path, KCC_DATA_DIR=str(tmp_path / "var"), KCC_DATABASE_URL=""
    )
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.splitlines() == [f"{s}: at {service_schema(s).head()}" for s in SERVICES]
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == ["callbacks.db", "routing.db", "tenancy.db"]
