"""Runs: a manual run; run history per flow (newest first, by status); one run with its steps and attempts."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.schemas import RunDetailResponse, RunPage, RunSummary, TriggerAcceptedResponse
from automations.domain.status import RunStatus
from automations.logic import history
from automations.logic.manual_runs import ManualRunRequest, run_manually

router = APIGatewayRouter()


@router.post(
    "/flows/<flowId>/runs",
    status_code=202,
    summary="Run a flow now (or at 'at')",
    description="A manual run of any live flow: 'data' is what its trigger carries (a webhook flow's "
    "trigger.body, an event flow's trigger.data). An Idempotency-Key header makes retries return the first.",
    tags=["runs"],
)
def run_flow(
    flow_id: Annotated[str, Path(alias="flowId")],
    request: Annotated[ManualRunRequest, Body()],
    account_id: AccountId,
    repo: Repository,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> TriggerAcceptedResponse:
    recorded = run_manually(repo, account_id, flow_id, request, idempotency_key=idempotency_key)
    return TriggerAcceptedResponse(trigger_id=recorded.trigger_id, run_ids=recorded.run_ids)


@router.get("/flows/<flowId>/runs", summary="Run history of a flow, newest first", tags=["runs"])
def list_runs(
    flow_id: Annotated[str, Path(alias="flowId")],
    account_id: AccountId,
    repo: Repository,
    status: Annotated[RunStatus | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query()] = None,
) -> RunPage:
    page = history.list_runs(repo, account_id, flow_id, status=status, limit=limit, cursor=cursor)
    return RunPage(items=[RunSummary.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get("/runs/<runId>", summary="A run with its trigger, steps and every attempt", tags=["runs"])
def get_run(run_id: Annotated[str, Path(alias="runId")], account_id: AccountId, repo: Repository) -> RunDetailResponse:
    return RunDetailResponse.of_view(history.get_run(repo, account_id, run_id))
