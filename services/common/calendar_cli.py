"""`kcc calendar add`: working-hours arithmetic from the command line.

Without `--tenant` it uses the default calendar (Monday to Friday 08:30-17:00,
Europe/Amsterdam, closed on Dutch public holidays) and needs no server; with
`--tenant gm0268` it fetches that tenant's calendar from the running tenancy service.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the calendar (with its holidays) and gRPC load when a command runs
    from services.common.calendar import BusinessCalendar


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("calendar", help="working-hours arithmetic on a business calendar")
    commands = parser.add_subparsers(dest="calendar_command", required=True)
    add = commands.add_parser(
        "add",
        help="the moment N working hours or days after a start",
        description="Prints the deadline in ISO 8601 with its UTC offset, e.g. 2026-04-28T16:00:00+02:00.",
    )
    add.add_argument(
        "--from", dest="start", required=True, help="start with a UTC offset, e.g. 2026-04-24T16:00:00+02:00"
    )
    amount = add.add_mutually_exclusive_group(required=True)
    amount.add_argument("--working-hours", type=float, help="working hours to add (may be fractional)")
    amount.add_argument("--working-days", type=int, help="working days to add")
    add.add_argument("--tenant", help="use this tenant's calendar from the running tenancy service, e.g. gm0268")
    add.set_defaults(run=_add)


def parse_moment(text: str) -> datetime:
    """An ISO 8601 moment with a UTC offset (`Z` allowed); a moment without one is ambiguous."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"--from {text!r} is not an ISO 8601 moment") from exc
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"--from {text!r} needs a UTC offset, e.g. 2026-04-24T16:00:00+02:00")
    return moment


def compute(calendar: BusinessCalendar, start: datetime, hours: float | None, days: int | None) -> datetime:
    if days is not None:
        return calendar.add_working_days(start, days)
    assert hours is not None
    return calendar.add_working_hours(start, hours)


def _add(args: argparse.Namespace) -> int:
    import asyncio

    import grpc

    from services.common.calendar import DEFAULT_CALENDAR
    from services.common.errors import ApiError, error_info

    try:
        start = parse_moment(args.start)
        calendar = asyncio.run(_tenant_calendar(args.tenant)) if args.tenant else DEFAULT_CALENDAR
        result = compute(calendar, start, args.working_hours, args.working_days)
    except grpc.aio.AioRpcError as err:
        info = error_info(err)
        reason = f" (reason {info.reason})" if info is not None and info.reason else ""
        print(f"kcc calendar: {err.code().name}: {err.details()}{reason}", file=sys.stderr)
        return 1
    except ApiError as err:
        print(f"kcc calendar: {err.message}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as exc:
        print(f"kcc calendar: {exc}", file=sys.stderr)
        return 2
    print(result.isoformat())
    return 0


async def _tenant_calendar(tenant: str) -> BusinessCalendar:
    from kcc.tenancy.v1 import tenancy_pb2, tenancy_pb2_grpc
    from services.common import client
    from services.common.calendar_proto import calendar_from_msg
    from services.common.config import Settings

    settings = Settings()
    async with client.channel(settings, "tenancy") as channel:
        reply = await tenancy_pb2_grpc.TenancyServiceStub(channel).GetBusinessCalendar(
            tenancy_pb2.GetBusinessCalendarRequest(name=f"tenants/{tenant}/businessCalendar"),
            metadata=client.metadata(client.token(settings)),
            timeout=30,
        )
    return calendar_from_msg(reply)
