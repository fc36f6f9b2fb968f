"""Who may call what: every RPC of every service, for every role, on its own tenant and on another's.

The RPCs are read from the service descriptors, so an RPC added without a row in `CASES`
fails `test_every_rpc_has_a_row`. For each RPC and role the test calls the real services
(tenancy, routing and callbacks on one nats-server) three more times as a caller of
Nijmegen: on Arnhem's real resources, on guessed ids under Arnhem, and on a gemeente that
does not exist. Those three must fail alike, with PERMISSION_DENIED or NOT_FOUND, so a
caller cannot even learn what exists elsewhere; and no answer may carry Arnhem's id.
"""

from __future__ import annotations

import grpc

from services.common import auth, client
from tests.rpc_table import BROKEN, CASES, DENIED, NAMES_NO_TENANT, OTHER, ROLES, World, call, rpcs


def test_every_rpc_has_a_row() -> None:
    assert sorted(rpcs()) == sorted(CASES), "add a row to CASES for each new RPC"


async def test_every_rpc_for_every_role_on_its_own_and_another_tenant(world: World) -> None:
    problems: list[str] = []
    # Delete-style calls that succeed change the world, so the platform admin goes last.
    for role in sorted(ROLES, key=lambda r: r == auth.Role.PLATFORM_ADMIN):
        md = world.metadata(role)
        reaches_all = role in (auth.Role.PLATFORM_ADMIN, auth.Role.SERVICE)
        for rpc, row in CASES.items():
            code, answer, _ = await call(world, rpc, await row.build(world, world.own, True), md, first=True)
            if role in row.allowed and (code in DENIED or code in BROKEN):
                problems.append(f"{rpc} as {role} on its own tenant: {code.name}, expected to be let through")
            if role not in row.allowed and code != grpc.StatusCode.PERMISSION_DENIED:
                problems.append(f"{rpc} as {role}: {code.name}, expected PERMISSION_DENIED")
            if not reaches_all and OTHER.encode() in answer:
                problems.append(f"{rpc} as {role} on its own tenant answered with data of {OTHER}")
            if reaches_all or rpc in NAMES_NO_TENANT:
                continue
            seen: dict[str, grpc.StatusCode] = {}
            for label, side in world.others().items():
                code, answer, _ = await call(world, rpc, await row.build(world, side, False), md, first=True)
                seen[label] = code
                if OTHER.encode() in answer:
                    problems.append(f"{rpc} as {role} on {label} names of another tenant answered with its data")
            codes = set(seen.values())
            if len(codes) != 1 or not codes <= {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND}:
                problems.append(f"{rpc} as {role} on another tenant: {seen}")
    assert not problems, "\n".join(problems)


async def test_no_credentials_or_forged_ones_are_unauthenticated(world: World) -> None:
    forged = client.metadata(
        auth.issue_token("not-the-platform-key-but-just-as-long-as-one", "x", auth.Role.PLATFORM_ADMIN)
    )
    expired = client.metadata(
        auth.issue_token(world.settings.auth_secret, "x", auth.Role.PLATFORM_ADMIN, ttl_seconds=-10)
    )
    problems = []
    for rpc, row in CASES.items():
        request = await row.build(world, world.own, False)
        for label, md in (("none", ()), ("forged", forged), ("expired", expired)):
            code, _, _ = await call(world, rpc, request, md)
            if code != grpc.StatusCode.UNAUTHENTICATED:
                problems.append(f"{rpc} with {label} credentials: {code.name}")
    assert not problems, "\n".join(problems)
