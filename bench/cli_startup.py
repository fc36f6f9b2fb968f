"""How long a `kcc` command takes before it does anything: the CLI's start-up.

Runs each command as a fresh process (`python -m services.cli`, what the `kcc` script runs)
several times, from an empty folder with an empty cache folder of its own, and prints the
median wall time and the median CPU time (user + system) of the process. No server runs: the
commands print help or work offline, so what is measured is start-up (imports, and what is
built before the command's work). `kcc classify` recognises one question with the default
catalogue: its first run builds the recognizer and fills the cache, the others read it.
On a machine shared with other work, CPU time is the steadier figure.
Run: .venv/bin/python bench/cli_startup.py [--runs N]
(Set PYTHONPATH to another checkout to measure its code with the same interpreter.)
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS: list[tuple[str, list[str], str]] = [
    ("kcc --help", ["--help"], ""),
    ("kcc tenancy --help", ["tenancy", "--help"], ""),
    ("kcc tenancy departments create --help", ["tenancy", "departments", "create", "--help"], ""),
    ("kcc callbacks watch --help", ["callbacks", "watch", "--help"], ""),
    ("kcc auth issue-token", ["auth", "issue-token", "--subject", "bench", "--role", "platform_admin"], ""),
    ("kcc classify (one question)", ["classify"], "mijn paspoort is verlopen\n"),
]


def timed(args: list[str], stdin: str, cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        input=stdin.encode(),
        capture_output=True,
        check=True,
        cwd=cwd,
        env=env,
    )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)
        env = {**os.environ, "XDG_CACHE_HOME": str(cwd / "cache"), "KCC_DATA_DIR": str(cwd / "var")}
        print(f"{'command':<42} {'wall':>7} {'cpu':>7}   (medians of {runs} fresh processes)")
        for label, args, stdin in COMMANDS:
            first = timed(args, stdin, cwd, env)  # warms the file cache and the byte-code; fills the cache
            results = [timed(args, stdin, cwd, env) for _ in range(runs)]
            wall = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            print(f"{label:<42} {wall:>6.2f}s {cpu:>6.2f}s   (first run {first[0]:.2f}s wall, {first[1]:.2f}s cpu)")


if __name__ == "__main__":
    main()
