"""`kcc tenancy sla ...`: servicenormen; the most specific policy applies."""

from __future__ import annotations

import argparse
from typing import Any

from kcc.tenancy.v1 import tenancy_pb2 as pb
from services.common.enums import CHANNELS
from services.tenancy.cli.common import (
    TIMEOUT,
    Metadata,
    Stub,
    UsageError,
    add,
    last,
    mask,
    pages,
    table,
    tenant_arg,
)


def add_commands(groups: Any) -> None:
    sla = groups.add_parser("sla", help="servicenormen").add_subparsers(dest="sla_command", required=True)
    p = add(sla, "list", _sla_list, "list a tenant's SLA policies")
    tenant_arg(p)
    for name, command, text in (
        ("create", _sla_create, "create an SLA policy (the most specific policy wins)"),
        ("update", _sla_update, "change the fields given"),
    ):
        p = add(sla, name, command, text)
        tenant_arg(p)
        p.add_argument("--id", required=True, help="policy id, e.g. default or paspoort-telefoon")
        p.add_argument("--channel", choices=CHANNELS.names)
        p.add_argument("--department", help="department id")
        p.add_argument("--product", help="product slug")
        p.add_argument("--answer-seconds", type=int)
        p.add_argument("--answer-percent", type=int)
        deadline = p.add_mutually_exclusive_group()
        deadline.add_argument("--callback-hours", type=int, help="callback deadline in working hours")
        deadline.add_argument("--callback-days", type=int, help="callback deadline in working days")
        p.add_argument("--warning-percent", type=int)
        p.add_argument("--max-attempts", type=int)
        p.add_argument("--escalation", help="escalation target (department name or role)")
        if name == "create":
            p.add_argument("--request-id", default="")


def _sla_line(s: pb.SlaPolicy) -> list[str]:
    deadline = (
        f"{s.callback_working_days} working days"
        if s.WhichOneof("callback_deadline") == "callback_working_days"
        else f"{s.callback_working_hours} working hours"
    )
    return [
        last(s.name),
        CHANNELS.name(s.channel) or "*",
        last(s.department) or "*",
        last(s.product) or "*",
        f"{s.answer_target.percent}% in {s.answer_target.seconds}s",
        deadline,
        f"{s.warning_percent}%",
        str(s.max_callback_attempts),
        s.escalation_target,
    ]


SLA_HEADER = ["POLICY", "CHANNEL", "DEPARTMENT", "PRODUCT", "ANSWER", "CALLBACK", "WARN", "ATTEMPTS", "ESCALATION"]


async def _sla_list(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    parent = f"tenants/{args.tenant}"
    rows = [
        _sla_line(s)
        async for s in pages(
            lambda token: stub.ListSlaPolicies(
                pb.ListSlaPoliciesRequest(parent=parent, page_size=500, page_token=token), metadata=md, timeout=TIMEOUT
            ),
            "sla_policies",
        )
    ]
    table(rows, SLA_HEADER)
    print(f"{len(rows)} SLA polic{'y' if len(rows) == 1 else 'ies'} (the most specific one applies; * = any)")
    return 0


def _sla_from_args(args: argparse.Namespace) -> tuple[pb.SlaPolicy, list[str]]:
    tenant = args.tenant
    policy = pb.SlaPolicy(name=f"tenants/{tenant}/slaPolicies/{args.id}")
    paths: list[str] = []
    if args.channel is not None:
        policy.channel = CHANNELS.number(args.channel)
        paths.append("channel")
    if args.department is not None:
        policy.department = f"tenants/{tenant}/departments/{args.department}" if args.department else ""
        paths.append("department")
    if args.product is not None:
        policy.product = f"tenants/{tenant}/products/{args.product}" if args.product else ""
        paths.append("product")
    if args.answer_seconds is not None or args.answer_percent is not None:
        policy.answer_target.seconds = args.answer_seconds or 0
        policy.answer_target.percent = args.answer_percent or 0
        paths.append("answer_target")
    if args.callback_hours is not None:
        policy.callback_working_hours = args.callback_hours
        paths.append("callback_deadline")
    if args.callback_days is not None:
        policy.callback_working_days = args.callback_days
        paths.append("callback_deadline")
    if args.warning_percent is not None:
        policy.warning_percent = args.warning_percent
        paths.append("warning_percent")
    if args.max_attempts is not None:
        policy.max_callback_attempts = args.max_attempts
        paths.append("max_callback_attempts")
    if args.escalation is not None:
        policy.escalation_target = args.escalation
        paths.append("escalation_target")
    return policy, paths


async def _sla_create(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    policy, _paths = _sla_from_args(args)
    policy.ClearField("name")
    created = await stub.CreateSlaPolicy(
        pb.CreateSlaPolicyRequest(
            parent=f"tenants/{args.tenant}", sla_policy_id=args.id, sla_policy=policy, request_id=args.request_id
        ),
        metadata=md,
        timeout=TIMEOUT,
    )
    print(f"created {created.name}")
    table([_sla_line(created)], SLA_HEADER)
    return 0


async def _sla_update(stub: Stub, md: Metadata, args: argparse.Namespace) -> int:
    policy, paths = _sla_from_args(args)
    if not paths:
        raise UsageError("nothing to update (see --help)")
    if "answer_target" in paths and (args.answer_seconds is None or args.answer_percent is None):
        current = await stub.GetSlaPolicy(pb.GetSlaPolicyRequest(name=policy.name), metadata=md, timeout=TIMEOUT)
        policy.answer_target.seconds = args.answer_seconds or current.answer_target.seconds
        policy.answer_target.percent = args.answer_percent or current.answer_target.percent
    updated = await stub.UpdateSlaPolicy(
        pb.UpdateSlaPolicyRequest(sla_policy=policy, update_mask=mask(*paths)), metadata=md, timeout=TIMEOUT
    )
    print(f"updated {updated.name}: " + ", ".join(paths))
    table([_sla_line(updated)], SLA_HEADER)
    return 0
