"""Response bodies of the public API (they document themselves in /openapi.json)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from automations.domain import clock
from automations.domain.base import Moment
from automations.domain.runs import (
    Attempt,
    ErrorInfo,
    Execution,
    ExecutionOutcome,
    FailedStep,
    HttpExchange,
    Machine,
    Run,
    StatusChange,
    StepCounts,
    machine_of,
)
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.flows.definition import Flow, FlowDefinition, Trigger
from automations.logic.events import EventOutcome
from automations.logic.flows import FlowWithDefinition
from automations.logic.history import RunView
from automations.logic.history import StepView as StepHistory
from automations.logic.ops_summary import SPIKE_RULE, Counts, Summary
from automations.logic.overdue import OverdueView, is_overdue
from automations.logic.retrigger import BULK_LIMIT, BulkRetrigger


class ApiModel(BaseModel):
    # built on first use: a cold start serves one route, and answers with one of these at most
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True, defer_build=True
    )


class ErrorBody(ApiModel):
    type: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(ApiModel):
    error: ErrorBody


class FlowSummary(ApiModel):
    flow_id: str
    name: str
    version: int
    trigger: Trigger
    webhook_path: str | None = None
    created_at: str
    updated_at: str
    deleted_at: str | None = Field(default=None, description="A deleted flow takes no triggers; history stays")

    @classmethod
    def of(cls, flow: Flow) -> FlowSummary:
        return cls(
            flow_id=flow.flow_id,
            name=flow.name,
            version=flow.version,
            trigger=flow.trigger,
            webhook_path=f"/hooks/{flow.flow_id}" if flow.trigger.type == "webhook" else None,
            created_at=flow.created_at,
            updated_at=flow.updated_at,
            deleted_at=flow.deleted_at,
        )


class FlowDetail(FlowSummary):
    definition: FlowDefinition

    @classmethod
    def of_version(cls, found: FlowWithDefinition) -> FlowDetail:
        return cls(**FlowSummary.of(found.flow).model_dump(), definition=found.version.definition)


class FlowCreated(FlowDetail):
    webhook_secret: str = Field(description="Shown once: sign webhook calls with it (X-Signature)")


class RotateSecretRequest(ApiModel):
    # strict: `true` is not 1 second
    grace_seconds: int | None = Field(
        default=None,
        strict=True,
        ge=0,
        le=604_800,
        description="Seconds the old secret still verifies (default 86400; 0: none)",
    )


class SecretRotated(ApiModel):
    flow_id: str
    webhook_secret: str = Field(description="Shown once: sign webhook calls with it from now on")
    previous_secret_valid_until: str | None = Field(description="Until then the old secret verifies too")

    @classmethod
    def of(cls, flow: Flow) -> SecretRotated:
        return cls(
            flow_id=flow.flow_id,
            webhook_secret=flow.webhook_secret,
            previous_secret_valid_until=flow.previous_secret_valid_until,
        )


class FlowPage(ApiModel):
    items: list[FlowSummary]
    next_cursor: str | None


class TriggerAcceptedResponse(ApiModel):
    trigger_id: str
    run_ids: list[str]


class EventAcceptedResponse(ApiModel):
    event_id: str
    run_ids: list[str] = Field(description="One new run per flow subscribed to the event's type")
    cancelled: list[str] = Field(description="Runs still scheduled under the same key that it withdrew")
    rescheduled: list[str] = Field(description="Runs still scheduled under the same key that it moved")

    @classmethod
    def of(cls, outcome: EventOutcome) -> EventAcceptedResponse:
        return cls(
            event_id=outcome.event_id,
            run_ids=outcome.run_ids,
            cancelled=outcome.cancelled,
            rescheduled=outcome.rescheduled,
        )


class RunSummary(ApiModel):
    run_id: str
    flow_id: str
    flow_version: int
    trigger_id: str
    trigger_kind: str | None = None
    status: RunStatus
    created_at: str
    scheduled_for: str
    overdue: bool = Field(default=False, description="Still scheduled though its time has passed (not a status)")
    deadline: str | None = Field(default=None, description="Not started by then, it fails with Expired")
    correlation_key: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    duration_ms: int | None = Field(default=None, description="From its start to its end, once it ended")
    error: ErrorInfo | None = None
    failed_step: FailedStep | None = Field(default=None, description="Where a failed run failed")
    step_counts: StepCounts | None = None
    retrigger_of: str | None = Field(default=None, description="The run this one re-triggers")
    retriggered_by: list[str] = Field(default_factory=list, description="The runs that re-triggered this one")
    path: list[Machine] = Field(
        default_factory=list,
        description="The state machine each of its executions ran on, in order: express (a run's first), "
        "standard after a hand-off (a delay, a retry's wait) or a resume",
    )

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        fields = run.model_dump(include=set(cls.model_fields) - {"duration_ms"})
        return cls(**fields, overdue=is_overdue(run), duration_ms=_duration_ms(run.started_at, run.ended_at))


def _duration_ms(started_at: str | None, ended_at: str | None) -> int | None:
    if not started_at or not ended_at:
        return None
    return int((clock.parse_iso(ended_at) - clock.parse_iso(started_at)).total_seconds() * 1000)


class RunPage(ApiModel):
    items: list[RunSummary]
    next_cursor: str | None


class FlowOverdueCount(ApiModel):
    flow_id: str
    count: int
    oldest: str = Field(description="The earliest scheduledFor among them")


class OverdueResponse(ApiModel):
    count: int
    by_flow: list[FlowOverdueCount] = Field(description="Flows with overdue runs, the longest waiting first")
    items: list[RunSummary]
    next_cursor: str | None

    @classmethod
    def of(cls, view: OverdueView) -> OverdueResponse:
        return cls(
            count=view.count,
            by_flow=[FlowOverdueCount(flow_id=f.flow_id, count=f.count, oldest=f.oldest) for f in view.by_flow],
            items=[RunSummary.of(run) for run in view.items],
            next_cursor=view.next_cursor,
        )


TRUNCATED = (
    "Where recorded values were too large to keep and were replaced by a marker "
    '{"truncated": true, "bytes", "preview"} (JSON Pointers, e.g. /input/values/big)'
)


class AttemptView(ApiModel):
    attempt: int
    status: AttemptStatus
    started_at: str
    ended_at: str | None = None
    duration_ms: int | None = None
    error: ErrorInfo | None = None
    http: HttpExchange | None = None
    truncated: list[str] | None = Field(default=None, description=TRUNCATED)

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptView:
        return cls(**attempt.model_dump(include=set(cls.model_fields)))


class StepView(ApiModel):
    node_id: str
    node_type: str
    step_number: int
    status: StepStatus
    queued_at: str | None = Field(default=None, description="When its node became next in line")
    started_at: str | None = None
    ended_at: str | None = None
    input: dict[str, Any] | None = Field(
        default=None, description="The node's parameters as resolved (secrets redacted)"
    )
    output: Any = None
    error: ErrorInfo | None = None
    wake_at: str | None = Field(default=None, description="While a delay waits: when it wakes up")
    carried_from: str | None = Field(
        default=None, description="Not run again: reused from this run (a re-trigger from a later step)"
    )
    truncated: list[str] | None = Field(default=None, description=TRUNCATED)
    ran_inline: bool | None = Field(
        default=None,
        description="A pure node (condition, set) run inside the task before it: it has no Task state of its own",
    )
    history: list[StatusChange] = Field(description="Every status the step passed through, oldest first")
    attempts: list[AttemptView]

    @classmethod
    def of_view(cls, view: StepHistory) -> Self:
        return cls(
            **view.step.model_dump(include=set(StepView.model_fields) - {"attempts"}),
            attempts=[AttemptView.of(a) for a in view.attempts],
        )


class TriggerView(ApiModel):
    trigger_id: str
    kind: str
    received_at: str
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    event_type: str | None = None
    event_id: str | None = None
    data: Any = None
    fired_at: str | None = Field(default=None, description="A recurring flow's occurrence")


class ExecutionView(ApiModel):
    """One Step Functions execution of the run (the first, then one per hand-off or resume)."""

    name: str
    machine: Machine = Field(description="The state machine it runs on (asked for; once started, where it started)")
    start_at: str | None = Field(default=None, description="The node it started at (the first node when absent)")
    first_step_number: int = Field(description="The step number its first node gets")
    wait_seconds: int | None = Field(
        default=None, description="Waited this long before its first node: the backoff a hand-off passed on"
    )
    continues_retries: bool | None = Field(
        default=None, description="Its first node went on with the retry schedule an Express execution began"
    )
    requested_at: str
    started_at: str | None = None
    ended_at: str | None = None
    outcome: ExecutionOutcome | None = Field(
        default=None,
        description="reached_end, engine_error or handed_off (the interpreter's own), aborted, timed_out, failed",
    )
    error: ErrorInfo | None = None
    reason: str | None = None
    replaced_by: str | None = Field(
        default=None, description="The execution a reschedule requested instead, before this one started"
    )
    arn: str | None = None
    console_url: str | None = Field(default=None, description="The execution in the AWS Step Functions console")

    @classmethod
    def of(cls, execution: Execution) -> ExecutionView:
        fields = execution.model_dump(include=set(cls.model_fields) - {"console_url"})
        url = console_url(execution.arn, execution.started_at) if execution.arn else None
        return cls(**fields, console_url=url)


def console_url(execution_arn: str, started_at: str | None = None) -> str:
    """Where the execution's graph and event history are, in the region the ARN names (an Express
    execution's are read from its log group, found by its start time)."""
    region = execution_arn.split(":")[3]
    console = f"https://{region}.console.aws.amazon.com/states/home?region={region}"
    if machine_of(execution_arn) == Machine.EXPRESS:
        since = int(clock.parse_iso(started_at).timestamp() * 1000) if started_at else 0
        return f"{console}#/express-executions/details/{execution_arn}?startDate={since}"
    return f"{console}#/v2/executions/details/{execution_arn}"


