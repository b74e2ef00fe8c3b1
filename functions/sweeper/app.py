"""SweeperFunction, every minute (EventBridge Scheduler): the overdue safety net in ``logic.sweeper``.

Starts runs still `scheduled` after their time (idempotently), expires those past their deadline,
and publishes the ``OverdueRuns`` metric the overdue alarm watches.
"""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.adapters.dynamo.repository import get_repository
from automations.adapters.stepfunctions import get_workflows
from automations.logic.sweeper import sweep
from automations.observability import logger, metrics, tracer


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return asdict(sweep(get_repository(), get_workflows()))
