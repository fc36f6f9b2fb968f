"""`kcc callbacks ...`: purge once (local database), and the worklist over gRPC (list, watch, claim, complete,
usage-report). gRPC commands use KCC_CALLBACKS_TARGET and KCC_TOKEN (services/common/client.py)."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format

from kcc.callbacks.v1 import callbacks_pb2 as pb
from services.common.config import Settings

if TYPE_CHECKING:  # gRPC and the client load when a command runs, so that --help starts at once
    from kcc.callbacks.v1.callbacks_pb2_grpc import CallbackServiceStub as Stub
else:
    Stub = Any


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("callbacks", help="terugbelverzoeken")
    group = parser.add_subparsers(dest="callbacks_command", required=True)

    purge = group.add_parser("purge", help="delete closed callbacks older than each tenant's retention, once")
    purge.set_defaults(run=_purge)

    reencrypt = group.add_parser(
        "reencrypt", help="seal every callback's personal data with the newest key of KCC_ENCRYPTION_KEY"
    )
    reencrypt.set_defaults(run=_reencrypt)

    listing = group.add_parser("list", help="a tenant's callbacks as JSON lines")
    listing.add_argument("--tenant", required=True, help="e.g. gm0268")
    listing.add_argument("--department", default="", help="department id, e.g. burgerzaken")
    listing.add_argument("--status", action="append", default=[], choices=_statuses(), help="repeat for several")
    listing.add_argument("--assignee", default="")
    listing.set_defaults(run=_grpc(_list))

    watch = group.add_parser("watch", help="follow a department's worklist (JSON lines) until Ctrl-C")
    watch.add_argument("--tenant", required=True)
    watch.add_argument("--department", default="")
    watch.add_argument("--after", type=int, default=0, help="resume after this change sequence")
    watch.set_defaults(run=_grpc(_watch))

    claim = group.add_parser("claim", help="claim a callback")
    claim.add_argument("name", help="tenants/{tenant}/callbacks/{id}")
    claim.add_argument("--assignee", default="", help="default: the token's subject")
    claim.set_defaults(run=_grpc(_claim))

    complete = group.add_parser("complete", help="complete a callback")
    complete.add_argument("name")
    complete.add_argument("--outcome", default="afgehandeld")
    complete.add_argument("--note", default="")
    complete.set_defaults(run=_grpc(_complete))

    usage = group.add_parser("usage-report", help="callbacks per department over a date range (doorbelasting)")
    usage.add_argument("--tenant", required=True)
    usage.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD (tenant's local date)")
    usage.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD, inclusive")
    usage.add_argument("--csv", default="", help="write CSV here ('-' for stdout); default: JSON on stdout")
    usage.set_defaults(run=_grpc(_usage))
    report = group.add_parser(
        "accountability", help="per department: callbacks on time and breached, and the repeat contacts they cause"
    )
    report.add_argument("--tenant", required=True)
    report.add_argument("--from", dest="start", required=True, help="YYYY-MM-DD (tenant's local date)")
    report.add_argument("--to", dest="end", required=True, help="YYYY-MM-DD, inclusive")
    report.add_argument(
        "--csv", nargs="?", const="-", default="", help="CSV on stdout, or to the file named; default: JSON on stdout"
    )
    report.set_defaults(run=_grpc(_accountability))


def _statuses() -> list[str]:
    names = pb.Callback.Status.keys()
    return [n.removeprefix("STATUS_") for n in names if n != "STATUS_UNSPECIFIED"]


def _print(message: Any) -> None:
    print(json_format.MessageToJson(message, indent=None), flush=True)


Command = Callable[[Stub, tuple[tuple[str, str], ...], argparse.Namespace], Awaitable[int]]


def _grpc(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import grpc

        from kcc.callbacks.v1 import callbacks_pb2_grpc
        from services.common import client

        async def go() -> int:
            settings = Settings()
            metadata = client.metadata(client.token(settings))
            async with client.channel(settings, "callbacks") as channel:
                try:
                    return await command(callbacks_pb2_grpc.CallbackServiceStub(channel), metadata, args)
                except grpc.RpcError as err:
                    print(f"kcc callbacks: {err.code().name}: {err.details()}", file=sys.stderr)
                    return 1

        try:
            return asyncio.run(go())
        except KeyboardInterrupt:
            return 130

    return run


def _department(args: argparse.Namespace) -> str:
    if not args.department or "/" in args.department:
        return str(args.department)
    return f"tenants/{args.tenant}/departments/{args.department}"


async def _list(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    token = ""
    while True:
        page = await stub.ListCallbacks(
            pb.ListCallbacksRequest(
                parent=f"tenants/{args.tenant}",
                department=_department(args),
                statuses=[pb.Callback.Status.Value(f"STATUS_{s}") for s in args.status],
                assignee=args.assignee,
                page_token=token,
                page_size=500,
            ),
            metadata=md,
        )
        for item in page.callbacks:
            _print(item)
        token = page.next_page_token
        if not token:
            return 0


async def _watch(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    request = pb.WatchCallbacksRequest(
        parent=f"tenants/{args.tenant}", department=_department(args), after_sequence=args.after
    )
    async for item in stub.WatchCallbacks(request, metadata=md):
        _print(item)
    return 0


async def _claim(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    _print(await stub.ClaimCallback(pb.ClaimCallbackRequest(name=args.name, assignee=args.assignee), metadata=md))
    return 0


async def _complete(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    request = pb.CompleteCallbackRequest(name=args.name, outcome=args.outcome, note=args.note)
    _print(await stub.CompleteCallback(request, metadata=md))
    return 0


async def _usage(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from services.callbacks.usage import to_csv

    report = await stub.GetUsageReport(
        pb.GetUsageReportRequest(parent=f"tenants/{args.tenant}", start_date=args.start, end_date=args.end),
        metadata=md,
    )
    return await _report(args, report, to_csv(args.tenant, report.rows), len(report.rows))


async def _accountability(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    from services.callbacks.accountability import to_csv

    report = await stub.GetAccountabilityReport(
        pb.GetAccountabilityReportRequest(parent=f"tenants/{args.tenant}", start_date=args.start, end_date=args.end),
        metadata=md,
    )
    return await _report(args, report, to_csv(args.tenant, report.rows), len(report.rows))


async def _report(args: argparse.Namespace, report: Any, csv_text: str, rows: int) -> int:
    """A report as text, or with `--csv` as CSV on standard output (`-`) or in a file."""
    if not args.csv:
        _print(report)
    elif args.csv == "-":
        sys.stdout.write(csv_text)
    else:
        await asyncio.to_thread(_write, args.csv, csv_text)
        print(f"wrote {rows} rows to {args.csv}", file=sys.stderr)
    return 0


def _write(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="") as out:
        out.write(text)


def _purge(args: argparse.Namespace) -> int:
    return asyncio.run(purge_once(Settings()))


async def purge_once(settings: Settings, now: datetime | None = None) -> int:
    """Connects to the service's database and NATS (for retention per tenant), purges, prints counts."""
    from services.callbacks import purge
    from services.callbacks.app import CallbacksApp
    from services.common import nats_preflight
    from services.common.db import Database, make_engine
    from services.common.events import EventBus
    from services.common.migrations import prepare
    from services.common.snapshots import SnapshotFollower

    await nats_preflight.check(settings, "kcc callbacks purge")
    engine = make_engine(settings.database_url_for("callbacks"), "callbacks")
    await asyncio.to_thread(prepare, engine, CallbacksApp.schema(), settings.migrate_at_start)
    bus = await EventBus.connect(settings, "kcc-callbacks-purge")
    follower = SnapshotFollower()
    try:
        await follower.start(bus)
        deleted = await purge.purge(Database(engine), follower, now or datetime.now(UTC))
    finally:
        await follower.stop()
        await bus.close()
        engine.dispose()
    print(json.dumps({"deleted": deleted, "total": sum(deleted.values())}))
    return 0


def _reencrypt(args: argparse.Namespace) -> int:
    return asyncio.run(reencrypt_once(Settings()))


async def reencrypt_once(settings: Settings) -> int:
    """After a new key is put first in KCC_ENCRYPTION_KEY and every replica restarted: moves old rows
    to it, so the old key can then be dropped. Idempotent; safe while the service runs."""
    from services.callbacks.crypto import Vault, reencrypt
    from services.common.db import Database, make_engine

    if not settings.encryption_key.strip():
        raise SystemExit("kcc callbacks reencrypt: KCC_ENCRYPTION_KEY is empty: nothing to re-encrypt to")
    vault = Vault(settings)
    engine = make_engine(settings.database_url_for("callbacks"), "callbacks")
    try:
        read, rewritten = await reencrypt(Database(engine), vault)
    finally:
        engine.dispose()
    print(json.dumps({"callbacks": read, "reencrypted": rewritten}))
    return 0
