"""HttpRequestFunction: the ``http_request`` node as a Step Functions Lambda task.

Raises the node's error class (TransientError, RateLimited, AuthenticationError, ...) so the
state machine's Retry and Catch blocks match it by name.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import requests
from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.logic.node_runner import run_node
from automations.models.interpreter import NodeTask
from automations.nodes import http_request
from automations.observability import logger, tracer
from automations.repository.dynamo import get_repository
from automations.settings import get_settings

session = requests.Session()  # reused across warm invocations: keeps connections alive


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = NodeTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, node_id=task.node_id)
    settings = get_settings()
    policy = http_request.HttpPolicy(settings.allow_private_targets, settings.max_recorded_body_bytes)
    repo = get_repository()
    return run_node(repo, repo, repo, task, partial(http_request.execute, session=session, policy=policy)).dump()
