"""The metrics the stack's functions publish, as CloudWatch would receive them (``/_local/metrics``).

On Lambda, Powertools prints each invocation's metrics as an embedded-metric-format (EMF) JSON
line, and CloudWatch Logs turns it into datapoints. Here the functions run in this process, so
the stack's standard output is read line by line: an EMF document becomes datapoints (name, unit,
value, dimensions, the local clock's time) kept in memory, and is not printed; every other line
goes to the terminal as before. The alarms' and the dashboard's signals can then be watched
locally, e.g. the overdue count through an outage and its recovery.
"""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, TextIO

from automations.domain import clock

KEPT = 50_000  # datapoints, the oldest dropped first


class LocalMetrics:
    def __init__(self, now: Callable[[], datetime]) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._points: list[dict[str, Any]] = []

    def record(self, document: dict[str, Any]) -> None:
        at = clock.iso(self._now())
        points = []
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimension_names = {name for names in directive["Dimensions"] for name in names}
            dimensions = {name: document[name] for name in sorted(dimension_names) if name in document}
            for metric in directive["Metrics"]:
                values = document[metric["Name"]]
                for value in values if isinstance(values, list) else [values]:
                    points.append(
                        {
                            "name": metric["Name"],
                            "namespace": directive["Namespace"],
                            "unit": metric.get("Unit", "None"),
                            "value": value,
                            "dimensions": dimensions,
                            "at": at,
                        }
                    )
        with self._lock:
            self._points.extend(points)
            del self._points[:-KEPT]

    def query(self, name: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [p for p in self._points if name is None or p["name"] == name]


class EmfTee:
    """A text stream in place of ``sys.stdout``: EMF lines to ``metrics``, the rest to ``out``."""

    def __init__(self, out: TextIO, metrics: LocalMetrics) -> None:
        self._out, self._metrics = out, metrics
        self._lock = threading.Lock()
        self._pending: dict[int, str] = {}  # per thread: a line written in parts

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        with self._lock:
            buffered = self._pending.pop(thread, "") + text
        *lines, rest = buffered.split("\n")
        if rest:
            with self._lock:
                self._pending[thread] = rest
        for line in lines:
            if not self._took(line):
                self._out.write(line + "\n")
        return len(text)

    def _took(self, line: str) -> bool:
        if not line.startswith('{"_aws"'):
            return False
        try:
            document = json.loads(line)
            self._metrics.record(document)
        except (ValueError, KeyError, TypeError):
            return False  # not EMF after all: print it
        return True

    def flush(self) -> None:
        self._out.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._out, name)


def capture_stdout(metrics: LocalMetrics) -> None:
    if not isinstance(sys.stdout, EmfTee):
        sys.stdout = EmfTee(sys.stdout, metrics)
