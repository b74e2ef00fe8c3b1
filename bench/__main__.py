"""``python -m bench``: run the benchmarks, merge their figures into bench/results.json, print them.

    python -m bench [--only cold_start|cost|overdue|local] [--repeat 7] [--tracing as-deployed|off|on]
                    [--runs 3] [--overdue-sizes 1000 100000] [--output PATH]

Each benchmark writes only its own keys (``cold_start.*``, ``cost.*``, ``overdue.*``, ``local.*``);
the file keeps the others'.
``python -m bench.report`` renders the README's table from the file.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bench import cold_start, cost, local, overdue, report, results

BENCHMARKS = ("cold_start", "cost", "overdue", "local")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=BENCHMARKS, action="append", help="run only this benchmark (repeatable)")
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters per function (default 7)")
    parser.add_argument(
        "--tracing",
        choices=("as-deployed", "off", "on"),
        default="as-deployed",
        help="cold starts: Powertools' Tracer as the template sets it (default), off, or on (per-call tracing)",
    )
    parser.add_argument("--functions", nargs="*", help="cold starts: only these functions (logical ids)")
    parser.add_argument("--runs", type=int, default=3, help="cost: runs per flow variant (default 3)")
    parser.add_argument("--variants", nargs="*", choices=cost.VARIANTS, help="cost: only these flow variants")
    parser.add_argument("--paths", nargs="*", choices=cost.PATHS, help="cost: only these execution paths")
    parser.add_argument(
        "--overdue-sizes", nargs="*", type=int, default=list(overdue.SIZES), help="overdue: table sizes (runs)"
    )
    parser.add_argument("--output", type=Path, default=results.RESULTS, help="the results file to merge into")
    args = parser.parse_args(argv)
    started = time.monotonic()
    figures: dict = {}

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    for name in args.only or BENCHMARKS:
        if name == "cold_start":
            found = cold_start.measure(repeat=args.repeat, mode=args.tracing, only=args.functions, log=log)
            print(cold_start.table(found))
            figures.update(found)
        elif name == "cost":
            found = cost.measure(runs=args.runs, variants=args.variants, log=log, paths=args.paths or cost.PATHS)
            print(cost.table(found))
            figures.update(found)
        elif name == "overdue":
            figures.update(overdue.measure(args.overdue_sizes, log=log))
        elif name == "local":
            figures.update(local.measure(log=log))
    merged = results.write(figures, args.output)
    print(f"\n{len(figures)} figures merged into {args.output} ({time.monotonic() - started:.0f} s)")
    print()
    print(report.render(merged))
    return 0


if __name__ == "__main__":
    sys.exit(main())
