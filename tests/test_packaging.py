"""The wheel works outside the source tree: it carries the data and the migrations.

The same path as the image (Dockerfile): build the wheel from the sources, install it into a
fresh virtualenv, run `kcc` from another directory. Offline: the wheel is built without build
isolation, and the new virtualenv borrows only the project environment's third-party packages
(a .pth line; the project itself is installed there as an editable finder, which a .pth line does
not activate), so everything of kcc-router that runs comes from the wheel. Because the third-party
packages are borrowed, a separate test checks that the run-time dependencies are exactly what
the services import; and the Dockerfile is checked by reading it (no Docker engine needed).
"""

from __future__ import annotations

import ast
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from services.common.config import DEFAULT_PORTS
from services.db_cli import APPS, service_schema
from services.wallboard.app import DEFAULT_PORT as WALLBOARD_PORT

ROOT = Path(__file__).resolve().parent.parent
SERVICES = tuple(APPS)  # the services with a database schema


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
    """A fresh virtualenv with the wheel installed; returns its bin directory. Made once per run:
    the first xdist worker to need it builds it under a lock in the run's temp dir, the others wait."""
    run_dir = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        run_dir = run_dir.parent  # the workers' dirs sit in the run's own
    tmp = run_dir / "packaging"
    with (run_dir / "packaging.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (tmp / "installed").exists():
            shutil.rmtree(tmp, ignore_errors=True)  # what a failed build left
            tmp.mkdir()
            install_wheel(tmp)
            (tmp / "installed").touch()
    return tmp / "venv" / "bin"


def install_wheel(tmp: Path) -> None:
    """Builds the wheel from a copy of the sources and installs it into `tmp`/venv."""
    sources = source_copy(tmp / "src")
    built = run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "-w", tmp / "dist"],
        cwd=sources,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (wheel,) = (tmp / "dist").glob("kcc_router-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    # What the services read at run time: the data, the wallboard's page, each schema's history.
    folders = ["services/data", "services/wallboard/static", *(f"services/{s}/migrations" for s in SERVICES)]
    shipped = [p for f in folders for p in (sources / f).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert len(shipped) > 30
    for path in [*shipped, sources / "proto" / "kcc" / "routing" / "v1" / "routing_pb2.py"]:
        name = path.relative_to(sources / "proto" if path.is_relative_to(sources / "proto") else sources).as_posix()
        assert name in names, f"the wheel lacks {name}"
    assert not any(n.startswith("tests/") for n in names)

    venv = tmp / "venv"
    made = run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=tmp).stdout.strip()
    (Path(site) / "kcc-router-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], cwd=tmp)
    assert pip.returncode == 0, pip.stdout + pip.stderr


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
    assert sorted(p.name for p in (tmp_path / "var").glob("*.db")) == sorted(f"{s}.db" for s in SERVICES)


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions per stage (continuation lines joined, comments left out)."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    stages: list[list[str]] = [[]]
    for line in (line.strip() for line in text.splitlines()):
        if line.startswith("FROM "):
            stages.append([])
        if line and not line.startswith("#"):
            stages[-1].append(line)
    return stages


def test_the_dockerfile_builds_one_slim_non_root_image_without_build_tools() -> None:
    """Docker is not needed to read what the image is; `make image` builds it where there is one."""
    preamble, build, final = dockerfile_stages()
    (base,) = [line.split("=", 1)[1] for line in preamble if line.startswith("ARG PYTHON_IMAGE=")]
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+(@sha256:[0-9a-f]{64})?|python@sha256:[0-9a-f]{64}", base), base
    assert build[0] == "FROM ${PYTHON_IMAGE} AS build" and final[0] == "FROM ${PYTHON_IMAGE}"
    # The build stage installs the wheel with the CLI extra only: no test servers, no dev tools.
    installs = [line for line in build if " install " in line]
    assert installs and all('.whl)[cli]"' in line and "[dev" not in line for line in installs), installs
    # The final stage takes the virtualenv alone, removes pip, and installs nothing.
    copies = [line for line in final if line.startswith("COPY")]
    assert copies == ["COPY --from=build /opt/kcc /opt/kcc"]
    runs = " ".join(line for line in final if line.startswith("RUN"))
    assert "pip uninstall --yes --quiet pip setuptools wheel" in runs
    assert not re.search(r"apt-get|apk |pip install|gcc|build-essential", runs)
    (user,) = [line.split()[1] for line in final if line.startswith("USER ")]
    assert int(user.split(":")[0]) > 0 and int(user.split(":")[1]) > 0
    assert 'ENTRYPOINT ["kcc"]' in final
    # Every port the manifests open on this image is declared.
    (exposed,) = [{int(p) for p in line.split()[1:]} for line in final if line.startswith("EXPOSE ")]
    assert exposed == {*DEFAULT_PORTS.values(), WALLBOARD_PORT, 8081}
    ignored = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if not line.startswith("#")]
    assert ignored[:1] == ["*"] and {"!pyproject.toml", "!proto/", "!services/"} <= set(ignored)


def third_party_imports(lazy: bool) -> dict[str, str]:
    """Top-level module -> a file importing it, over the package's code: at import time (lazy False)
    or only inside a function (lazy True, what an optional extra may provide)."""
    found: dict[str, str] = {}
    for path in sorted([*(ROOT / "services").rglob("*.py"), *(ROOT / "proto" / "kcc").rglob("*.py")]):
        tree = ast.parse(path.read_text())
        inner = {
            id(n) for f in ast.walk(tree) if isinstance(f, ast.FunctionDef | ast.AsyncFunctionDef) for n in ast.walk(f)
        }
        checking = {
            id(n)
            for i in ast.walk(tree)
            if isinstance(i, ast.If) and "TYPE_CHECKING" in ast.unparse(i.test)
            for n in ast.walk(i)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                modules = [node.module]
            else:
                continue
            if id(node) in checking or (id(node) in inner) != lazy:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top not in sys.stdlib_module_names and top not in ("services", "kcc"):
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def with_requirements(names: set[str]) -> set[str]:
    """The distributions and everything they need (not their extras), by normalised name."""
    closed: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in closed:
            continue
        closed.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if not requirement.marker or requirement.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(requirement.name))
    return closed


def test_run_time_dependencies_are_what_the_services_import() -> None:
    """Imported at start: a run-time dependency (or one of theirs); only inside a function: an extra
    (`cli`, `local`, `charts`); and nothing is a run-time dependency that no service imports."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = {
        canonicalize_name(Requirement(r).name)
        for extra in ("cli", "local", "charts")
        for r in project["optional-dependencies"][extra]
    }
    distributions = {m: {canonicalize_name(d) for d in ds} for m, ds in metadata.packages_distributions().items()}

    at_start, lazily = third_party_imports(lazy=False), third_party_imports(lazy=True)

    provided = with_requirements(runtime)
    missing = {m: f for m, f in at_start.items() if not distributions.get(m, set()) & provided}
    assert missing == {}, f"imported at start but not a run-time dependency: {missing}"
    optional = with_requirements(runtime | extras)
    missing = {m: f for m, f in lazily.items() if not distributions.get(m, set()) & optional}
    assert missing == {}, f"imported by a command but in no extra: {missing}"
    imported = {d for m in [*at_start, *lazily] for d in distributions.get(m, set())}
    # psycopg is SQLAlchemy's driver for the postgresql:// URLs (services/common/db.py), never imported.
    assert runtime - imported == {"psycopg"}
