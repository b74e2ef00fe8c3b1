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

from bench.results import RESULTS

COLD = "cold_start."
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
TARGET_RATIO = 1.5  # issue #11: every function's cold start <= 1.5x the boto3 baseline


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


def _other_rows(figures: Mapping[str, Any]) -> list[str]:
    others = sorted(
        key
        for key, value in figures.items()
        if not key.startswith(COLD) and isinstance(value, Mapping) and "median" in value
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
    cold = _cold_start_rows(figures)
    other = _other_rows(figures)
    lines += cold
    if cold and other:
        lines.append("")
    lines += other
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
