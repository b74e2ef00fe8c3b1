"""/flows: create, list, read, publish, delete; rotate a webhook flow's secret."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.http import created
from automations.api.schemas import (
    FlowCreated,
    FlowDetail,
    FlowPage,
    FlowSummary,
    RotateSecretRequest,
    SecretRotated,
)
from automations.flows.definition import FlowDefinition
from automations.logic import flows

router = APIGatewayRouter()


@router.post("/flows", operation_id="createFlow", status_code=201, summary="Create a flow (version 1)", tags=["flows"])
def create_flow(
    definition: Annotated[FlowDefinition, Body()], account_id: AccountId, repo: Repository, request: Request
) -> Response[FlowCreated]:
    version = flows.create_flow(repo, account_id, definition)
    body = FlowCreated(**FlowDetail.of_version(version).model_dump(), webhook_secret=version.flow.webhook_secret)
    return created(request, body, f"/flows/{version.flow.flow_id}")


@router.get("/flows", operation_id="listFlows", summary="List the account's flows, newest first", tags=["flows"])
def list_flows(
    account_id: AccountId,
    repo: Repository,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query()] = None,
) -> FlowPage:
    page = flows.list_flows(repo, account_id, limit=limit, cursor=cursor)
    return FlowPage(items=[FlowSummary.of(f) for f in page.items], next_cursor=page.next_cursor)


@router.put(
    "/flows/<flowId>", operation_id="publishFlowVersion", summary="Publish a new version of a flow", tags=["flows"]
)
def publish_version(
    flow_id: Annotated[str, Path(alias="flowId")],
    definition: Annotated[FlowDefinition, Body()],
    account_id: AccountId,
    repo: Repository,
) -> FlowDetail:
    return FlowDetail.of_version(flows.publish_version(repo, account_id, flow_id, definition))


@router.get("/flows/<flowId>", operation_id="getFlow", summary="Read a flow and its current definition", tags=["flows"])
def get_flow(flow_id: Annotated[str, Path(alias="flowId")], account_id: AccountId, repo: Repository) -> FlowDetail:
    return FlowDetail.of_version(flows.get_flow(repo, account_id, flow_id))


@router.delete(
    "/flows/<flowId>",
    operation_id="deleteFlow",
    summary="Delete a flow",
    description="It takes no more triggers and its scheduled runs are cancelled; its run history stays readable.",
    tags=["flows"],
)
def delete_flow(flow_id: Annotated[str, Path(alias="flowId")], account_id: AccountId, repo: Repository) -> FlowSummary:
    return FlowSummary.of(flows.delete_flow(repo, account_id, flow_id))


@router.post(
    "/flows/<flowId>/secret",
    operation_id="rotateWebhookSecret",
    summary="Rotate a webhook flow's signing secret",
    description="Answers the new secret once. The old one still verifies for graceSeconds (default a day), "
    "so senders can switch without losing calls.",
    tags=["flows"],
)
def rotate_secret(
    flow_id: Annotated[str, Path(alias="flowId")],
    account_id: AccountId,
    repo: Repository,
    request: Annotated[RotateSecretRequest | None, Body()] = None,
) -> SecretRotated:
    grace = request.grace_seconds if request else None
    rotated = flows.rotate_webhook_secret(
        repo, account_id, flow_id, timedelta(seconds=grace) if grace is not None else None
    )
    return SecretRotated.of(rotated)
