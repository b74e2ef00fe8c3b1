"""Response bodies of the public API (they document themselves in /openapi.json)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from automations.domain.runs import (
    Attempt,
    ErrorInfo,
    Execution,
    ExecutionOutcome,
    HttpExchange,
    Run,
    StatusChange,
    StepCounts,
)
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.flows.definition import Flow, FlowDefinition, Trigger
from automations.logic.events import EventOutcome
from automations.logic.flows import FlowWithDefinition
from automations.logic.history import RunView
from automations.logic.overdue import OverdueView, is_overdue


class ApiModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, serialize_by_alias=True)


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
    error: ErrorInfo | None = None
    step_counts: StepCounts | None = None

    @classmethod
    def of(cls, run: Run) -> RunSummary:
        return cls(**run.model_dump(include=set(cls.model_fields)), overdue=is_overdue(run))


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


class AttemptView(ApiModel):
    attempt: int
    status: AttemptStatus
    started_at: str
    ended_at: str | None = None
    duration_ms: int | None = None
    error: ErrorInfo | None = None
    http: HttpExchange | None = None

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
    history: list[StatusChange] = Field(description="Every status the step passed through, oldest first")
    attempts: list[AttemptView]


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
    """One Step Functions execution of the run (the first, then one per resume)."""

    name: str
    start_at: str | None = Field(default=None, description="The node it started at (the first node when absent)")
    requested_at: str
    started_at: str | None = None
    ended_at: str | None = None
    outcome: ExecutionOutcome | None = Field(
        default=None, description="reached_end or engine_error (the interpreter's own), aborted, timed_out, failed"
    )
    error: ErrorInfo | None = None
    reason: str | None = None
    arn: str | None = None

    @classmethod
    def of(cls, execution: Execution) -> ExecutionView:
        return cls(**execution.model_dump(include=set(cls.model_fields)))


class RunDetailResponse(RunSummary):
    history: list[StatusChange] = Field(description="Every status the run passed through, oldest first")
    trigger: TriggerView | None = None
    executions: list[ExecutionView] = Field(description="The run's executions, first to last")
    steps: list[StepView]

    @classmethod
    def of_view(cls, view: RunView) -> RunDetailResponse:
        steps = [
            StepView(
                **s.step.model_dump(include=set(StepView.model_fields) - {"attempts"}),
                attempts=[AttemptView.of(a) for a in s.attempts],
            )
            for s in view.steps
        ]
        trigger = (
            TriggerView(**view.trigger.model_dump(include=set(TriggerView.model_fields))) if view.trigger else None
        )
        summary = RunSummary.of(view.run).model_dump()
        executions = [ExecutionView.of(e) for e in view.executions]
        return cls(**summary, history=view.run.history, trigger=trigger, executions=executions, steps=steps)
