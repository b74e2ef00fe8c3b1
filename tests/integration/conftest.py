"""Integration fixtures: the API handler on a moto table, and data built through the API itself."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.scheduler import get_schedules
from automations.domain import clock, signing
from automations.domain.runs import Run
from automations.flows.definition import FlowDefinition
from automations.logic.accounts import register_api_key
from automations.logic.reactions import ReactionDeps
from devstack import demo
from tests.conftest import TABLE, load_event
from tests.support.fakes import RecordingWorkflows

API_KEY = demo.API_KEY  # the key in events/api_*.json
OTHER_KEY = "other-account-key"


@pytest.fixture
def accounts(repo: DynamoRepository) -> dict[str, str]:
    register_api_key(repo, "acct_local", API_KEY)
    register_api_key(repo, "acct_other", OTHER_KEY)
    return {"local": API_KEY, "other": OTHER_KEY}


def table_items() -> list[dict[str, Any]]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


def api_event(name: str, *, path: str | None = None, body: Any = ..., key: str | None = API_KEY, **changes: Any):
    """An events/*.json API event, adjusted: path, JSON body (or raw text), bearer key, query."""
    event = copy.deepcopy(load_event(name))
    if path is not None:
        event["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
    if body is not ...:
        event["body"] = body if isinstance(body, str) or body is None else json.dumps(body)
    headers = {k: v for k, v in event["headers"].items() if k != "Authorization"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    headers.update(changes.pop("headers", {}))
    event["headers"] = headers
    event["multiValueHeaders"] = {k: [v] for k, v in headers.items()}
    if "query" in changes:
        query = changes.pop("query")
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()} if query else None
    return event


def signed_webhook(flow_id: str, secret: str, body: Any, *, at: int | None = None, **headers: str) -> dict[str, Any]:
    """events/api_webhook.json, signed now (or ``at``); its Idempotency-Key only if given again."""
    raw = body if isinstance(body, str) else json.dumps(body)
    signature = signing.sign(secret, raw.encode(), at if at is not None else int(time.time()))
    event = api_event(
        "api_webhook.json", path=f"/hooks/{flow_id}", body=raw, key=None, headers={"X-Signature": signature, **headers}
    )
    if "Idempotency-Key" not in headers:
        event["headers"].pop("Idempotency-Key")
        event["multiValueHeaders"].pop("Idempotency-Key")
    return event


@pytest.fixture
def api(handler_of, lambda_context, accounts) -> Callable[[dict[str, Any]], tuple[int, Any]]:
    """Invoke ApiFunction's handler; answer (status, parsed JSON body)."""
    handler = handler_of("ApiFunction")

    def invoke(event: dict[str, Any]) -> tuple[int, Any]:
        response = handler(event, lambda_context)
        return response["statusCode"], json.loads(response["body"]) if response.get("body") else None

    return invoke


@pytest.fixture
def webhook_flow(api) -> dict[str, Any]:
    """A saved webhook flow (the one in events/api_create_flow.json)."""
    status, flow = api(api_event("api_create_flow.json"))
    assert status == 201, flow
    return flow


# The ids the sample events (events/*.json) refer to.
DEMO_RUN_ID, DEMO_FLOW_ID, DEMO_TRIGGER_ID = demo.RUN_ID, demo.FLOW_ID, demo.TRIGGER_ID


def seed_demo_run(repo: DynamoRepository, nodes: list[dict[str, Any]], body: Any) -> Run:
    """Store the demo flow (with ``nodes``), its trigger (``body``) and a run due now, as the API would."""
    now = clock.iso(clock.now())
    definition = FlowDefinition.model_validate({"name": "demo", "trigger": {"type": "webhook"}, "nodes": nodes})
    return demo.store_demo_run(repo, definition, body, secret="whsec_x", at=now, due=now)


@pytest.fixture
def workflows() -> RecordingWorkflows:
    return RecordingWorkflows()


@pytest.fixture
def deps(repo: DynamoRepository, workflows: RecordingWorkflows) -> ReactionDeps:
    """What the stream's reactions get: the table, Step Functions as a recorder, the real scheduler (moto)."""
    return ReactionDeps(store=repo, workflows=workflows, schedules=get_schedules())
