"""`kcc`: one command line for serving, running locally and administering the platform.

Each area adds its own sub-commands (`add_commands`), so this file only wires them. A command
imports only its own module (and that module what the command needs, when it runs), so it starts
at once; `bench/cli_startup.py` measures it.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMAND_MODULES = (
    "services.launcher",
    "services.common.auth_cli",
    "services.common.calendar_cli",
    "services.routing.cli",
    "services.routing.agents_cli",
    "services.tenancy.cli",
    "services.callbacks.cli",
    "services.db_cli",
    "services.wallboard.cli",
    "services.planning.cli",
    "services.webhooks.cli",
)


# The module of each command; a command not listed here (or `kcc --help`) loads every module.
COMMANDS = {
    "serve": "services.launcher",
    "up": "services.launcher",
    "auth": "services.common.auth_cli",
    "calendar": "services.common.calendar_cli",
    "classify": "services.routing.cli",
    "agents": "services.routing.agents_cli",
    "tenancy": "services.tenancy.cli",
    "callbacks": "services.callbacks.cli",
    "db": "services.db_cli",
    "wallboard": "services.wallboard.cli",
    "plan": "services.planning.cli",
    "simulate": "services.planning.cli",
    "events": "services.webhooks.cli",
}


def modules_for(argv: list[str]) -> tuple[str, ...]:
    """The modules whose commands the parser needs for this command line."""
    named = next((arg for arg in argv if not arg.startswith("-")), "")
    return (COMMANDS[named],) if named in COMMANDS else COMMAND_MODULES


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="kcc", description="Shared KCC platform for Dutch gemeenten")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in modules_for(argv):
        importlib.import_module(module).add_commands(sub)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
