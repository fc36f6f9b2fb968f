"""`kcc wallboard link` prints a one-time login URL; `kcc wallboard serve` runs the web process.

The link is signed with the platform's token key (KCC_AUTH_SECRET or KCC_AUTH_KEYS), so it is
made wherever that key is, without a call to the running wallboard.
"""

from __future__ import annotations

import argparse
import os
import sys

from services.common import auth, production
from services.common.config import Settings
from services.wallboard import login


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    group = sub.add_parser("wallboard", help="the trafficer's live web page").add_subparsers(
        dest="wallboard_command", required=True
    )
    link = group.add_parser("link", help="print a one-time login URL for the wallboard")
    link.add_argument(
        "--role",
        default=login.ViewerRole.TRAFFICER.value,
        choices=[r.value for r in login.ViewerRole],
        help="trafficer or platform_admin: every gemeente and the actions; tenant: its own gemeente(n) only",
    )
    link.add_argument("--tenant", action="append", default=[], help="a gemeente the viewer sees (role tenant)")
    link.add_argument("--name", default="", help="who the link is for, as named in the logs and audit trails")
    link.set_defaults(run=_link)
    serve = group.add_parser("serve", help="run the wallboard on KCC_WALLBOARD_PORT (default 8080)")
    serve.set_defaults(run=_serve)


def base_url(settings: Settings) -> str:
    from services.wallboard.app import port

    return os.environ.get("KCC_WALLBOARD_URL") or f"http://{settings.host}:{port()}"


def login_url(settings: Settings, viewer: login.Viewer) -> str:
    return f"{base_url(settings).rstrip('/')}/login?token={login.issue_link(auth.KeyRing.of(settings), viewer)}"


def _link(args: argparse.Namespace) -> int:
    settings = Settings()
    if found := production.auth_problems(settings):
        raise SystemExit(f"kcc wallboard link: {found[0]}")
    try:
        viewer = login.viewer_for(args.role, args.tenant, args.name)
    except ValueError as exc:
        raise SystemExit(f"kcc wallboard link: {exc}") from None
    print(login_url(settings, viewer))
    print(f"one-time, valid {login.LINK_TTL_SECONDS // 60} minutes", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from services.wallboard.app import main

    main()
    return 0
