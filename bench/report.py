"""``python -m bench.report [RESULTS] [--readme README.md]``: bench/results.json as the README's
performance table (markdown).

Generated, never hand-typed: printed, or written into the README between the lines
``<!-- bench:start -->`` and ``<!-- bench:end -->`` (``--readme``; everything between them is
replaced). Figures it does not know yet are listed by name and median.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench import local, overdue
from bench.results import RESULTS

COLD = "cold_start."
COST = "cost."
COST_PATHS = {"standard": "Standard", "express": "Express"}  # execution paths, as bench/cost.py keys them
# the targets for a 5-node run, per path: $ per million runs (each figure carries its own)
COST_TARGET_USD = {"standard": 350, "express": 80}
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TARGET_RATIO = 1.5  # issue #11: every function's cold start <= 1.5x the boto3 baseline
COMPONENTS = {
    "step_functions": "Step Functions",
    "lambda_requests": "Lambda requests",
    "lambda_duration": "Lambda duration",
    "dynamodb_writes": "DynamoDB writes",
    "dynamodb_reads": "DynamoDB reads",
    "scheduler": "Scheduler",
}


def _x(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}x"


def _cold_start_rows(figures: Mapping[str, Any]) -> list[str]:
    names = sorted(k[len(COLD) : -len(".ratio")] for k in figures if k.startswith(COLD) and k.endswith(".ratio"))
    if not names:
        return []
    base = figures.get(f"{COLD}baseline_seconds", {})
    method = figures.get(f"{COLD}method", {})
    rows = [
        "| cold start | ratio to boto3, median (min-max) | CPU ratio | median s | import s | target |",
        "|---|---|---|---|---|---|",
        f"| baseline: `import boto3` + one client | 1.00 | 1.00 | {base.get('median', 0):.3f} | | |",
    ]
    for name in names:
        ratio = figures[f"{COLD}{name}.ratio"]
        imported = figures.get(f"{COLD}{name}.import_seconds", {})
        met = "met" if ratio["median"] <= TARGET_RATIO else "not met"
        cpu = ratio.get("cpu_ratio")
        rows.append(
            f"| {name} (`{ratio.get('event', '')}`) | {ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f})"
            f" | {_x(cpu)} | {ratio['seconds']['median']:.3f}"
            f" | {imported.get('median', 0):.3f} | <= {TARGET_RATIO}x: {met} |"
        )
    note = (
        f"Fresh interpreter: import the handler, serve its sample event once (moto on loopback), "
        f"{method.get('repeat', '?')} runs per function, interleaved with the baseline's; "
        f"tracing {method.get('tracing', '?')}; measured {figures.get(f'{COLD}measured_at', '?')}. "
        "The ratio is of wall-clock medians (the target's figure, moto's time serving the calls included); "
        "the CPU ratio is of the function's own process (start-up included, moto's time not)."
    )
    return [*rows, "", note]


def _n(value: float) -> str:
    return f"{value:g}" if value == int(value) or abs(value) >= 10 else f"{value:.2f}".rstrip("0").rstrip(".")


def _spread(figure: Mapping[str, Any], fmt=_n) -> str:
    """median, and (min-max) when the runs differed; against its target when it has one."""
    text = fmt(figure["median"])
    if figure["min"] != figure["max"]:
        text += f" ({fmt(figure['min'])}-{fmt(figure['max'])})"
    target = figure.get("target")
    if target is None:
        return text
    return f"{text}, <= {fmt(target)}: {'met' if figure['median'] <= target else 'not met'}"


def _is_cost_table_key(key: str) -> bool:
    return key.startswith(tuple(f"{COST}{path}." for path in COST_PATHS)) or key in (
        f"{COST}usd_per_million_runs",
        f"{COST}method",
        f"{COST}measured_at",
    )


def dominant(breakdown: Mapping[str, float], of: str) -> str:
    """What most of a run's price is, in words: "Step Functions is 87% of <of> (then ...)"."""
    total = sum(breakdown.values())
    if total <= 0:
        return f"nothing in {of} is priced"
    shares = sorted(((v / total, k) for k, v in breakdown.items() if v > 0), reverse=True)
    (top, name), rest = shares[0], shares[1:3]
    then = ", ".join(f"{COMPONENTS.get(k, k)} {s:.0%}" for s, k in rest)
    return f"{COMPONENTS.get(name, name)} is {top:.0%} of {of}" + (f" (then {then})" if then else "")


