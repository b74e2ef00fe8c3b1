"""The one place that builds the logger, tracer and metrics every function shares.

Metric names are literals here (search for ``RunsFailed`` and you find where it is counted).
``EngineErrors`` counts the engine's own defects apart from runs failing at a step, so an
alarm on one never fires for the other.
"""

from __future__ import annotations

import warnings
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "automations"
METRICS_NAMESPACE = "Automations"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

# An invocation with nothing to count (most stream batches) is normal, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")


class Metric(StrEnum):
    RUNS_STARTED = "RunsStarted"
    RUNS_COMPLETED = "RunsCompleted"
    RUNS_FAILED = "RunsFailed"
    RUNS_CANCELLED = "RunsCancelled"
    RUNS_INTERRUPTED = "RunsInterrupted"
    RUNS_EXPIRED = "RunsExpired"
    ENGINE_ERRORS = "EngineErrors"
    OVERDUE_RUNS = "OverdueRuns"


def count(metric: Metric, value: int = 1) -> None:
    metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=value)


__all__ = ["METRICS_NAMESPACE", "Metric", "MetricUnit", "count", "logger", "metrics", "tracer"]
