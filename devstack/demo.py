"""The demo objects that ``events/*.json`` refer to, for ``POST /_local/demo`` (never deployed).

The events name fixed ids (the demo flow, its run and trigger) and the API key
``local-dev-key``; seeding makes them true on the local stack, so every event can be invoked
against it (``python -m devstack.invoke``). Seeding again puts the demo back as it started,
whatever earlier invocations did to it:

- the key ``local-dev-key``, for the local account (the one ``make local`` prints a key for);
- the demo flow: ``notify`` (POST to the stack's echo endpoint) -> ``is_pro`` (a condition on
  ``trigger.body.plan``) -> ``welcome`` (an email, to the stack's email sink) when pro, else
  ``wait_a_day`` (a day's delay) and then ``welcome``;
- its trigger (``{"email": "ada@example.com", "plan": "pro"}``) and one run, ``scheduled``
  with its first execution requested but due a day later: the stack does not start it by
  itself, so the interpreter's events (start, node tasks, end) can drive it by hand.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository, get_repository
from automations.domain import clock, signing
from automations.domain.runs import Run, StatusChange, first_execution_name
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.flows.definition import Flow, FlowDefinition, FlowVersion
from automations.flows.validation import validate_flow
from automations.logic.accounts import register_api_key
from automations.ports import RunRecord

ACCOUNT_ID = "acct_local"  # the local stack's own account (devstack.stack.LOCAL_ACCOUNT_ID)
API_KEY = "local-dev-key"  # the bearer key in events/api_*.json
FLOW_ID = "flow_01KAXDEMO000000000000000000"
RUN_ID = "run_01KAXDEMO000000000000000000"
TRIGGER_ID = "trg_01KAXDEMO000000000000000000"
TRIGGER_BODY = {"email": "ada@example.com", "plan": "pro"}  # the body of events/api_webhook.json too
# Long enough that nothing starts the run while someone drives it by hand (the stream starts a
# requested execution only once it is due).
DUE_IN = timedelta(days=1)


def demo_nodes(echo_url: str) -> list[dict[str, Any]]:
    """The nodes the node and lifecycle events name (``nodeId``), of the types they expect."""
    return [
        {
            "id": "notify",
            "type": "http_request",
            "method": "POST",
            "url": echo_url,
            "body": {"email": "{{ trigger.body.email }}"},
        },
        {
            "id": "is_pro",
            "type": "condition",
            "if": "trigger.body.plan == 'pro'",
            "then": "welcome",
            "else": "wait_a_day",
        },
        {"id": "wait_a_day", "type": "delay", "seconds": 86400},
        {
            "id": "welcome",
            "type": "send_email",
            "to": "{{ trigger.body.email }}",
            "subject": "Welcome aboard",
            "text": "Hi {{ trigger.body.email }}, your account is ready.",
        },
    ]


def seed(echo_url: str) -> dict[str, Any]:
    """(Re)create the demo objects; answer what a caller needs to use them (the webhook secret)."""
    repo = get_repository()
    register_api_key(repo, ACCOUNT_ID, API_KEY)  # a put: registering again changes nothing that matters
    existing = repo.get_flow(FLOW_ID)
    secret = existing.webhook_secret if existing else signing.new_secret()  # kept: a signer keeps working
    _delete_partitions(repo, [keys.flow(FLOW_ID)["pk"], keys.run(RUN_ID)["pk"], keys.trigger(TRIGGER_ID)["pk"]])

    definition = FlowDefinition.model_validate(
        {"name": "Demo: welcome new sign-ups", "trigger": {"type": "webhook"}, "nodes": demo_nodes(echo_url)}
    )
    validate_flow(definition)  # the demo is a flow the API would accept
    now = clock.now()
    store_demo_run(repo, definition, TRIGGER_BODY, secret=secret, at=clock.iso(now), due=clock.iso(now + DUE_IN))
    return {
        "accountId": ACCOUNT_ID,
        "apiKey": API_KEY,
        "flowId": FLOW_ID,
        "webhookSecret": secret,
        "triggerId": TRIGGER_ID,
        "runId": RUN_ID,
    }


def store_demo_run(
    repo: DynamoRepository, definition: FlowDefinition, body: Any, *, secret: str, at: str, due: str
) -> Run:
    """The demo flow (``definition``), its trigger (``body``) and its run, ``scheduled`` with its first
    execution requested and due at ``due``: what the API and the recording path would have written."""
    flow = Flow(
        flow_id=FLOW_ID,
        account_id=ACCOUNT_ID,
        name=definition.name,
        version=1,
        trigger=definition.trigger,
        webhook_secret=secret,
        created_at=at,  # new each time: the newest of the account's flows, first in GET /flows
        updated_at=at,
    )
    repo.create_flow(flow, FlowVersion(flow_id=FLOW_ID, version=1, definition=definition, created_at=at))
    trigger = TriggerEvent(
        trigger_id=TRIGGER_ID,
        account_id=ACCOUNT_ID,
        kind="webhook",
        flow_id=FLOW_ID,
        received_at=at,
        body=body,
        run_ids=[RUN_ID],
    )
    run = Run(
        run_id=RUN_ID,
        account_id=ACCOUNT_ID,
        flow_id=FLOW_ID,
        flow_version=1,
        trigger_id=TRIGGER_ID,
        status=RunStatus.SCHEDULED,
        created_at=at,
        scheduled_for=due,
        current_execution=first_execution_name(RUN_ID),  # its first execution, requested by the run
        history=[StatusChange(status=RunStatus.SCHEDULED, at=at)],
    )
    repo.record_trigger(trigger, [RunRecord(run=run)])
    return run


def _delete_partitions(repo: DynamoRepository, partitions: list[str]) -> None:
    """Every item of each partition: the flow with its versions, the run with its steps and attempts."""
    for partition in partitions:
        request: dict[str, Any] = {
            "TableName": repo.table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "pk, sk",
        }
        while True:
            page = repo.client.query(**request)
            for key in page.get("Items", []):
                repo.client.delete_item(TableName=repo.table, Key=key)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
