"""Sizing for 342 gemeenten, computed from what this machine measures on the real services.

Measured here (a run of the three services on a local nats-server and an embedded PostgreSQL):
  - the stored size of each event in the KCC stream (subject, headers, protobuf envelope and
    JetStream's own per-message overhead), for contacts routed, offered, accepted and completed by
    an agent over gRPC, and for callbacks created, claimed, attempted and completed;
  - PostgreSQL growth per contact and per callback (tables and indexes of every service schema);
  - the tenant-snapshot KV bytes and tenancy rows of one onboarded gemeente (450 UPL products);
  - how fast a fresh routing replica replays the stream: the sample's contact events copied under
    new ids to --replay-events, then a RoutingApp started and timed (a short run, extrapolated).

Assumed (no figure in the project measures them; change them on the command line):
  - 220,000 calls a year per 160,000 inhabitants (the project brief), applied to every contact;
  - 18.0 million inhabitants for the 342 gemeenten together (CBS, 1 January 2025, rounded;
    services/data/gemeenten.csv has no population);
  - --callback-share of contacts leads to a terugbelverzoek; --working-days a year, the busiest
    day --peak-factor times the average working day;
  - events are kept KCC_STREAM_MAX_AGE_SECONDS (366 days) and closed callbacks one year.

Run: .venv/bin/python bench/sizing.py [--contacts 500 --callbacks 500 --replay-events 50000]
Prints a Markdown table for deploy/README.md and, with --json, the raw figures; the figures of
the table there are kept in deploy/sizing-figures.json, and `--figures deploy/sizing-figures.json`
computes the table from them again without measuring (tests/test_runbook.py does).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import grpc
import nats
from nats.js.api import DeliverPolicy
from sqlalchemy import text

from kcc.callbacks.v1 import callbacks_pb2 as cb
from kcc.callbacks.v1 import callbacks_pb2_grpc
from kcc.common.v1 import common_pb2
from kcc.events.v1 import events_pb2
from kcc.routing.v1 import routing_pb2 as rt
from kcc.routing.v1 import routing_pb2_grpc
from kcc.tenancy.v1 import tenancy_pb2_grpc
from services.callbacks.app import CallbacksApp
from services.common import auth, client
from services.common.config import ROOT, Settings
from services.common.db import make_engine
from services.common.events import STREAM
from services.common.natsserver import NatsServer
from services.routing.app import RoutingApp
from services.tenancy import onboarding
from services.tenancy.app import TenancyApp

sys.path.insert(0, str(ROOT))
from tests.support.postgres import EmbeddedPostgres  # noqa: E402 - test support, not in the package

GEMEENTEN = 342
TENANT, SHORT_NUMBER = "gm0268", "14024"
CALLS_PER_INHABITANT = 220_000 / 160_000
GIB = 1024**3
SCHEMAS = ("tenancy", "routing", "callbacks")


def questions() -> list[str]:
    path = ROOT / "tests" / "data" / "questions-holdout.tsv"
    rows = [line.split("\t")[0] for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r and not r.startswith("#")]


def schema_bytes(url: str) -> dict[str, int]:
    """Tables, indexes and TOAST of each service schema, in bytes."""
    engine = make_engine(url, "public")
    try:
        with engine.connect() as conn:
            conn.execute(text("CHECKPOINT"))
            rows = conn.execute(
                text(
                    "SELECT n.nspname, coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'm') "
                    "AND n.nspname = ANY(:schemas) GROUP BY n.nspname"
                ),
                {"schemas": list(SCHEMAS)},
            ).all()
    finally:
        engine.dispose()
    return {schema: int(size) for schema, size in rows}


async def stream_messages(url: str) -> list[tuple[str, int, bytes]]:
    """(subject, raw bytes = subject + headers + payload, payload) of every message in the stream."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        info = await js.stream_info(STREAM)
        sub = await js.subscribe("kcc.>", ordered_consumer=True, deliver_policy=DeliverPolicy.ALL)
        out = []
        for _ in range(info.state.messages):
            msg = await sub.next_msg(timeout=10)
            headers = sum(len(k) + len(v) + 4 for k, v in (msg.headers or {}).items()) + 12
            out.append((msg.subject, len(msg.subject) + headers + len(msg.data), msg.data))
        await sub.unsubscribe()
        return out
    finally:
        await nc.close()


async def stream_state(url: str, stream: str = STREAM) -> tuple[int, int]:
    nc = await nats.connect(url)
    try:
        info = await nc.jetstream().stream_info(stream)
        return info.state.messages, info.state.bytes
    finally:
        await nc.close()


