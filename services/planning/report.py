"""What a simulation run shows: figures per scenario, gemeente, day and interval as CSV, and charts.

matplotlib (the `charts` extra) is imported only when charts are drawn, so `kcc` starts fast
and the CSV is written without it.
"""

from __future__ import annotations

import csv
from pathlib import Path

from services.planning.profile import WEEKDAYS
from services.planning.simulation import Result, Tally

COLUMNS = (
    "scenario",
    "tenant",
    "day",
    "weekday",
    "interval",
    "offered",
    "answered",
    "answered_within",
    "abandoned",
    "overflowed",
    "service_level",
    "asa_seconds",
    "abandonment",
    "occupancy",
    "agents",
)


def figures(tally: Tally) -> dict[str, float]:
    """Service level over ALL offered calls, ASA over the answered, occupancy of the home agents."""
    return {
        "service_level": tally.answered_within / tally.offered if tally.offered else 1.0,
        "asa_seconds": tally.wait_seconds / tally.answered if tally.answered else 0.0,
        "abandonment": tally.abandoned / tally.offered if tally.offered else 0.0,
        "occupancy": tally.busy_seconds / tally.staffed_seconds if tally.staffed_seconds else 0.0,
    }


def summary(result: Result) -> dict[str, object]:
    total = result.total()
    per_tenant = {t: round(figures(result.total(t))["service_level"], 4) for t in result.tenants()}
    return {
        "calls": total.offered,
        "service_level": round(figures(total)["service_level"], 4),
        "abandonment": round(figures(total)["abandonment"], 4),
        "asa_seconds": round(figures(total)["asa_seconds"], 2),
        "overflowed": total.overflowed,
        "agent_hours": round(result.agent_seconds / 3600, 1),
        "occupancy": round(result.busy_seconds / result.agent_seconds, 4) if result.agent_seconds else 0.0,
        "tenants": per_tenant,
    }


def write_csv(path: Path, results: dict[str, Result]) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for scenario, result in results.items():
            labels = result.profile.labels()
            interval = result.profile.interval_seconds
            weekdays = len(result.profile.weekday_factors)
            for (tenant, day, slot), tally in sorted(result.tallies.items()):
                f = figures(tally)
                writer.writerow(
                    (
                        scenario,
                        tenant,
                        day,
                        WEEKDAYS[day % weekdays],
                        labels[slot],
                        tally.offered,
                        tally.answered,
                        tally.answered_within,
                        tally.abandoned,
                        tally.overflowed,
                        round(f["service_level"], 4),
                        round(f["asa_seconds"], 2),
                        round(f["abandonment"], 4),
                        round(f["occupancy"], 4),
                        round(tally.staffed_seconds / interval, 2),
                    )
                )


def by_interval(result: Result, tenant: str | None = None) -> list[Tally]:
    """Each interval of the day, all simulated days added up."""
    slots = [Tally() for _ in result.profile.shares]
    for (t, _day, slot), tally in result.tallies.items():
        if tenant is None or t == tenant:
            into = slots[slot]
            into.offered += tally.offered
            into.answered_within += tally.answered_within
            into.abandoned += tally.abandoned
    return slots


def draw_charts(directory: Path, results: dict[str, Result], target: float) -> list[Path]:
    """service_level.png: per scenario, each gemeente's service level by interval of the day;
    agents.png: agents logged on by interval of the day (average over the days), per scenario."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    scenarios = list(results)
    first = results[scenarios[0]]
    labels = first.profile.labels()
    fig, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 4), sharey=True, squeeze=False)
    for ax, scenario in zip(axes[0], scenarios, strict=True):
        result = results[scenario]
        for tenant in result.tenants():
            levels = [figures(t)["service_level"] for t in by_interval(result, tenant)]
            ax.plot(range(len(labels)), levels, label=tenant, linewidth=1.2)
        ax.axhline(target, color="grey", linestyle="--", linewidth=0.8)
        ax.set_title(f"{scenario}: {summary(result)['agent_hours']} agent-hours")
        ax.set_xticks(range(0, len(labels), 2), labels[::2], rotation=60, fontsize=7)
        ax.set_ylim(0, 1.02)
    axes[0][0].set_ylabel("answered within target (of all calls)")
    axes[0][-1].legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    level_png = directory / "service_level.png"
    fig.savefig(level_png, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    for scenario in scenarios:
        result = results[scenario]
        interval = result.profile.interval_seconds
        per_day = [result.logged_on.get(slot, 0.0) / interval / result.days for slot in range(len(labels))]
        hours = summary(result)["agent_hours"]
        ax.step(range(len(labels) + 1), [*per_day, per_day[-1]], where="post", label=f"{scenario}: {hours} agent-hours")
    ax.set_xticks(range(0, len(labels), 2), labels[::2], rotation=60, fontsize=7)
    ax.set_ylabel("agents logged on (average day)")
    ax.set_title(f"{', '.join(first.tenants())}: {first.days} days", fontsize=9)
    ax.legend()
    fig.tight_layout()
    agents_png = directory / "agents.png"
    fig.savefig(agents_png, dpi=110)
    plt.close(fig)
    return [level_png, agents_png]
