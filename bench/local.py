"""The local stack under load, as ``make bench`` reports it: runs/s and trigger-to-completion
latency at concurrency 1 and 20 (``bench/local_stack_load.py`` does the measuring).

    python -m bench --only local

One local stack of this checkout (loopback only) serves both loads, one after the other: a
1-node flow, ``RUNS[c]`` signed webhooks from ``c`` concurrent clients. ``local.concurrency_<c>``
holds runs/s (completed per second on the engine's clocks, first run created to last run
ended) as its median, with p50/p95 seconds from a run's creation to its end, 5xx answers,
refusals and connection errors; ``local.scaling`` is the runs/s at 20 over the runs/s at 1, both
from this run (a ratio, as these machines are noisy).
"""

from __future__ import annotations

from typing import Any

from automations.domain import clock
from bench import local_stack_load

PREFIX = "local"
RUNS = {1: 30, 20: 200}


def measure(log: Any = print) -> dict[str, Any]:
    from tests.support.stack_client import running_local_stack

    figures: dict[str, Any] = {}
    with running_local_stack() as stack:
        for clients, runs in RUNS.items():
            found = local_stack_load.measure(stack.url, stack.api_key, runs, clients, nodes=1, timeout=600)
            log(f"local: {clients} clients: {found['runs_per_second']} runs/s, p95 {found['p95_seconds']} s")
            rate = found["runs_per_second"]
            figures[f"{PREFIX}.concurrency_{clients}"] = {"min": rate, "median": rate, "max": rate, **found}
    one, twenty = (figures[f"{PREFIX}.concurrency_{c}"]["median"] for c in RUNS)
    scaling = round(twenty / one, 2) if one and twenty else None
    figures[f"{PREFIX}.scaling"] = {"min": scaling, "median": scaling, "max": scaling}
    figures[f"{PREFIX}.measured_at"] = clock.iso(clock.now())
    return figures


def rows(figures: dict[str, Any]) -> list[str]:
    """The README's rows for the local stack's load, if measured."""
    measured = [c for c in RUNS if f"{PREFIX}.concurrency_{c}" in figures]
    if not measured:
        return []
    lines = [
        "| local stack, 1-node flow | runs/s | p50 s | p95 s | 5xx | refused | connection errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in measured:
        f = figures[f"{PREFIX}.concurrency_{c}"]
        refused = sum((f.get("refused_4xx") or {}).values())
        lines.append(
            f"| {f['runs']} webhooks, {c} client{'s' if c > 1 else ''} | {f['median']} | {f['p50_seconds']}"
            f" | {f['p95_seconds']} | {f['http_5xx']} | {refused} | {f['connection_errors']} |"
        )
    scaling = figures.get(f"{PREFIX}.scaling", {}).get("median")
    note = f"Runs/s at 20 clients over runs/s at 1: {scaling}x (one run)." if scaling else ""
    return [*lines, "", f"{note} Measured {figures.get(f'{PREFIX}.measured_at', '?')}.".strip()]
