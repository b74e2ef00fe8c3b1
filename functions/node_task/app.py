"""A node Task state's function: runs one attempt of one node (HttpRequestFunction, SendEmailFunction
and ComputeNodeFunction all run this handler, each with its own timeout, memory and permissions).

Raises the node's error class (TransientError, RateLimited, AuthenticationError, ...) so the state
machine's Retry and Catch blocks match it by name.
"""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.adapters.dynamo.repository import get_repository
from automations.adapters.ssm import get_secret_store
from automations.domain.interpreter import NodeTask
from automations.logic.node_runner import run_node
from automations.nodes.base import NodeServices
from automations.observability import logger, metrics, tracer
from automations.settings import get_settings


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = NodeTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, node_id=task.node_id)
    services = NodeServices(secrets=get_secret_store(), settings=get_settings().node_settings())
    return run_node(get_repository(), task, services).dump()
