"""`kcc plan erlang`, `kcc plan` and `kcc simulate`: staffing figures, the pooling saving, and a simulation.

Each prints a readable table and, as its last line, one JSON object for scripts. Planning
modules are imported when a command runs, so `kcc` itself starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

# Far above any gemeente (Nijmegen: 220,000), low enough that a typing error fails at once, not after minutes.
MAX_CALLS_PER_YEAR = 20_000_000
# About ten minutes of simulation on a small machine (bench/simulate_year.py: ~24,000 calls/s).
MAX_SIMULATED_CALLS = 10_000_000

if TYPE_CHECKING:
    from services.planning.history import History
    from services.planning.profile import Profile
    from services.planning.simulation import Load
    from services.planning.staffing import Demand, Norm


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    plan = sub.add_parser("plan", help="agents needed per interval, for each gemeente apart and pooled")
    plan.add_argument("--tenant", action="append", default=[], metavar="GEMEENTE=CALLS_PER_YEAR")
    plan.add_argument("--from-history", action="store_true", help="measure calls, handling and patience in the stream")
    plan.add_argument("--history-days", type=float, default=28.0, help="days of history to read (default 28)")
    plan.add_argument("--working-days", type=float, default=250.0, help="working days a year (default 250)")
    plan.add_argument("--peak-hour-share", type=float, help="plan only the peak hour with this share of a day's calls")
    plan.add_argument("--weekday", choices=("monday", "tuesday", "wednesday", "thursday", "friday"))
    plan.add_argument("--aht", type=float, default=300.0, help="average handling time in seconds (default 300)")
    plan.add_argument("--patience", type=float, help="mean patience in seconds: Erlang A instead of Erlang C")
    _norm_arguments(plan)
    plan.set_defaults(run=_plan)
    inner = plan.add_subparsers(dest="plan_command", metavar="erlang")
    erlang = inner.add_parser("erlang", help="Erlang C (or A with --patience) for one interval")
    erlang.add_argument("--calls", type=float, required=True, help="calls offered in the interval")
    erlang.add_argument("--interval-seconds", type=float, default=1800.0)
    erlang.add_argument("--aht", type=float, required=True, help="average handling time in seconds")
    erlang.add_argument("--patience", type=float, help="mean patience in seconds: Erlang A")
    erlang.add_argument("--agents", type=int, help="figures for this many agents instead of the fewest that do")
    _norm_arguments(erlang)
    erlang.set_defaults(run=_erlang)

    simulate = sub.add_parser("simulate", help="simulate gemeenten separate, pooled and with overflow")
    simulate.add_argument("--tenant", action="append", default=[], metavar="GEMEENTE=CALLS_PER_YEAR")
    simulate.add_argument("--from-history", action="store_true", help="the calls, handling and patience measured")
    simulate.add_argument("--history-days", type=float, default=28.0, help="days of history to read (default 28)")
    simulate.add_argument("--working-days", type=float, default=250.0, help="working days a year (default 250)")
    simulate.add_argument("--days", type=int, default=5, help="working days to simulate (default 5)")
    simulate.add_argument("--aht", type=float, default=300.0, help="mean handling time in seconds (default 300)")
    simulate.add_argument("--handling-sigma", type=float, default=0.6, help="lognormal shape; 0: exponential")
    simulate.add_argument("--patience", type=float, default=180.0, help="mean patience in seconds (default 180)")
    simulate.add_argument("--overflow-after", type=float, help="seconds before overflow (default: --answer-seconds)")
    simulate.add_argument("--scenario", action="append", choices=("separate", "pooled", "overflow"))
    simulate.add_argument("--event", action="append", default=[], metavar="GEMEENTE:FIRST_DAY:DAYS:FACTOR")
    simulate.add_argument("--roster", type=Path, help="CSV of agents and shifts (services/planning/roster.py)")
    simulate.add_argument("--seed", type=int, default=1)
    simulate.add_argument("--out", type=Path, help="directory for intervals.csv and the PNG charts")
    _norm_arguments(simulate)
    simulate.set_defaults(run=_simulate)


def _norm_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answer-seconds", type=float, default=20.0, help="answer target in seconds (default 20)")
    parser.add_argument("--target", type=float, default=0.8, help="share answered within it (default 0.8)")
    parser.add_argument("--max-occupancy", type=float, help="staff so that agents are busy at most this share")


def _fail(command: str, message: str) -> int:
    print(f"kcc {command}: {message}", file=sys.stderr, flush=True)
    return 2


def _erlang(args: argparse.Namespace) -> int:
    from services.planning.erlang import Interval, figures, smallest_agents

    try:
        interval = Interval.of(args.calls, args.interval_seconds, args.aht, args.answer_seconds, args.patience)
        if args.agents is None:
            found = smallest_agents(interval, args.target, args.max_occupancy)
        else:
            found = figures(args.agents, interval)
    except ValueError as exc:
        return _fail("plan erlang", str(exc))
    print(
        f"{found.model}: {found.agents} agents for {args.calls:g} calls in {args.interval_seconds:g} s"
        f" (load {interval.load:.2f} Erlang)"
    )
    print(json.dumps(found.as_dict()))
    return 0


def _tenant_calls(values: list[str]) -> list[tuple[str, float]]:
    tenants = []
    for value in values:
        name, sep, calls = value.partition("=")
        try:
            number = float(calls)
        except ValueError:
            number = -1.0
        if not name.strip() or not sep or not number >= 0:
            raise ValueError(f"--tenant {value!r}: expected GEMEENTE=CALLS_PER_YEAR, e.g. gm0268=220000")
        if number > MAX_CALLS_PER_YEAR:
            raise ValueError(f"--tenant {value!r}: more than {MAX_CALLS_PER_YEAR:,} calls a year")
        tenants.append((name.strip(), number))
    if len({name for name, _c in tenants}) != len(tenants):
        raise ValueError("each gemeente may be named once")
    return tenants


def _plan(args: argparse.Namespace) -> int:
    from services.planning.profile import WEEKDAYS, default_profile
    from services.planning.staffing import Demand, Norm, plan

    norm = Norm(args.answer_seconds, args.target, args.max_occupancy)
    try:
        if args.from_history:
            import asyncio

            if args.tenant or args.peak_hour_share is not None or args.weekday:
                raise ValueError(
                    "--from-history measures the gemeenten and their day: leave out --tenant,"
                    " --peak-hour-share and --weekday"
                )
            history = asyncio.run(_history(args.history_days, "kcc plan"))
            labels, interval, demands = history.labels, history.interval_seconds, history.demands
        else:
            tenants = _tenant_calls(args.tenant)
            if not tenants:
                raise ValueError("name the gemeenten (--tenant GEMEENTE=CALLS_PER_YEAR) or use --from-history")
            if args.working_days <= 0:
                raise ValueError("--working-days must be more than 0")
            profile = default_profile()
            if args.peak_hour_share is not None:
                if not 0 < args.peak_hour_share <= 1:
                    raise ValueError("--peak-hour-share must be a fraction above 0 and at most 1, e.g. 0.12")
                labels, interval = ["peak hour"], 3600.0
                demands = [
                    Demand(t, (calls / args.working_days * args.peak_hour_share,), args.aht, args.patience)
                    for t, calls in tenants
                ]
            else:
                weekday = WEEKDAYS.index(args.weekday) if args.weekday else None
                labels, interval = profile.labels(), profile.interval_seconds
                demands = [
                    Demand(t, tuple(profile.calls(calls / args.working_days, weekday)), args.aht, args.patience)
                    for t, calls in tenants
                ]
        result = plan(demands, labels, interval, norm)
    except (ValueError, OSError) as exc:
        return _fail("plan", str(exc))
    _print_plan(result.labels, result.apart, result.apart_total(), result.pooled, demands, norm)
    print(json.dumps(result.summary()))
    return 0


def _print_plan(
    labels: list[str],
    apart: dict[str, list[int]],
    total: list[int],
    pooled: list[int],
    demands: list[Demand],
    norm: Norm,
) -> None:
    models = {"erlang-a" if d.patience_seconds else "erlang-c" for d in demands}
    print(f"agents for {norm.target:.0%} within {norm.answer_seconds:g} s ({', '.join(sorted(models))})")
    tenants = list(apart)
    print("interval   " + " ".join(f"{t:>8}" for t in tenants) + "    apart   pooled   saving")
    for i, label in enumerate(labels):
        cells = " ".join(f"{apart[t][i]:>8}" for t in tenants)
        print(f"{label:<10} {cells} {total[i]:>8} {pooled[i]:>8} {total[i] - pooled[i]:>8}")


async def _history(days: float, command: str) -> History:
    """The contacts of the last `days` in the stream, measured (services/planning/history.py)."""
    from datetime import UTC, datetime, timedelta

    import nats
    from nats.js.errors import NotFoundError

    from services.common import nats_preflight
    from services.common.config import Settings
    from services.common.events import STREAM
    from services.planning.history import measure, read_contacts

    if days <= 0:
        raise ValueError("--history-days must be more than 0")
    settings = Settings()
    # Missing or refused credentials are named at once, not reported as an unreachable server.
    await nats_preflight.check(settings, command)
    options: dict[str, object] = {"connect_timeout": 5, "max_reconnect_attempts": 2}
    if settings.nats_user:
        options.update(user=settings.nats_user, password=settings.nats_password)
    try:
        nc = await nats.connect(servers=settings.nats_servers, **options)  # type: ignore[arg-type]
    except Exception as exc:  # noqa: BLE001 - any failure to connect is the same answer to the user
        raise ValueError(f"cannot reach NATS at {settings.nats_url}: {exc!r}") from None
    try:
        contacts = await read_contacts(nc.jetstream(), datetime.now(UTC) - timedelta(days=days))
    except NotFoundError:
        raise ValueError(f"no {STREAM} stream at {settings.nats_url}: nothing has run there yet") from None
    finally:
        await nc.close()
    history = measure(contacts)
    print(f"history: {history.contacts} contacts over {history.days} days")
    return history


def _event(value: str) -> tuple[str, int, int, float]:
    parts = value.split(":")
    try:
        tenant, first, days, factor = parts[0], int(parts[1]), int(parts[2]), float(parts[3])
    except (IndexError, ValueError):
        raise ValueError(f"--event {value!r}: expected GEMEENTE:FIRST_DAY:DAYS:FACTOR, e.g. gm0268:3:4:2.5") from None
    if len(parts) != 4 or first < 0 or days < 1 or not factor >= 0:
        raise ValueError(f"--event {value!r}: first day 0 or later, at least 1 day, a factor of 0 or more")
    return tenant, first, days, factor


def _simulate(args: argparse.Namespace) -> int:
    from services.planning.report import draw_charts, summary, write_csv
    from services.planning.roster import read_roster
    from services.planning.scenarios import SCENARIOS, agents_for
    from services.planning.simulation import Peak, Simulation
    from services.planning.staffing import Norm

    try:
        if args.handling_sigma < 0 or (args.overflow_after or 0) < 0:
            raise ValueError("--handling-sigma and --overflow-after must be 0 or more")
        if not 1 <= args.days <= 5000:
            raise ValueError("--days must be between 1 and 5000")
        profile, loads = _history_loads(args) if args.from_history else _parameter_loads(args)
        tenants = {load.tenant for load in loads}
        expected = args.days * sum(load.calls_per_day for load in loads)
        if expected > MAX_SIMULATED_CALLS:
            raise ValueError(f"about {expected:,.0f} calls: simulate at most {MAX_SIMULATED_CALLS:,} (fewer --days)")
        peaks = tuple(Peak(*_event(value)) for value in args.event)
        unknown = {p.tenant for p in peaks} - tenants
        if unknown:
            raise ValueError(f"--event names a gemeente not simulated: {', '.join(sorted(unknown))}")
        norm = Norm(args.answer_seconds, args.target, args.max_occupancy)
        rosters = {}
        if args.roster is not None:
            text = args.roster.read_text(encoding="utf-8")
            rosters["roster"] = read_roster(text, tenants, len(profile.weekday_factors))
        for scenario in args.scenario or ([] if rosters else SCENARIOS):
            rosters[scenario] = agents_for(scenario, loads, profile, norm)
        results = {
            scenario: Simulation(loads, agents, profile, args.days, args.seed, peaks).run()
            for scenario, agents in rosters.items()
        }
    except (ValueError, OSError) as exc:
        return _fail("simulate", str(exc))
    for scenario, result in results.items():
        s = summary(result)
        print(
            f"{scenario:<9} {s['calls']:>8} calls  service level {s['service_level']:.1%}"
            f"  abandoned {s['abandonment']:.1%}  ASA {s['asa_seconds']:.1f} s  {s['agent_hours']} agent-hours"
        )
    written: list[str] = []
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        write_csv(args.out / "intervals.csv", results)
        written.append(str(args.out / "intervals.csv"))
        try:
            written += [str(p) for p in draw_charts(args.out, results, args.target)]
        except ImportError:
            print("kcc simulate: no charts without matplotlib (pip install 'kcc-router[charts]')")
    print(json.dumps({"scenarios": {name: summary(r) for name, r in results.items()}, "written": written}))
    return 0


def _parameter_loads(args: argparse.Namespace) -> tuple[Profile, list[Load]]:
    """Calls a year per gemeente on the shipped day profile, one handling time and patience for all."""
    from services.planning.profile import default_profile
    from services.planning.simulation import Load

    tenants = _tenant_calls(args.tenant)
    if not tenants:
        raise ValueError("name the gemeenten (--tenant GEMEENTE=CALLS_PER_YEAR) or use --from-history")
    if args.working_days <= 0 or args.aht <= 0 or args.patience <= 0:
        raise ValueError("--working-days, --aht and --patience must be more than 0")
    overflow_after = args.answer_seconds if args.overflow_after is None else args.overflow_after
    sigma = args.handling_sigma or None
    loads = [
        Load(t, calls / args.working_days, args.aht, args.patience, sigma, args.answer_seconds, overflow_after)
        for t, calls in tenants
    ]
    return default_profile(), loads


def _history_loads(args: argparse.Namespace) -> tuple[Profile, list[Load]]:
    """Each gemeente's calls per half hour of an average observed day, its handling time and patience."""
    import asyncio

    from services.planning.profile import Profile, checked
    from services.planning.simulation import Load

    if args.tenant:
        raise ValueError("--from-history takes the gemeenten from the stream: leave out --tenant")
    history = asyncio.run(_history(args.history_days, "kcc simulate"))
    totals = [sum(calls) for calls in zip(*(d.calls for d in history.demands), strict=True)]
    profile = checked(
        Profile(
            opens_minute=history.opens_minute,
            interval_minutes=int(history.interval_seconds // 60),
            shares=tuple(t / sum(totals) for t in totals),
            weekday_factors=(1.0,) * 5,
        )
    )
    overflow_after = args.answer_seconds if args.overflow_after is None else args.overflow_after
    sigma = args.handling_sigma or None
    loads = [
        Load(
            d.tenant,
            sum(d.calls),
            d.aht_seconds,
            d.patience_seconds,
            sigma,
            args.answer_seconds,
            overflow_after,
            shares=tuple(c / sum(d.calls) for c in d.calls),
        )
        for d in history.demands
    ]
    return profile, loads
