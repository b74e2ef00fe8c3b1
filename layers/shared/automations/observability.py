"""The one place that builds the logger, tracer and metrics every function shares."""

from __future__ import annotations

import warnings

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = "automations"
METRICS_NAMESPACE = "Automations"

logger = Logger(service=SERVICE)
tracer = Tracer(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)

# An invocation with nothing to count (most stream batches) is normal, not worth a warning.
warnings.filterwarnings("ignore", message="No application metrics to publish")

__all__ = ["METRICS_NAMESPACE", "MetricUnit", "logger", "metrics", "tracer"]
