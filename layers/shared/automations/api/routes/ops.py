"""/ops: what operators watch. Overdue runs: still `scheduled` though their time has passed."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.schemas import OverdueResponse
from automations.logic.overdue import overdue_runs

router = APIGatewayRouter()


@router.get(
    "/ops/overdue",
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
