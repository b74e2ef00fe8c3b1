"""Run history: per flow (newest first, by status) and one run with its steps and attempts."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.schemas import RunDetailResponse, RunPage, RunSummary
from automations.domain.status import RunStatus
from automations.logic import history

router = APIGatewayRouter()


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