async def run_contacts(routing: grpc.aio.Channel, settings: Settings, count: int) -> None:
    """Routes `count` contacts; one agent accepts and completes each (offered, accepted, completed)."""
    stub = routing_pb2_grpc.RoutingServiceStub(routing)
    admin = client.metadata(auth.issue_token(settings.auth_secret, "sizing", auth.Role.PLATFORM_ADMIN))
    partner = client.metadata(
        auth.issue_token(settings.auth_secret, "sizing-partner", auth.Role.TENANT_INTEGRATION, [TENANT])
    )
    agent_md = client.metadata(auth.issue_token(settings.auth_secret, "sizing", auth.Role.AGENT, [TENANT]))
    await stub.CreateAgent(
        rt.CreateAgentRequest(agent_id="sizing", agent=rt.Agent(tenants=[f"tenants/{TENANT}"])), metadata=admin
    )
    desktop = stub.ConnectAgent(rt.ConnectAgentRequest(name="agents/sizing"), metadata=agent_md)
    await desktop.read()
    texts = questions()
    for i in range(count):
        routed = await stub.RouteContact(
            rt.RouteContactRequest(
                tenant=f"tenants/{TENANT}",
                channel=common_pb2.CHANNEL_PHONE,
                question=texts[i % len(texts)],
                citizen_key=uuid.uuid4().hex,
                request_id=f"sizing-{i}",
            ),
            metadata=partner,
        )
        while True:
            message = await asyncio.wait_for(desktop.read(), 10)
            if message.HasField("offer") and message.offer.contact.name == routed.contact.name:
                break
        await stub.AcceptOffer(
            rt.AcceptOfferRequest(agent="agents/sizing", contact=routed.contact.name), metadata=agent_md
        )
        await stub.CompleteContact(
            rt.CompleteContactRequest(agent="agents/sizing", contact=routed.contact.name, outcome="answered"),
            metadata=agent_md,
        )
    desktop.cancel()


async def run_callbacks(channel: grpc.aio.Channel, settings: Settings, count: int) -> None:
    """Creates `count` callbacks with a note and walks each through claim, a failed attempt and completion."""
    stub = callbacks_pb2_grpc.CallbackServiceStub(channel)
    md = client.metadata(auth.issue_token(settings.auth_secret, "sizing", auth.Role.PLATFORM_ADMIN))
    for i in range(count):
        made = await stub.CreateCallback(
            cb.CreateCallbackRequest(
                parent=f"tenants/{TENANT}",
                request_id=f"sizing-cb-{i}",
                callback=cb.Callback(
                    department=f"tenants/{TENANT}/departments/burgerzaken",
                    product_uri="http://standaarden.overheid.nl/owms/terms/paspoort",
                    phone_number=f"06{12_000_000 + i:08d}",
                    channel=common_pb2.CHANNEL_PHONE,
                    note="Burger wil weten of de aanvraag van het paspoort al verwerkt is; graag na 14:00 bellen.",
                    preferred_times="na 14:00",
                ),
            ),
            metadata=md,
        )
        await stub.ClaimCallback(cb.ClaimCallbackRequest(name=made.name, assignee="medewerker-1"), metadata=md)
        await stub.RecordAttempt(
            cb.RecordAttemptRequest(name=made.name, result=cb.RecordAttemptRequest.RESULT_NOT_REACHED), metadata=md
        )
        await stub.CompleteCallback(
            cb.CompleteCallbackRequest(name=made.name, outcome="afgehandeld", note="Aanvraag is verwerkt."), metadata=md
        )


async def copy_for_replay(url: str, payloads: list[tuple[str, bytes]], total: int) -> int:
    """Publishes copies of the sample's events under new event, contact and callback ids until about
    `total` were added, each acknowledged by the stream; returns how many were added."""
    nc = await nats.connect(url)
    js = nc.jetstream(timeout=30)
    added = 0
    round_ = 0
    try:
        while added + len(payloads) <= total:
            round_ += 1
            batch = []
            for subject, data in payloads:
                env = events_pb2.Envelope.FromString(data)
                env.id = uuid.uuid4().hex
                which = env.WhichOneof("payload")
                event = getattr(env, which) if which else None
                for name in ("contact", "callback"):
                    if event is not None and getattr(event, name, ""):
                        setattr(event, name, f"{getattr(event, name)}-r{round_}")
                batch.append(js.publish(subject, env.SerializeToString(), headers={"Nats-Msg-Id": env.id}))
            await asyncio.gather(*batch)
            added += len(batch)
        return added
    finally:
        await nc.close()


