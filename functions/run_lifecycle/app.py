"""RunLifecycleFunction: the state machine's bookkeeping tasks (start, wake up, step failed, end,
engine error, and Express's hand-off to Standard)."""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.adapters.dynamo.repository import get_repository
from automations.domain.interpreter import InterpreterState, LifecycleAction, LifecycleTask
from automations.logic import lifecycle
from automations.observability import logger, metrics, tracer

ACTIONS: dict[LifecycleAction, Callable[..., InterpreterState | dict[str, Any]]] = {
    "start": lifecycle.start,
    "wake_up": lifecycle.wake_up,
    "step_failed": lifecycle.step_failed,
    "end": lifecycle.end,
    "engine_error": lifecycle.engine_error,
    "hand_off": lifecycle.hand_off_to_standard,
}


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = LifecycleTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, action=task.action, execution=task.execution_name)
    result = ACTIONS[task.action](get_repository(), task)
    return result.dump() if isinstance(result, InterpreterState) else result