def cost_rows(figures: Mapping[str, Any]) -> list[str]:
    """One row per execution path and flow variant (``cost.<path>.<variant>.*``), with the targets."""
    suffix = ".usd_per_million_runs"
    keys = [k for k in figures if k.startswith(tuple(f"{COST}{path}." for path in COST_PATHS)) and k.endswith(suffix)]
    # the reference flow first, each variant before its retrying one
    keys.sort(key=lambda k: (k.split(".")[1], k.split(".")[2] != "reference", k[: -len(suffix)]))
    if not keys:
        return []
    method = figures.get(f"{COST}method", {})
    rows = [
        f"| cost per run, median of {method.get('runs', '?')} (min-max) | transitions | Lambda invocations"
        " | Lambda GB-s | DynamoDB writes | write units (table + indexes) | read units | stream records"
        " | Scheduler calls | $ per million runs |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        base = key[: -len(suffix)]
        path, variant = base[len(COST) :].split(".", 1)

        def fig(name: str, base: str = base) -> Mapping[str, Any]:
            return figures[f"{base}.{name}"]

        units, usd = fig("dynamodb_write_units"), figures[key]
        usd_met = "met" if usd["total"] <= usd["target"] else "not met"
        rows.append(
            f"| {COST_PATHS.get(path, path)}: {variant} ({fig('transitions').get('nodes', '?')} nodes,"
            f" {fig('transitions').get('calling_out', '?')} calling out)"
            f" | {_spread(fig('transitions'))} | {_spread(fig('lambda_invocations'))}"
            f" | {_spread(fig('lambda_gb_seconds'), lambda v: f'{v:.3f}')} | {_spread(fig('dynamodb_writes'))}"
            f" | {_n(units['median'])} ({_n(units['table']['median'])} + {_n(units['gsi']['median'])})"
            f" | {_spread(fig('dynamodb_read_units'))} | {_spread(fig('stream_records'))}"
            f" | {_spread(fig('scheduler_calls'))} | {usd['total']:.2f}, <= {usd['target']}: {usd_met} |"
        )
    lines = [*rows, ""]
    top = figures.get(f"{COST}usd_per_million_runs")
    if top:
        breakdown = top["breakdown"]
        ranked = sorted(breakdown.items(), key=lambda item: -item[1])
        parts = " + ".join(f"{COMPONENTS.get(k, k)} {v:.2f}" for k, v in ranked if v)
        path, _, variant = str(top.get("of", "standard.reference")).partition(".")
        what = f"the {COST_PATHS.get(path, path)} path's {variant} run's cost"
        lines.append(f"{dominant(breakdown, what)}: ${top['total']:.2f} per million runs = {parts}.")
        lines.append("")
    prices = method.get("prices", {})
    lines.append(
        "Counted on the local stack, one run at a time, until it is quiet: transitions from the executions'"
        " histories (retries included), invocations and handler time (GB-s at the template's memory), DynamoDB"
        " item writes and request units from every call the functions made (index writes from the stream images),"
        f" stream records, Scheduler calls; priced at {prices.get('region', '?')} list prices as of"
        f" {prices.get('as_of', '?')} (`bench/prices.json`). Targets for 5 nodes: transitions <= 2N+3 for N"
        " nodes calling out (+1 per retry), writes <= 15, stream records <= 12,"
        f" <= ${COST_TARGET_USD['standard']} per million runs on the Standard path"
        f" and <= ${COST_TARGET_USD['express']} on the Express path (runs start on Express and hand off to Standard"
        " where they must wait: there Standard's transitions are counted, Express's execution and duration)."
        f" Not counted: {method.get('not_counted', '?')}. Measured {figures.get(f'{COST}measured_at', '?')}."
    )
    return lines


def _other_rows(figures: Mapping[str, Any]) -> list[str]:
    others = sorted(
        key
        for key, value in figures.items()
        if not key.startswith((COLD, "local.", "overdue."))
        and not _is_cost_table_key(key)
        and isinstance(value, Mapping)
        and "median" in value
    )
    if not others:
        return []
    rows = ["| figure | median (min-max) |", "|---|---|"]
    for key in others:
        v = figures[key]
        rows.append(f"| `{key}` | {v['median']} ({v.get('min', '')}-{v.get('max', '')}) |")
    return rows


def render(figures: Mapping[str, Any]) -> str:
    machine = figures.get("machine", {})
    lines = [
        f"Measured by `make bench` on {machine.get('cores', '?')} cores, Python {machine.get('python', '?')} "
        f"({figures.get('measured_at', '?')}); every timing is a ratio to a baseline timed in the same run.",
        "",
    ]
    tables = (
        _cold_start_rows(figures),
        cost_rows(figures),
        overdue.rows(dict(figures)),
        local.rows(dict(figures)),
        _other_rows(figures),
    )
    sections = [rows for rows in tables if rows]
    for i, rows in enumerate(sections):
        lines += ([""] if i else []) + rows
    return "\n".join(lines).rstrip() + "\n"


def into_readme(readme: str, table: str) -> str:
    """``readme`` with what lies between the markers replaced by ``table``."""
    start, end = readme.find(START), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the README has no {START} ... {END} lines to put the table between")
    return readme[: start + len(START)] + "\n\n" + table.rstrip() + "\n\n" + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report", description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=RESULTS)
    parser.add_argument("--readme", type=Path, help="write the table into this file, between the bench markers")
    args = parser.parse_args(argv)
    table = render(json.loads(args.results.read_text()))
    if args.readme is None:
        print(table, end="")
        return 0
    args.readme.write_text(into_readme(args.readme.read_text(), table))
    print(f"performance table written into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