async def measure(args: argparse.Namespace) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="kcc-sizing-") as tmp:
        postgres = EmbeddedPostgres()
        postgres.start()
        nats_server = NatsServer(Path(tmp) / "nats", sync_always=True)
        nats_server.start()
        try:
            url = postgres.create_database("sizing")
            settings = Settings(data_dir=Path(tmp) / "var", nats_url=nats_server.url, database_url=url)
            apps = [TenancyApp(settings), RoutingApp(settings), CallbacksApp(settings)]
            for app in apps:
                await app.start(0)
            channels = [grpc.aio.insecure_channel(f"127.0.0.1:{app.port}") for app in apps]
            try:
                before = schema_bytes(url)
                kv_before = await stream_state(nats_server.url, "KV_tenant-snapshots")
                admin = client.metadata(auth.issue_token(settings.auth_secret, "sizing", auth.Role.PLATFORM_ADMIN))
                await onboarding.onboard_tenant(
                    tenancy_pb2_grpc.TenancyServiceStub(channels[0]), admin, TENANT, "Nijmegen", SHORT_NUMBER
                )
                await wait_routable(channels[1], admin)
                kv_after = await stream_state(nats_server.url, "KV_tenant-snapshots")
                onboarded = schema_bytes(url)
                figures["tenant_db_bytes"] = onboarded.get("tenancy", 0) - before.get("tenancy", 0)
                figures["tenant_kv_bytes"] = kv_after[1] - kv_before[1]

                messages_before, _ = await stream_state(nats_server.url)
                await run_contacts(channels[1], settings, args.contacts)
                await asyncio.sleep(2)  # callbacks' contact-usage consumer catches up
                after_contacts = schema_bytes(url)
                messages_contacts, _ = await stream_state(nats_server.url)
                await run_callbacks(channels[2], settings, args.callbacks)
                await asyncio.sleep(2)  # the outbox relay publishes the last events
                after_callbacks = schema_bytes(url)
                figures["db_bytes_per_contact"] = (
                    sum(after_contacts.values()) - sum(onboarded.values())
                ) / args.contacts
                figures["db_bytes_per_callback"] = (
                    sum(after_callbacks.values()) - sum(after_contacts.values())
                ) / args.callbacks
            finally:
                for channel in channels:
                    await channel.close()
                for app in reversed(apps):
                    await app.stop(0.5)

            messages = await stream_messages(nats_server.url)
            count, stored = await stream_state(nats_server.url)
            overhead = (stored - sum(size for _s, size, _d in messages)) / count
            figures["stream_overhead_bytes"] = overhead
            by_kind: dict[str, list[int]] = defaultdict(list)
            for subject, size, _data in messages:
                by_kind[".".join(subject.split(".")[2:])].append(size)
            for kind, sizes in sorted(by_kind.items()):
                figures[f"event_bytes[{kind}]"] = statistics.mean(sizes) + overhead
                figures[f"event_count[{kind}]"] = len(sizes)
            contact_events = [(s, d) for s, _z, d in messages if ".contact." in s]
            callback_events = [m for m in messages if ".callback." in m[0]]
            replayed = contact_events + [(s, d) for s, _z, d in callback_events]
            figures["events_per_contact"] = len(contact_events) / args.contacts
            figures["events_per_callback"] = len(callback_events) / args.callbacks
            figures["stream_bytes_per_contact"] = (
                sum(size for s, size, _d in messages if ".contact." in s) / args.contacts
                + figures["events_per_contact"] * overhead
            )
            figures["stream_bytes_per_callback"] = (
                sum(size for _s, size, _d in callback_events) / args.callbacks
                + figures["events_per_callback"] * overhead
            )
            figures["sample_messages_before_contacts"] = messages_before
            figures["sample_messages_after_contacts"] = messages_contacts

            # Replay: copies of the sample's contact and callback events, then a fresh routing
            # replica is started and timed (it applies every callback event and the last 24 hours).
            await copy_for_replay(nats_server.url, replayed, args.replay_events)
            total, _ = await stream_state(nats_server.url)
            replica = RoutingApp(settings)
            replica.owns_process = True  # timed as a replica in a process of its own starts
            started = time.perf_counter()
            await replica.start(0)
            seconds = time.perf_counter() - started
            applied = total  # all of it is within the replay window; callback events twice (app.py)
            await replica.stop(0.5)
            figures["replay_events"] = applied
            figures["replay_seconds"] = seconds
            figures["replay_events_per_second"] = applied / seconds
        finally:
            nats_server.close()
            postgres.close()
    return figures


async def wait_routable(channel: grpc.aio.Channel, admin: tuple[tuple[str, str], ...]) -> None:
    stub = routing_pb2_grpc.RoutingServiceStub(channel)
    for _ in range(400):
        try:
            reply = await stub.ClassifyQuestion(
                rt.ClassifyQuestionRequest(tenant=f"tenants/{TENANT}", question="paspoort"), metadata=admin
            )
            if reply.products:
                return
        except grpc.aio.AioRpcError as err:
            if err.code() != grpc.StatusCode.NOT_FOUND:  # not there yet
                raise
        await asyncio.sleep(0.05)
    raise SystemExit("routing never received the onboarded catalogue")


