"""RunLifecycleFunction: the state machine's bookkeeping tasks (start, step failed, finish)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.logic import lifecycle
from automations.models.interpreter import LifecycleTask
from automations.observability import logger, tracer
from automations.repository.dynamo import get_repository


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = LifecycleTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, action=task.action)
    repo = get_repository()
    if task.action == "start":
        return lifecycle.start_run(repo, repo, task).dump()
    if task.action == "step_failed":
        return lifecycle.step_failed(repo, repo, task).dump()
    if task.action == "finish":
        return lifecycle.finish_run(repo, task)
    return lifecycle.engine_error(repo, task)
