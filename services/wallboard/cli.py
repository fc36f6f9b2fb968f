"""`kcc wallboard link` prints a one-time login URL (`kcc serve wallboard` runs the web process).

The link is signed with the platform's token key (KCC_AUTH_SECRET or KCC_AUTH_KEYS), so it is
made wherever that key is, without a call to the running wallboard.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import urllib.request

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
        help="trafficer or platform_admin: every gemeente and the actions; tenant: its own gemeente(n) only; "
        "department: one department's callbacks and accountability",
    )
    link.add_argument("--tenant", action="append", default=[], help="a gemeente the viewer sees (role tenant)")
    link.add_argument("--department", default="", help="the department id, e.g. burgerzaken (role department)")
    link.add_argument("--name", default="", help="a staff id (not a name) for the logs and audit trails")
    link.set_defaults(run=_link)


def base_url(settings: Settings, port: int = 0) -> str:
    """Where the wallboard answers; with `port`, a second replica on this machine (`kcc up --cluster`)."""
    from services.wallboard.app import port as configured

    scheme = "https" if settings.tls_cert else "http"
    if port:
        return f"{scheme}://{settings.host}:{port}"
    return os.environ.get("KCC_WALLBOARD_URL") or f"{scheme}://{settings.host}:{configured()}"


def login_url(settings: Settings, viewer: login.Viewer) -> str:
    return f"{base_url(settings).rstrip('/')}/login?token={login.issue_link(auth.KeyRing.of(settings), viewer)}"


def trafficer_link(settings: Settings) -> str:
    """What `kcc up` prints: a trafficer's one-time link, on a local set-up's development key."""
    return login_url(settings, login.viewer_for(login.ViewerRole.TRAFFICER.value, [], "local-trafficer"))


def start_process(env: dict[str, str], nats_password: str, port: int = 0) -> subprocess.Popen[bytes]:
    """`kcc up`: the wallboard as its own process with its own NATS user; on `port` if given (a
    second replica), else on KCC_WALLBOARD_PORT. `wait_answering` then waits for it."""
    return subprocess.Popen(
        [sys.executable, "-m", "services.launcher", "wallboard"],
        env={
            **env,
            "KCC_NATS_USER": "wallboard",
            "KCC_NATS_PASSWORD": nats_password,
            **({"KCC_WALLBOARD_PORT": str(port)} if port else {}),
        },
    )


def wait_answering(proc: subprocess.Popen[bytes], port: int = 0, timeout: float = 30.0) -> None:
    url = f"{base_url(Settings(), port).rstrip('/')}/healthz"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"the wallboard did not answer at {url} within {timeout:.0f} s")


def _link(args: argparse.Namespace) -> int:
    settings = Settings()
    if found := production.auth_problems(settings):
        raise SystemExit(f"kcc wallboard link: {found[0]}")
    try:
        viewer = login.viewer_for(args.role, args.tenant, args.name, args.department)
    except ValueError as exc:
        raise SystemExit(f"kcc wallboard link: {exc}") from None
    print(login_url(settings, viewer))
    print(f"one-time, valid {login.LINK_TTL_SECONDS // 60} minutes", file=sys.stderr)
    return 0
