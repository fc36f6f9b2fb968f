"""Onboards every Dutch gemeente with the 450 UPL gemeente products, through the real gRPC API.

Starts its own nats-server (JetStream) and a TenancyApp in-process on a temporary SQLite file
(or, with --postgres, an embedded PostgreSQL server), onboards all gemeenten in
services/data/gemeenten.csv, waits until every tenant's latest snapshot is in the KV bucket, then
onboards everything again to show that a second run changes nothing.

    .venv/bin/python bench/onboard_gemeenten.py [--postgres] [--concurrency 8] [--limit N]

The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

import grpc
from sqlmodel import select

from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.common import auth, client, snapshots
from services.common.config import Settings
from services.common.natsserver import NatsServer
from services.common.snapshots import TenantSnapshot
from services.common.upl import read_upl_csv
from services.tenancy.app import TenancyApp
from services.tenancy.models import TenantRow
from services.tenancy.onboarding import onboard_all, read_gemeenten

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.postgres import EmbeddedPostgres  # noqa: E402 - test support, not in the package


async def wait_for_snapshots(app: TenancyApp, expected: dict[str, int], within: float) -> float:
    """Seconds until the KV bucket holds, for every tenant, a snapshot of its latest version."""
    kv = await snapshots.bucket(app.bus)
    started = time.perf_counter()
    seen: dict[str, int] = {}
    watcher = await kv.watchall()
    try:
        while True:
            remaining = within - (time.perf_counter() - started)
            if remaining <= 0:
                missing = sorted(t for t, v in expected.items() if seen.get(t, -1) < v)
                raise TimeoutError(f"{len(missing)} snapshot(s) not current after {within}s, e.g. {missing[:5]}")
            entry = await watcher.updates(timeout=remaining)
            if entry is not None and entry.value:
                snap = TenantSnapshot.from_json(entry.value)
                seen[snap.tenant] = snap.version
            if all(seen.get(t, -1) >= v for t, v in expected.items()):
                return time.perf_counter() - started
    finally:
        await watcher.stop()


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="kcc-bench-onboard-"))
    postgres = EmbeddedPostgres() if args.postgres else None
    nats = NatsServer(workdir / "nats")
    nats.start()
    try:
        database_url = ""
        if postgres is not None:
            postgres.start()
            database_url = postgres.create_database("bench_onboard")
        settings = Settings(data_dir=workdir / "var", nats_url=nats.url, database_url=database_url)
        app = TenancyApp(settings)
        port = await app.start(0)
        database = "postgresql" if postgres is not None else "sqlite"
        try:
            gemeenten = read_gemeenten()[: args.limit or None]
            products = read_upl_csv()
            md = client.metadata(auth.issue_token(settings.auth_secret, "bench", auth.Role.PLATFORM_ADMIN))
            channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
            stub = tenancy_pb2_grpc.TenancyServiceStub(channel)
            print(
                f"onboarding {len(gemeenten)} gemeenten x {len(products)} products on {database}, "
                f"concurrency {args.concurrency}",
                flush=True,
            )

            started = time.perf_counter()
            results, failures = await onboard_all(stub, md, gemeenten, products, args.concurrency)
            onboard_seconds = time.perf_counter() - started
            for failure in failures:
                print(f"FAILED {failure.tenant}: {failure.error}")
            expected = await app.db.run(lambda s: {t.id: t.snapshot_version for t in s.exec(select(TenantRow))})
            waited = await wait_for_snapshots(app, expected, args.snapshot_timeout)
            total_seconds = time.perf_counter() - started
            kv = await snapshots.bucket(app.bus)
            keys = await kv.keys()
            sample = TenantSnapshot.from_json((await kv.get(gemeenten[0].tenant)).value or b"{}")

            created_products = sum(r.products_created for r in results)
            print(f"onboard RPCs done       {onboard_seconds:8.2f} s")
            print(f"  tenants/s             {len(results) / onboard_seconds:8.1f}")
            print(f"  products/s            {created_products / onboard_seconds:8.0f}")
            print(f"snapshots current after {total_seconds:8.2f} s ({waited:.2f} s after the last RPC)")
            print(f"  KV keys               {len(keys):8d}")
            print(
                f"  {sample.tenant}: version {sample.version}, {len(sample.products)} products, "
                f"{len(sample.departments)} departments, {len(sample.to_json()) / 1024:.0f} KiB"
            )

            again_started = time.perf_counter()
            again, again_failures = await onboard_all(stub, md, gemeenten, products, args.concurrency)
            again_seconds = time.perf_counter() - again_started
            changed_again = sum(r.changed for r in again)
            print(
                f"second run (idempotent) {again_seconds:8.2f} s, {changed_again} tenant(s) changed, "
                f"{len(again_failures)} failed"
            )
            await channel.close()
            ok = not failures and not again_failures and changed_again == 0 and len(keys) == len(gemeenten)
            print(
                f"SUMMARY {database}: {len(results)} gemeenten x {len(products)} products = {created_products} "
                f"products in {onboard_seconds:.1f}s ({len(results) / onboard_seconds:.1f} tenants/s, "
                f"{created_products / onboard_seconds:.0f} products/s); {len(keys)} snapshots in KV after "
                f"{total_seconds:.1f}s; re-run {again_seconds:.1f}s, {changed_again} changed; "
                f"{'OK' if ok else 'PROBLEMS'}"
            )
            return 0 if ok else 1
        finally:
            await app.stop()
    finally:
        nats.close()
        if postgres is not None:
            postgres.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="embedded PostgreSQL instead of SQLite")
    parser.add_argument("--concurrency", type=int, default=8, help="gemeenten onboarded at the same time")
    parser.add_argument("--limit", type=int, default=0, help="only the first N gemeenten")
    parser.add_argument("--snapshot-timeout", type=float, default=300.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
