"""`kcc tenancy ...`: administer tenants, departments, the catalogue, SLA policies and calendars.

One module per resource, like the service; each adds its own sub-commands.
"""

from __future__ import annotations

import argparse

from services.tenancy.cli import calendars, departments, entry_points, lexicon, products, sla_policies, tenants, upl


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    tenancy = sub.add_parser("tenancy", help="administer gemeenten, catalogues, SLA policies and calendars")
    groups = tenancy.add_subparsers(dest="tenancy_command", required=True)
    for module in (tenants, departments, products, lexicon, entry_points, sla_policies, calendars, upl):
        module.add_commands(groups)
