"""ExecutionStatusFunction: Step Functions' execution status-change events (EventBridge) ->
``ended_executions.execution_ended``.

The rule in template.yaml lets through only the interpreter's executions that ended ABORTED,
TIMED_OUT or FAILED. When the interpreter had recorded its own end (``EndRun``, or an engine
error) this records nothing; otherwise the execution ended without reaching its end, and the
stream's reaction ``follow_execution_end`` makes the run (and its step in flight) ``interrupted``.
"""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
import json
import re
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.adapters.dynamo.repository import get_repository
from automations.logic import ended_executions
from automations.observability import logger, metrics, tracer

# a run's executions are named `<runId>`, then `<runId>-r<n>`
_LATER_EXECUTION = re.compile(r"-r\d+$")


def run_id_of(detail: dict[str, Any]) -> str:
    """The input's ``runId`` (every execution starts with ``{"runId": ...}``), else the name's run
    id: the input is left out of an event whose payload is too large (``inputDetails.included``)."""
    try:
        started_with = json.loads(detail.get("input") or "null")
    except ValueError:
        started_with = None
    if isinstance(started_with, dict) and isinstance(started_with.get("runId"), str):
        return started_with["runId"]
    return _LATER_EXECUTION.sub("", detail["name"])


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # the EventBridge event as it comes: only its `detail` is read (Powertools' EventBridgeEvent
    # wrapper would import every event data class at init, for one dict lookup)
    detail = event["detail"]
    run_id, name, status = run_id_of(detail), detail["name"], detail["status"]
    logger.append_keys(run_id=run_id, execution=name)
    cause = detail.get("cause") or detail.get("error")
    recorded = ended_executions.execution_ended(
        get_repository(), run_id=run_id, name=name, status=status, cause=cause, arn=detail.get("executionArn")
    )
    logger.info("execution status change", extra={"execution": name, "status": status, "recorded": recorded})
    return {"runId": run_id, "execution": name, "status": status, "recorded": recorded}
