"""SendEmailFunction: the ``send_email`` node (SendGrid v3) as a Step Functions Lambda task."""

from __future__ import annotations

from functools import partial
from typing import Any

import requests
from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.logic.node_runner import run_node
from automations.models.interpreter import NodeTask
from automations.nodes import send_email
from automations.observability import logger, tracer
from automations.repository.dynamo import get_repository
from automations.secrets import get_secret_store
from automations.settings import get_settings

session = requests.Session()  # reused across warm invocations: keeps the connection to SendGrid alive


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    task = NodeTask.model_validate(event)
    logger.append_keys(run_id=task.run_id, node_id=task.node_id)
    settings = get_settings()
    email = send_email.EmailSettings(
        settings.sendgrid_base_url, settings.email_default_from, settings.max_recorded_body_bytes
    )
    execute = partial(send_email.execute, session=session, secrets=get_secret_store(), settings=email)
    repo = get_repository()
    return run_node(repo, repo, repo, task, execute).dump()
