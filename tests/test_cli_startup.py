"""`kcc` starts at once: a command loads only its own module, and parsing it loads no gRPC,
database, NATS, token or recognizer code; `kcc classify` reads the recognizer it built before
from the user's cache (bench/cli_startup.py has the figures)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.cli import COMMAND_MODULES, COMMANDS, modules_for

HEAVY = (
    "grpc",
    "sqlalchemy",
    "sqlmodel",
    "nats",
    "jwt",
    "holidays",
    "services.routing.recognition",
    "services.tenancy.catalogue",
)


@pytest.mark.parametrize("module", COMMAND_MODULES)
def test_every_command_is_listed_with_its_module(module: str) -> None:
    sub = argparse.ArgumentParser().add_subparsers()
    importlib.import_module(module).add_commands(sub)
    assert set(sub.choices) == {command for command, owner in COMMANDS.items() if owner == module}


def test_a_command_loads_its_own_module_and_help_loads_all() -> None:
    assert modules_for(["tenancy", "departments", "list", "--tenant", "gm0268"]) == ("services.tenancy.cli",)
    assert modules_for(["--help"]) == COMMAND_MODULES


@pytest.mark.parametrize(
    "argv",
    [
        ["tenancy", "departments", "create", "--help"],
        ["tenancy", "import-upl", "--help"],
        ["callbacks", "watch", "--help"],
        ["calendar", "add", "--help"],
        ["classify", "--help"],
        ["serve", "--help"],
        ["up", "--help"],
        ["db", "upgrade", "--help"],
        ["plan", "erlang", "--help"],
        ["simulate", "--help"],
    ],
)
def test_parsing_a_command_loads_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    probe = (
        "import json, sys\n"
        "from services.cli import main\n"
        "try:\n"
        f"    main({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_classify_reads_the_recognizer_it_cached_and_rebuilds_a_spoiled_one(tmp_path: Path) -> None:
    """As a user runs it: each `kcc classify` a fresh process."""
    questions = "mijn paspoort is verlopen\nik wil een parkeervergunning\nwanneer wordt het grofvuil opgehaald\n"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def classify() -> str:
        done = subprocess.run(
            [sys.executable, "-m", "services.cli", "classify"],
            input=questions,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout

    built = classify()
    (cached,) = (tmp_path / "cache" / "kcc").glob("recognizer-*.pickle")
    written = cached.stat().st_mtime_ns
    assert classify() == built and cached.stat().st_mtime_ns == written  # read, not built again
    cached.write_bytes(b"spoiled")
    assert classify() == built
    assert cached.read_bytes() != b"spoiled"
