"""A year of Nijmegen (220,000 calls) through the simulation, and how long it takes on this machine.

The simulation drives routing's own Router in virtual time (services/planning/simulation.py);
agents are staffed per weekday and half hour with Erlang C at 80% within 20 s. Assumed: 250
working days, the shipped day profile, AHT 300 s (lognormal, sigma 0.6), mean patience 180 s.

Run: .venv/bin/python bench/simulate_year.py [--calls 220000 --days 250 --scenario pooled --runs 3]
Prints one line per run (wall and CPU seconds: on a shared machine the CPU time is the steadier
figure) and a JSON line with the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from services.planning.profile import default_profile
from services.planning.report import summary
from services.planning.scenarios import SCENARIOS, agents_for
from services.planning.simulation import Load, Simulation
from services.planning.staffing import Norm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=float, default=220_000, help="calls a year")
    parser.add_argument("--days", type=int, default=250, help="working days simulated (and in the year)")
    parser.add_argument("--scenario", choices=SCENARIOS, default="pooled")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    profile = default_profile()
    loads = [Load("gm0268", args.calls / args.days, 300.0, 180.0, 0.6, 20.0)]
    agents = agents_for(args.scenario, loads, profile, Norm(20.0, 0.8))
    seconds, cpu = [], []
    for run in range(args.runs):
        simulation = Simulation(loads, agents, profile, args.days, seed=run + 1)
        started, cpu_started = time.perf_counter(), time.process_time()
        result = simulation.run()
        seconds.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        figures = summary(result)
        print(
            f"run {run + 1}: {result.calls:,} calls, {result.events:,} events in {seconds[-1]:.1f} s"
            f" ({cpu[-1]:.1f} s CPU, {result.calls / seconds[-1]:,.0f} calls/s);"
            f" service level {figures['service_level']:.1%},"
            f" abandoned {figures['abandonment']:.1%}, {len(agents)} agents"
        )
    print(
        json.dumps(
            {
                "calls": result.calls,
                "days": args.days,
                "agents": len(agents),
                "seconds_median": round(statistics.median(seconds), 2),
                "seconds_max": round(max(seconds), 2),
                "cpu_seconds_median": round(statistics.median(cpu), 2),
                "calls_per_second": round(result.calls / statistics.median(seconds)),
            }
        )
    )


if __name__ == "__main__":
    main()
