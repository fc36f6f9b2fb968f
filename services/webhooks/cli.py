"""`kcc events ...`: a partner's webhook subscriptions over gRPC (KCC_WEBHOOKS_TARGET, KCC_TOKEN).

`kcc events subscribe --tenant gm0268 --url https://crm.example.nl/kcc --filter 'callback.*'`
prints the subscription, and the signing secret once when it generated one.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from google.protobuf import json_format
from google.protobuf.message import Message

from kcc.webhooks.v1 import webhooks_pb2 as pb
from services.common.config import Settings

if TYPE_CHECKING:  # gRPC loads when a command runs, not when it is parsed (tests/test_cli_startup.py)
    from kcc.webhooks.v1.webhooks_pb2_grpc import WebhookServiceStub as Stub

Command = Callable[["Stub", Any, argparse.Namespace], Awaitable[int]]


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = sub.add_parser("events", help="webhook subscriptions: signed CloudEvents to a partner's URL")
    group = parser.add_subparsers(dest="events_command", required=True)

    subscribe = group.add_parser("subscribe", help="deliver a tenant's events to a URL")
    subscribe.add_argument("--tenant", required=True, help="e.g. gm0268")
    subscribe.add_argument("--url", required=True, help="https://...; http:// on loopback outside production")
    subscribe.add_argument(
        "--filter", action="append", default=[], help="event type such as callback.* or contact.routed; repeat"
    )
    subscribe.add_argument("--id", default="", help="subscription id; default: generated")
    subscribe.add_argument("--secret", default="", help="signing secret; default: generated and printed once")
    subscribe.add_argument("--header", action="append", default=[], help="'Name: value' sent with each event")
    subscribe.add_argument("--paused", action="store_true", help="create it paused")
    subscribe.set_defaults(run=_grpc(_subscribe))

    listing = group.add_parser("list", help="a tenant's subscriptions with their figures, as JSON lines")
    listing.add_argument("--tenant", required=True)
    listing.set_defaults(run=_grpc(_list))

    for verb, call in (("get", _get), ("pause", _pause), ("resume", _resume), ("delete", _delete)):
        command = group.add_parser(verb, help=f"{verb} a subscription")
        command.add_argument("subscription", help="tenants/{tenant}/subscriptions/{id}, or the id with --tenant")
        command.add_argument("--tenant", default="")
        command.set_defaults(run=_grpc(call))

    letters = group.add_parser("dead-letters", help="events parked after the retry period")
    letters.add_argument("--subscription", required=True)
    letters.add_argument("--tenant", default="")
    letters.set_defaults(run=_grpc(_dead_letters))

    redeliver = group.add_parser("redeliver", help="deliver parked events again (all, or those named)")
    redeliver.add_argument("--subscription", required=True)
    redeliver.add_argument("--tenant", default="")
    redeliver.add_argument("--dead-letter", action="append", default=[], help="a dead letter's name; repeat")
    redeliver.set_defaults(run=_grpc(_redeliver))

    replay = group.add_parser("replay", help="deliver again every wanted event from a time or a stream sequence")
    replay.add_argument("--subscription", required=True)
    replay.add_argument("--tenant", default="")
    replay.add_argument("--from", dest="start", required=True, help="RFC 3339 time (2026-12-03T08:00:00Z) or sequence")
    replay.set_defaults(run=_grpc(_replay))


def _grpc(command: Command) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        import grpc

        from kcc.webhooks.v1.webhooks_pb2_grpc import WebhookServiceStub
        from services.common import client

        async def go() -> int:
            settings = Settings()
            metadata = client.metadata(client.token(settings))
            async with client.channel(settings, "webhooks") as channel:
                try:
                    return await command(WebhookServiceStub(channel), metadata, args)
                except grpc.RpcError as err:
                    print(f"kcc events: {err.code().name}: {err.details()}", file=sys.stderr)
                    return 1

        return asyncio.run(go())

    return run


def _print(message: Message) -> None:
    print(json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True)), flush=True)


def _name(value: str, tenant: str) -> str:
    if "/" in value or not tenant:
        return value
    return f"tenants/{tenant}/subscriptions/{value}"


def _header(value: str) -> pb.Header:
    name, sep, rest = value.partition(":")
    if not sep:
        raise SystemExit(f"kcc events: --header must be 'Name: value', not {name!r}")
    return pb.Header(key=name.strip(), value=rest.strip())


async def _subscribe(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    # The Standard Webhooks form: its libraries decode the base64 after the prefix.
    secret = args.secret or "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    created = await stub.CreateSubscription(
        pb.CreateSubscriptionRequest(
            parent=f"tenants/{args.tenant}",
            subscription_id=args.id,
            subscription=pb.Subscription(
                url=args.url,
                event_types=args.filter,
                secret=secret,
                headers=[_header(h) for h in args.header],
                state=pb.Subscription.STATE_PAUSED if args.paused else pb.Subscription.STATE_ACTIVE,
            ),
            request_id=secrets.token_hex(16),
        ),
        metadata=md,
    )
    _print(created)
    if not args.secret:
        print(f"signing secret (shown once): {secret}", file=sys.stderr)
    return 0


async def _list(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    token = ""
    while True:
        page = await stub.ListSubscriptions(
            pb.ListSubscriptionsRequest(parent=f"tenants/{args.tenant}", page_token=token), metadata=md
        )
        for subscription in page.subscriptions:
            _print(subscription)
        token = page.next_page_token
        if not token:
            return 0


async def _get(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    _print(
        await stub.GetSubscription(pb.GetSubscriptionRequest(name=_name(args.subscription, args.tenant)), metadata=md)
    )
    return 0


async def _pause(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    name = _name(args.subscription, args.tenant)
    _print(await stub.PauseSubscription(pb.PauseSubscriptionRequest(name=name), metadata=md))
    return 0


async def _resume(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    name = _name(args.subscription, args.tenant)
    _print(await stub.ResumeSubscription(pb.ResumeSubscriptionRequest(name=name), metadata=md))
    return 0


async def _delete(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    await stub.DeleteSubscription(pb.DeleteSubscriptionRequest(name=_name(args.subscription, args.tenant)), metadata=md)
    return 0


async def _dead_letters(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    parent, token = _name(args.subscription, args.tenant), ""
    while True:
        page = await stub.ListDeadLetters(pb.ListDeadLettersRequest(parent=parent, page_token=token), metadata=md)
        for letter in page.dead_letters:
            _print(letter)
        token = page.next_page_token
        if not token:
            return 0


async def _redeliver(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    request = pb.RedeliverDeadLettersRequest(parent=_name(args.subscription, args.tenant), names=args.dead_letter)
    for letter in (await stub.RedeliverDeadLetters(request, metadata=md)).dead_letters:
        _print(letter)
    return 0


async def _replay(stub: Stub, md: Any, args: argparse.Namespace) -> int:
    request = pb.ReplaySubscriptionRequest(name=_name(args.subscription, args.tenant))
    if args.start.isdigit():
        request.start_sequence = int(args.start)
    else:
        try:
            request.start_time.FromJsonString(args.start)
        except ValueError:
            print("kcc events: --from must be an RFC 3339 time or a stream sequence", file=sys.stderr)
            return 2
    _print(await stub.ReplaySubscription(request, metadata=md))
    return 0
