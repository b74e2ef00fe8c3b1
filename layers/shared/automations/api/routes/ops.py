"""/ops: what operators watch. Overdue runs: still `scheduled` though their time has passed. The
summary: runs by status per flow in a window and the one before, with failure spikes flagged."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.schemas import OpsSummaryResponse, OverdueResponse
from automations.logic.ops_summary import summarize
from automations.logic.overdue import overdue_runs

router = APIGatewayRouter()


@router.get(
    "/ops/overdue",
    operation_id="listOverdueRuns",
    summary="Overdue runs: the count, per flow, and the runs (oldest first)",
    description="A growing count means the engine is falling behind its queue: escalate.",
    tags=["ops"],
)
def get_overdue(
    account_id: AccountId,
    repo: Repository,
    flow_id: Annotated[str | None, Query(alias="flowId")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 25,
    cursor: Annotated[str | None, Query()] = None,
) -> OverdueResponse:
    return OverdueResponse.of(overdue_runs(repo, account_id, flow_id=flow_id, limit=limit, cursor=cursor))


@router.get(
    "/ops/summary",
    operation_id="getOpsSummary",
    summary="Runs by status per flow in a window and the one before; failure spikes flagged",
    description="The handbook's escalation signal: a spike in failed runs across multiple flows.",
    tags=["ops"],
)
def get_summary(
    account_id: AccountId,
    repo: Repository,
    window: Annotated[str, Query(description="ISO 8601 duration, PT1M to P7D", max_length=20)] = "PT1H",
) -> OpsSummaryResponse:
    return OpsSummaryResponse.of(summarize(repo, account_id, window), window)
