"""`kcc auth issue-token`: how an admin gives a partner integration or an agent its credentials."""

from __future__ import annotations

import argparse

from services.common import auth
from services.common.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("auth", help="credentials").add_subparsers(dest="auth_command", required=True)
    issue = parser.add_parser("issue-token", help="sign a bearer token with KCC_AUTH_SECRET")
    issue.add_argument("--subject", required=True, help="who the token is for, e.g. nijmegen-telefonie")
    issue.add_argument("--role", required=True, choices=[r.value for r in auth.Role])
    issue.add_argument("--tenant", action="append", default=[], help="tenant id (gm0268); repeat for several")
    issue.add_argument("--department", default="", help="for department users: the department id")
    issue.add_argument("--ttl", type=int, default=3600 * 24 * 30, help="seconds (default 30 days)")
    issue.set_defaults(run=_issue)


def _issue(args: argparse.Namespace) -> int:
    role = auth.Role(args.role)
    if role in (auth.Role.TENANT_INTEGRATION, auth.Role.DEPARTMENT_USER) and len(args.tenant) != 1:
        raise SystemExit(f"{role.value} tokens name exactly one --tenant")
    if role == auth.Role.DEPARTMENT_USER and not args.department:
        raise SystemExit("department_user tokens need --department")
    print(auth.issue_token(Settings().auth_secret, args.subject, role, args.tenant, args.department, args.ttl))
    return 0
