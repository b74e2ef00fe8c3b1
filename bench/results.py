"""``bench/results.json``: one dict keyed by figure name, shared by every benchmark.

A figure is ``{"min", "median", "max", ...}`` (and what it was computed from); a benchmark writes
only its own keys (``cold_start.*``, later ``cost.*``, ``local.*``...), merged into what the file
already holds, so benchmarks run apart never erase each other's figures.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results.json"


def summary(samples: Sequence[float], *, digits: int = 4) -> dict[str, Any]:
    """min/median/max of the samples, and the samples themselves (rounded)."""
    if not samples:
        raise ValueError("no samples")
    return {
        "min": round(min(samples), digits),
        "median": round(statistics.median(samples), digits),
        "max": round(max(samples), digits),
        "samples": [round(s, digits) for s in samples],
    }


def ratio(samples: Sequence[float], baseline: Sequence[float]) -> dict[str, Any]:
    """Each sample divided by the baseline's median; ``median`` is the samples' median over the
    baseline's median (what the targets are about), ``min``/``max`` bound the spread."""
    base = statistics.median(baseline)
    if base <= 0:
        raise ValueError("the baseline's median must be positive")
    ratios = sorted(s / base for s in samples)
    return {
        "min": round(ratios[0], 2),
        "median": round(statistics.median(samples) / base, 2),
        "max": round(ratios[-1], 2),
        # the fastest run over the baseline's fastest: noise on a shared machine only ever adds time
        "floor": round(min(samples) / min(baseline), 2),
        "baseline_median_seconds": round(base, 4),
    }


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def merge(existing: Mapping[str, Any], figures: Mapping[str, Any], *, measured_at: str | None = None) -> dict[str, Any]:
    """``existing`` with ``figures`` put over it, key by key: other benchmarks' keys stay as they
    were. ``measured_at`` and ``machine`` are each benchmark's own (``<prefix>.measured_at``) and
    the file's last run (``measured_at``, ``machine``)."""
    merged = dict(existing)
    merged.update(figures)
    merged["measured_at"] = measured_at or now_iso()
    merged["machine"] = machine()
    return dict(sorted(merged.items()))


def load(path: Path = RESULTS) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text()
    return dict(json.loads(text)) if text.strip() else {}


def write(figures: Mapping[str, Any], path: Path = RESULTS, *, measured_at: str | None = None) -> dict[str, Any]:
    """Merge ``figures`` into the file (atomically: a reader never sees half a file)."""
    merged = merge(load(path), figures, measured_at=measured_at)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp", encoding="utf-8") as out:
        json.dump(merged, out, indent=2)
        out.write("\n")
    os.replace(out.name, path)
    return merged
