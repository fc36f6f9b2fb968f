"""`kcc auth ...`: how an admin gives a partner integration or an agent its credentials.

`issue-token` for the gRPC API; `nats-user` and `nats-config` for NATS, where a gemeente's
integration listens to its own `kcc.<tenant>.>` events (services/common/natsauth.py).
"""

from __future__ import annotations

import argparse
import json

from services.common import auth, production
from services.common.config import Settings


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("auth", help="credentials").add_subparsers(dest="auth_command", required=True)
    issue = parser.add_parser(
        "issue-token", help="sign a bearer token with the newest key of KCC_AUTH_KEYS (or KCC_AUTH_SECRET)"
    )
    issue.add_argument("--subject", required=True, help="who the token is for, e.g. nijmegen-telefonie")
    issue.add_argument("--role", required=True, choices=[r.value for r in auth.Role])
    issue.add_argument("--tenant", action="append", default=[], help="tenant id (gm0268); repeat for several")
    issue.add_argument("--department", default="", help="for department users: the department id")
    issue.add_argument("--ttl", type=int, default=3600 * 24 * 30, help="seconds (default 30 days)")
    issue.set_defaults(run=_issue)
    user = parser.add_parser("nats-user", help="a gemeente's NATS account for listening to its own events")
    user.add_argument("--tenant", required=True, help="tenant id (gm0268)")
    user.set_defaults(run=_nats_user)
    config = parser.add_parser("nats-config", help="print nats-server's users and permissions (deploy/)")
    config.add_argument("--tenant", action="append", default=[], help="add a tenant's user; repeat for several")
    config.set_defaults(run=_nats_config)


def _issue(args: argparse.Namespace) -> int:
    role = auth.Role(args.role)
    if role in (auth.Role.TENANT_INTEGRATION, auth.Role.DEPARTMENT_USER) and len(args.tenant) != 1:
        raise SystemExit(f"{role.value} tokens name exactly one --tenant")
    if role == auth.Role.DEPARTMENT_USER and not args.department:
        raise SystemExit("department_user tokens need --department")
    settings = Settings()
    if found := production.auth_problems(settings):
        raise SystemExit("kcc auth issue-token: " + str(production.ConfigError(found)))
    keys = auth.KeyRing.of(settings)
    print(auth.issue_token(keys, args.subject, role, args.tenant, args.department, args.ttl))
    return 0


def _nats_user(args: argparse.Namespace) -> int:
    """Prints the account; locally the password is generated into the data dir and loaded by the
    next `kcc up`. Elsewhere set KCC_NATS_PASSWORD_TENANT_<TENANT> (the Secret key in deploy/)."""
    from services.common import natsauth

    user = natsauth.tenant_user(args.tenant)
    password = natsauth.LocalPasswords(Settings().data_dir).get(user.name)
    account = {
        "user": user.name,
        "password": password,
        "subscribe": list(user.subscribe),
        "password_variable": natsauth.password_variable(user.name),
    }
    print(json.dumps(account, indent=2))
    return 0


def _nats_config(args: argparse.Namespace) -> int:
    """The `authorization` block of nats-server's config, passwords as environment references."""
    from services.common import natsauth

    print(natsauth.render(natsauth.users(args.tenant)), end="")
    return 0
