"""The one place that builds the logger, tracer and metrics every function shares.

Metric names are literals here (search for ``RunsFailed`` and you find where it is counted).
``EngineErrors`` counts the engine's own defects apart from runs failing at a step, so an
alarm on one never fires for the other.

The tracer is Powertools' ``Tracer``, built only when tracing is on (see ``LazyTracer``): the
X-Ray SDK it imports and patches in costs about 0.1 s of a cold start on Lambda (0.2 s and more
elsewhere, where the SDK also makes an X-Ray client for its sampling rules), for nothing when
tracing is off (``POWERTOOLS_TRACE_DISABLED``, and everywhere outside Lambda: tests, the local
stack). Lambda's active tracing (``Tracing: Active``) records each invocation without the SDK;
the SDK adds the handler's subsegment and one per AWS or HTTP call.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = "automations"
METRICS_NAMESPACE = "Automations"


def tracing_enabled() -> bool:
    """Whether Powertools' Tracer would trace in this environment (its own rule: not when
    ``POWERTOOLS_TRACE_DISABLED`` is true, nor outside Lambda, nor under SAM's or Chalice's
    local emulators)."""
    from aws_lambda_powertools.tracing.tracer import Tracer

    return not Tracer._is_tracer_disabled()


class LazyTracer:
    """Powertools' ``Tracer``, made (and the X-Ray SDK imported) only when tracing is enabled.

    ``capture_lambda_handler`` decides when it decorates the handler, at init: a sandbox's
    environment does not change. Enabled, the handler is wrapped by the real Tracer, exactly as
    before; disabled, it is returned as it is (the real Tracer, disabled, would only open
    subsegments nobody records). Anything else (``put_annotation``, ``capture_method``,
    ``provider``...) is the real Tracer's, made on first use.
    """

    def __init__(self, service: str) -> None:
        self.service = service
        self._tracer: Tracer | None = None

    @property
    def tracer(self) -> Tracer:
        if self._tracer is None:
            from aws_lambda_powertools import Tracer

            self._tracer = Tracer(service=self.service)
        return self._tracer

    @property
    def built(self) -> bool:
        """Whether the real Tracer (and so the X-Ray SDK) has been made in this process."""
        return self._tracer is not None

    def capture_lambda_handler(self, lambda_handler: Callable[..., Any] | None = None, **options: Any) -> Any:
        if lambda_handler is None:
            return functools.partial(self.capture_lambda_handler, **options)
        if not tracing_enabled():
            return lambda_handler
        return self.tracer.capture_lambda_handler(lambda_handler, **options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # (copy and pickle probe these before __init__ has run)
            raise AttributeError(name)
        return getattr(self.tracer, name)


logger = Logger(service=SERVICE)
tracer = LazyTracer(service=SERVICE)
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
    STEP_RETRIES = "StepRetries"  # a step going `retrying`, by ErrorType
    STEP_FAILURES = "StepFailures"  # a step failing for good, by ErrorType
    ENGINE_ERRORS = "EngineErrors"
    TRIGGER_TO_START = "TriggerToStartLatency"  # a run due at once: from its trigger to its start
    SCHEDULE_LATENESS = "ScheduleLateness"  # a run due later: from its due time to its start
    OVERDUE_RUNS = "OverdueRuns"
    STREAM_RECORD_FAILURES = "StreamRecordFailures"  # records the stream handler gave back to retry


@dataclass(frozen=True)
class MetricSpec:
    unit: MetricUnit
    dimensions: tuple[str, ...] = ()  # beyond ``service``, which every metric carries


# Every metric the engine emits, its unit and its dimensions: a small fixed set (an ErrorType is a
# Step Functions error name, one of errors.NODE_ERRORS or a Lambda/States error). The alarms and
# the dashboard in template.yaml name only these (tests/unit/test_signals.py checks it).
METRICS: dict[Metric, MetricSpec] = {
    **{metric: MetricSpec(MetricUnit.Count) for metric in Metric},
    Metric.STEP_RETRIES: MetricSpec(MetricUnit.Count, ("ErrorType",)),
    Metric.STEP_FAILURES: MetricSpec(MetricUnit.Count, ("ErrorType",)),
    Metric.TRIGGER_TO_START: MetricSpec(MetricUnit.Milliseconds),
    Metric.SCHEDULE_LATENESS: MetricSpec(MetricUnit.Seconds),
}


# an item's attributes that say whose it is, as log keys (a stream record's)
_ITEM_KEYS = {"runId": "run_id", "flowId": "flow_id", "accountId": "account_id", "nodeId": "node_id"}


def record_keys(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item[attribute] for attribute, key in _ITEM_KEYS.items() if item.get(attribute)}


def log_run_keys(run: Any) -> None:
    """Every later log line of this invocation names the run's flow, account and execution (the
    handler clears the keys at the next invocation: ``inject_lambda_context(clear_state=True)``)."""
    keys = {"run_id": run.run_id, "flow_id": run.flow_id, "account_id": run.account_id}
    if run.current_execution:  # (a run not started yet has none: the task's own name stays)
        keys["execution"] = run.current_execution
    logger.append_keys(**keys)


def count(metric: Metric, value: float = 1, **dimensions: str) -> None:
    """Add ``value`` to ``metric`` in its own unit; a metric with dimensions of its own gets its own
    EMF document (Powertools' dimensions would otherwise apply to every metric of the invocation)."""
    spec = METRICS[metric]
    if set(dimensions) != set(spec.dimensions):
        raise ValueError(f"{metric} takes the dimensions {spec.dimensions}, not {tuple(dimensions)}")
    if not dimensions:
        metrics.add_metric(name=metric.value, unit=spec.unit, value=value)
        return
    if is_metrics_disabled():  # (single_metric prints whatever POWERTOOLS_METRICS_DISABLED says)
        return
    with single_metric(
        name=metric.value,
        unit=spec.unit,
        value=value,
        namespace=METRICS_NAMESPACE,
        default_dimensions={"service": SERVICE},
    ) as one:
        for name, dimension in dimensions.items():
            one.add_dimension(name=name, value=dimension)


__all__ = [
    "METRICS",
    "METRICS_NAMESPACE",
    "LazyTracer",
    "Metric",
    "MetricSpec",
    "MetricUnit",
    "count",
    "log_run_keys",
    "logger",
    "metrics",
    "record_keys",
    "tracer",
    "tracing_enabled",
]
