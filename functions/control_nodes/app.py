"""ControlNodeFunction: the ``condition``, ``set`` and ``delay`` nodes (no calls out).

A delay runs twice: ``phase: run`` computes the wake-up time for the Wait state, and
``phase: finish_wait`` completes the step once the Wait state is over.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.logic.node_runner import NodeOutcome, finish_waiting_node, run_node
from automations.logic.run_context import RunContext
from automations.models.flow import Node
from automations.models.interpreter import NodeTask
from automations.nodes.control import EXECUTORS
from automations.observability import logger, tracer
from automations.repository.dynamo import get_repository


def execute(node: Node, params: dict[str, Any], context: RunContext) -> NodeOutcome:
    return EXECUTORS[node.type](node, params, context)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = NodeTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, node_id=task.node_id, phase=task.phase)
    repo = get_repository()
    if task.phase == "finish_wait":
        return finish_waiting_node(repo, repo, task).dump()
    return run_node(repo, repo, repo, task, execute).dump()