OMITTED = (
    "Where recorded values were left out of this answer to keep it within what Lambda may answer (6 MB), "
    'each replaced by a marker {"truncated": true, "bytes", "preview"} (JSON Pointers into the answer; '
    "GET /runs/{runId}/steps/{nodeId} answers one step whole)"
)


class RunDetailResponse(RunSummary):
    history: list[StatusChange] = Field(description="Every status the run passed through, oldest first")
    trigger: TriggerView | None = None
    executions: list[ExecutionView] = Field(description="The run's executions, first to last")
    steps: list[StepView]
    omitted: list[str] | None = Field(default=None, description=OMITTED)

    @classmethod
    def of_view(cls, view: RunView) -> RunDetailResponse:
        steps = [StepView.of_view(s) for s in view.steps]
        trigger = (
            TriggerView(**view.trigger.model_dump(include=set(TriggerView.model_fields))) if view.trigger else None
        )
        summary = RunSummary.of(view.run).model_dump()
        executions = [ExecutionView.of(e) for e in view.executions]
        return cls(**summary, history=view.run.history, trigger=trigger, executions=executions, steps=steps)


class StepDetailResponse(StepView):
    omitted: list[str] | None = Field(default=None, description=OMITTED)


# --- operators' actions -------------------------------------------------------------------


