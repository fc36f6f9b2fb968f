"""`kcc`: one command line for serving, running locally and administering the platform.

Each area adds its own sub-commands (`add_commands`), so this file only wires them.
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
    "services.tenancy.cli",
    "services.callbacks.cli",
    "services.db_cli",
    "services.wallboard.cli",
    "services.planning.cli",
    "services.webhooks.cli",
)


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    parser = argparse.ArgumentParser(prog="kcc", description="Shared KCC platform for Dutch gemeenten")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    args = parser.parse_args(argv)
    return int(args.run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
