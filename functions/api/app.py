"""ApiFunction: the public REST API behind API Gateway. It only records; it never runs flows."""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.api.resolver import build_resolver
from automations.observability import logger, metrics, tracer

app = build_resolver()


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