def size(value: float) -> str:
    for unit, factor in (("TiB", 1024**4), ("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value:.0f} B"


def table(m: dict[str, float], args: argparse.Namespace) -> str:
    contacts_year = args.inhabitants * CALLS_PER_INHABITANT
    callbacks_year = contacts_year * args.callback_share
    day = (contacts_year / args.working_days) * args.peak_factor
    callbacks_day = (callbacks_year / args.working_days) * args.peak_factor
    bytes_day = day * m["stream_bytes_per_contact"] + callbacks_day * m["stream_bytes_per_callback"]
    bytes_year = contacts_year * m["stream_bytes_per_contact"] + callbacks_year * m["stream_bytes_per_callback"]
    kv = GEMEENTEN * m["tenant_kv_bytes"]
    nats_volume = (bytes_year + kv) * args.headroom
    db_year = contacts_year * m["db_bytes_per_contact"] + callbacks_year * m["db_bytes_per_callback"]
    db_tenants = GEMEENTEN * m["tenant_db_bytes"]
    # Closed callbacks go after a year (the default retention), so a year's growth is the steady size.
    db_volume = (db_year + db_tenants) * args.headroom
    # Routing replays every callback event still in the stream (a year of them once the stream is
    # full) and the last 24 hours of every event (services/routing/app.py).
    replay_events = callbacks_year * m["events_per_callback"] + day * m["events_per_contact"]
    replay_seconds = replay_events / m["replay_events_per_second"]
    rows = [
        ("contacts a year", f"{contacts_year:,.0f}", "assumed: 220,000 calls / 160,000 inhabitants"),
        ("callbacks a year", f"{callbacks_year:,.0f}", f"assumed: {args.callback_share:.0%} of contacts"),
        ("contacts on the busiest day", f"{day:,.0f}", f"{args.working_days} working days, peak x{args.peak_factor}"),
        (
            "stream bytes per contact",
            f"{m['stream_bytes_per_contact']:,.0f} B",
            f"measured: {m['events_per_contact']:.1f} events (routed, offered, accepted, completed)",
        ),
        (
            "stream bytes per callback",
            f"{m['stream_bytes_per_callback']:,.0f} B",
            f"measured: {m['events_per_callback']:.1f} events",
        ),
        ("stream bytes on the busiest day", size(bytes_day), "per replica (R3: each NATS node holds a copy)"),
        ("stream bytes a year (max_age 366 d)", size(bytes_year), "the stream's steady size"),
        ("tenant snapshots (KV)", size(kv), f"measured {size(m['tenant_kv_bytes'])} per gemeente"),
        ("NATS volume per node", size(nats_volume), f"year + KV, x{args.headroom} headroom"),
        ("KCC_STREAM_MAX_BYTES", f"{int(bytes_year * 1.15):d}", "a year + 15%: a cap that protects the volume"),
        ("database: tenancy (342 gemeenten)", size(db_tenants), f"measured {size(m['tenant_db_bytes'])} per gemeente"),
        (
            "database growth a year",
            size(db_year),
            f"measured {m['db_bytes_per_contact']:,.0f} B/contact, {m['db_bytes_per_callback']:,.0f} B/callback",
        ),
        ("PostgreSQL volume per instance", size(db_volume), f"a year + tenancy, x{args.headroom} headroom"),
        (
            "routing replay at start",
            f"{replay_seconds:,.0f} s",
            f"{replay_events:,.0f} events at a measured {m['replay_events_per_second']:,.0f}/s "
            f"({m['replay_events']:,.0f} events in {m['replay_seconds']:.1f} s, extrapolated)",
        ),
    ]
    lines = ["| figure | value | from |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=500, help="contacts in the measured sample")
    parser.add_argument("--callbacks", type=int, default=500, help="callbacks in the measured sample")
    parser.add_argument("--replay-events", type=int, default=50_000, help="events in the replay run")
    parser.add_argument("--inhabitants", type=float, default=18.0e6)
    parser.add_argument("--callback-share", type=float, default=0.15)
    parser.add_argument("--working-days", type=int, default=252)
    parser.add_argument("--peak-factor", type=float, default=1.5)
    parser.add_argument("--headroom", type=float, default=1.5)
    parser.add_argument("--json", action="store_true", help="also print the measured figures as JSON")
    parser.add_argument("--figures", type=Path, help="the table from figures saved with --json; measures nothing")
    return parser


def main() -> int:
    parser = arguments()
    args = parser.parse_args()
    if min(args.contacts, args.callbacks) < 1 or args.replay_events < 0:
        parser.error("--contacts and --callbacks must be at least 1, --replay-events not negative")
    figures = json.loads(args.figures.read_text()) if args.figures else asyncio.run(measure(args))
    if args.json:
        print(json.dumps(figures, indent=2, sort_keys=True))
    print(table(figures, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
