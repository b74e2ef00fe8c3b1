"""Runs: a manual run; run history per flow and across flows (newest due first; by status and time);
one run with its steps and attempts, or one step; operators' actions: re-trigger (one or in bulk), cancel,
resume."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, CurrentCaller, Repository
from automations.api.response_size import within_limit
from automations.api.schemas import (
    BulkRetriggerRequest,
    BulkRetriggerResponse,
    CancelledResponse,
    CancelRequest,
    ResumedResponse,
    RetriggerRequest,
    RunAcceptedResponse,
    RunDetailResponse,
    RunPage,
    RunSummary,
    StepDetailResponse,
    TriggerAcceptedResponse,
)
from automations.domain.base import Moment
from automations.domain.status import RunStatus
from automations.logic import history, retrigger, run_actions
from automations.logic.manual_runs import ManualRunRequest, run_manually

router = APIGatewayRouter()


@router.post(
    "/flows/<flowId>/runs",
    operation_id="runFlow",
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


From = Annotated[Moment | None, Query(alias="from", description="Runs due at or after (ISO 8601)")]
To = Annotated[Moment | None, Query(alias="to", description="Runs due before (ISO 8601)")]
Limit = Annotated[int, Query(ge=1, le=100)]
HISTORY_ORDER = (
    "Newest due first: a run that starts at once is due when it was triggered, a scheduled one at its scheduledFor."
)


@router.get(
    "/flows/<flowId>/runs",
    operation_id="listFlowRuns",
    summary="Run history of a flow",
    description=HISTORY_ORDER,
    tags=["runs"],
)
def list_runs(
    flow_id: Annotated[str, Path(alias="flowId")],
    account_id: AccountId,
    repo: Repository,
    status: Annotated[RunStatus | None, Query()] = None,
    since: From = None,
    until: To = None,
    limit: Limit = 25,
    cursor: Annotated[str | None, Query()] = None,
) -> RunPage:
    query = history.run_query(account_id, flow_id=flow_id, status=status, since=since, until=until)
    return _page(history.list_runs(repo, query, limit=limit, cursor=cursor))


@router.get(
    "/runs",
    operation_id="listRuns",
    summary="Run history across the account's flows (e.g. ?status=failed: a spike)",
    description=HISTORY_ORDER,
    tags=["runs"],
)
def list_account_runs(
    account_id: AccountId,
    repo: Repository,
    status: Annotated[RunStatus | None, Query()] = None,
    since: From = None,
    until: To = None,
    limit: Limit = 25,
    cursor: Annotated[str | None, Query()] = None,
) -> RunPage:
    query = history.run_query(account_id, status=status, since=since, until=until)
    return _page(history.list_runs(repo, query, limit=limit, cursor=cursor))


def _page(page: history.Page[history.Run]) -> RunPage:
    return RunPage(items=[RunSummary.of(r) for r in page.items], next_cursor=page.next_cursor)


@router.get(
    "/runs/<runId>",
    operation_id="getRun",
    summary="A run with its trigger, steps and every attempt",
    description="Within what Lambda may answer (6 MB): the largest recorded values of a run too large for "
    "that are left out, each replaced by a marker, and listed in 'omitted' (read such a step alone).",
    tags=["runs"],
)
def get_run(run_id: Annotated[str, Path(alias="runId")], account_id: AccountId, repo: Repository) -> RunDetailResponse:
    return within_limit(RunDetailResponse.of_view(history.get_run(repo, account_id, run_id)))


@router.get(
    "/runs/<runId>/steps/<nodeId>",
    operation_id="getRunStep",
    summary="One step of a run, with every attempt",
    tags=["runs"],
)
def get_run_step(
    run_id: Annotated[str, Path(alias="runId")],
    node_id: Annotated[str, Path(alias="nodeId")],
    account_id: AccountId,
    repo: Repository,
) -> StepDetailResponse:
    return within_limit(StepDetailResponse.of_view(history.get_step(repo, account_id, run_id, node_id)))


@router.post(
    "/runs/<runId>/retrigger",
    operation_id="retriggerRun",
    status_code=202,
    summary="A new run of the flow's current version with the same trigger data",
    description="For a failed, cancelled or completed run. With fromStep the new run starts at that node "
    "('failed': the failed step) and reuses the outputs of the steps before it. Both runs are linked "
    "(retriggerOf / retriggeredBy). An Idempotency-Key header makes retries return the first new run.",
    tags=["operators"],
)
def retrigger_run(
    run_id: Annotated[str, Path(alias="runId")],
    caller: CurrentCaller,
    repo: Repository,
    request: Annotated[RetriggerRequest | None, Body()] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> RunAcceptedResponse:
    from_step = request.from_step if request else None
    new_run_id = retrigger.retrigger_run(repo, caller, run_id, from_step=from_step, idempotency_key=idempotency_key)
    return RunAcceptedResponse(run_id=new_run_id)


@router.post(
    "/runs/retrigger",
    operation_id="retriggerRuns",
    summary="Re-trigger every run that matches (one page per call)",
    description="Reads one page of the run history (flowId, status, from, to; then errorType) and "
    "re-triggers each match not re-triggered before; call again with nextCursor to go on.",
    tags=["operators"],
)
def retrigger_matching(
    request: Annotated[BulkRetriggerRequest, Body()], caller: CurrentCaller, repo: Repository
) -> BulkRetriggerResponse:
    query = history.run_query(
        caller.account_id, flow_id=request.flow_id, status=request.status, since=request.from_, until=request.to
    )
    outcome = retrigger.retrigger_matching(
        repo,
        caller,
        query,
        error_type=request.error_type,
        from_step=request.from_step,
        limit=request.limit,
        cursor=request.cursor,
    )
    return BulkRetriggerResponse.of(outcome)


@router.post(
    "/runs/<runId>/cancel",
    operation_id="cancelRun",
    status_code=202,
    summary="Cancel a run: a scheduled one never starts; a running one's execution is stopped",
    description="The reason and the API key's id go into the run's history. A finished run answers 409.",
    tags=["operators"],
)
def cancel_run(
    run_id: Annotated[str, Path(alias="runId")],
    caller: CurrentCaller,
    repo: Repository,
    request: Annotated[CancelRequest | None, Body()] = None,
) -> CancelledResponse:
    run = run_actions.cancel_run(repo, caller, run_id, reason=request.reason if request else None)
    return CancelledResponse(run_id=run.run_id, status=run.status)


@router.post(
    "/runs/<runId>/resume",
    operation_id="resumeRun",
    status_code=202,
    summary="Continue an interrupted run from its interrupted step, in a new execution",
    description=(
        "Steps it completed are not run again; the run keeps its flow version. Only an interrupted run can be"
        " resumed (409 otherwise). A failed run is final: re-trigger it with fromStep 'failed' to go on from its"
        " failed step on the flow's current version."
    ),
    tags=["operators"],
)
def resume_run(run_id: Annotated[str, Path(alias="runId")], caller: CurrentCaller, repo: Repository) -> ResumedResponse:
    execution = run_actions.resume_run(repo, caller, run_id)
    return ResumedResponse(run_id=run_id, execution=execution.name)
