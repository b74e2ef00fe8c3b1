"""Runs, steps and attempts: what history shows, derived from recorded facts."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automations.models.base import RecordModel
from automations.models.status import AttemptStatus, RunStatus, StepStatus


class ErrorInfo(RecordModel):
    type: str
    message: str
    retryable: bool = False


class HttpExchange(RecordModel):
    """One HTTP request and its response, as recorded (secrets redacted, bodies capped)."""

    request: dict[str, Any]
    response: dict[str, Any] | None = None


class StatusChange(RecordModel):
    status: str
    at: str


class Attempt(RecordModel):
    run_id: str
    node_id: str
    attempt: int
    status: AttemptStatus
    started_at: str
    ended_at: str | None = None
    duration_ms: int | None = None
    error: ErrorInfo | None = None
    http: HttpExchange | None = None


class Step(RecordModel):
    run_id: str
    node_id: str
    node_type: str
    seq: int = Field(description="Order in which the run reached this node")
    status: StepStatus
    started_at: str
    ended_at: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    attempt_count: int = 0
    wake_at: str | None = Field(default=None, description="A waiting delay node wakes up at this time")
    history: list[StatusChange] = Field(default_factory=list)


class StepCounts(RecordModel):
    completed: int = 0
    failed: int = 0


class Run(RecordModel):
    run_id: str
    account_id: str
    flow_id: str
    flow_version: int
    trigger_id: str
    status: RunStatus
    created_at: str
    scheduled_for: str
    started_at: str | None = None
    ended_at: str | None = None
    execution_name: str | None = None
    execution_ended_at: str | None = Field(
        default=None, description="Set when the interpreter reached its end; the final status follows"
    )
    error: ErrorInfo | None = None
    step_counts: StepCounts | None = None
    history: list[StatusChange] = Field(default_factory=list)


class TriggerEvent(RecordModel):
    """What started one or more runs: kept verbatim (secrets redacted) for run history."""

    trigger_id: str
    account_id: str
    kind: Literal["webhook"]
    flow_id: str | None = None
    received_at: str
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    idempotency_key: str | None = None
    run_ids: list[str] = Field(default_factory=list)