class RetriggerRequest(ApiModel):
    from_step: str | None = Field(
        default=None,
        max_length=64,
        description="Start at this node (or 'failed': the failed step) and reuse the outputs of the steps before it",
    )


class RunAcceptedResponse(ApiModel):
    run_id: str


class CancelRequest(ApiModel):
    reason: str | None = Field(default=None, max_length=500, description="Kept in the run's history")


class CancelledResponse(ApiModel):
    run_id: str
    status: RunStatus


class ResumedResponse(ApiModel):
    run_id: str
    execution: str = Field(description="The new execution's name (<runId>-r<n>)")


class BulkRetriggerRequest(ApiModel):
    flow_id: str | None = Field(default=None, description="One flow's runs; every flow's when absent")
    status: RunStatus = RunStatus.FAILED
    from_: Moment | None = Field(default=None, alias="from", description="Due at or after (ISO 8601)")
    to: Moment | None = Field(default=None, description="Due before (ISO 8601)")
    error_type: str | None = Field(default=None, description="Only runs that failed with this error type")
    from_step: str | None = Field(default=None, max_length=64, description="As for one re-trigger")
    limit: int = Field(
        default=25, strict=True, ge=1, le=BULK_LIMIT, description="Runs of the history read in this call"
    )
    cursor: str | None = None


class RetriggeredRun(ApiModel):
    run_id: str
    new_run_id: str


class SkippedRun(ApiModel):
    run_id: str
    reason: str


class BulkRetriggerResponse(ApiModel):
    matched: int = Field(description="Runs of this page that match the filter")
    retriggered: list[RetriggeredRun]
    skipped: list[SkippedRun]
    next_cursor: str | None = Field(description="Call again with it to go on; null when done")

    @classmethod
    def of(cls, outcome: BulkRetrigger) -> BulkRetriggerResponse:
        return cls(
            matched=outcome.matched,
            retriggered=[RetriggeredRun(run_id=old, new_run_id=new) for old, new in outcome.retriggered.items()],
            skipped=[SkippedRun(run_id=s.run_id, reason=s.reason) for s in outcome.skipped],
            next_cursor=outcome.next_cursor,
        )


class StatusCounts(ApiModel):
    current: dict[str, int] = Field(description="Runs due in the window, by status")
    previous: dict[str, int] = Field(description="Runs due in the window before it, by status")
    spike: bool = Field(description="Its failures jumped (see 'rule')")

    @classmethod
    def of(cls, counts: Counts) -> StatusCounts:
        return cls(current=dict(counts.current), previous=dict(counts.previous), spike=counts.spike)


class FlowStatusCounts(StatusCounts):
    flow_id: str
    name: str | None = None


class OpsSummaryResponse(ApiModel):
    window: str
    from_: str = Field(alias="from")
    to: str
    previous_from: str
    rule: str = Field(description="When a flow, or the account, is flagged as a spike")
    account: StatusCounts
    spiking_flows: int = Field(description="How many flows spike: more than one is the handbook's escalation")
    flows: list[FlowStatusCounts] = Field(description="Flows with runs in either window, spiking first")
    partial: bool = Field(description="Too many runs to read them all: the counts are of the newest")

    @classmethod
    def of(cls, summary: Summary, window: str) -> OpsSummaryResponse:
        flows = [
            FlowStatusCounts(flow_id=f.flow_id, name=f.name, **StatusCounts.of(f.counts).model_dump())
            for f in summary.flows
        ]
        return cls.model_validate(
            {
                "window": window,
                "from": summary.since,
                "to": summary.until,
                "previousFrom": summary.previous_since,
                "rule": SPIKE_RULE,
                "account": StatusCounts.of(summary.account),
                "spikingFlows": sum(1 for f in flows if f.spike),
                "flows": flows,
                "partial": summary.partial,
            }
        )
