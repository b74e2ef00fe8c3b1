"""What logic needs from storage, as small protocols. Logic depends on these, never on boto3."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from automations.models.flow import Flow, FlowVersion
from automations.models.run import Attempt, ErrorInfo, HttpExchange, Run, Step, StepCounts, TriggerEvent
from automations.models.status import AttemptStatus, RunStatus, StepStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class RunDetail:
    run: Run
    steps: list[Step]
    attempts: list[Attempt]


@dataclass(frozen=True)
class AttemptStart:
    """The outcome of claiming a new attempt on a step."""

    number: int
    previous_status: StepStatus | None
    # the previous attempt never recorded an outcome (its invocation timed out or crashed)
    dangling_attempt: int | None = None


@dataclass(frozen=True)
class StepUpdate:
    status: StepStatus
    ended_at: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    fields: dict[str, Any] = field(default_factory=dict)


class DuplicateTrigger(Exception):
    """A trigger with this id was recorded before (a replayed Idempotency-Key)."""


class TransitionRejected(Exception):
    """A conditional status update found the item in a status that forbids the change."""


class AccountStore(Protocol):
    def account_for_api_key(self, key_hash: str) -> str | None: ...
    def put_api_key(self, key_hash: str, account_id: str, created_at: str) -> None: ...


class FlowStore(Protocol):
    def create_flow(self, flow: Flow, version: FlowVersion) -> None: ...
    def publish_version(self, flow: Flow, version: FlowVersion, expected_version: int) -> None: ...
    def get_flow(self, flow_id: str) -> Flow | None: ...
    def list_flows(self, account_id: str, limit: int, cursor: str | None) -> Page[Flow]: ...
    def get_flow_version(self, flow_id: str, version: int) -> FlowVersion | None: ...


class TriggerStore(Protocol):
    def record_trigger(self, trigger: TriggerEvent, runs: list[Run]) -> None: ...
    def get_trigger(self, trigger_id: str) -> TriggerEvent | None: ...


class RunStore(Protocol):
    def get_run(self, run_id: str) -> Run | None: ...
    def get_run_detail(self, run_id: str) -> RunDetail | None: ...
    def get_run_and_steps(self, run_id: str) -> tuple[Run, list[Step]] | None: ...
    def list_runs(self, flow_id: str, status: RunStatus | None, limit: int, cursor: str | None) -> Page[Run]: ...
    def start_run(self, run_id: str, execution_name: str, now: str) -> Run: ...
    def transition_run(self, run_id: str, new: RunStatus, fields: dict[str, Any] | None = None) -> bool: ...
    def finalize_run(self, run_id: str, status: RunStatus, counts: StepCounts, ended_at: str) -> bool: ...
    def mark_execution_ended(self, run_id: str, ended_at: str, error: ErrorInfo | None) -> None: ...
    def begin_attempt(self, run_id: str, node_id: str, node_type: str, seq: int, now: str) -> AttemptStart: ...
    def finish_attempt(
        self,
        run_id: str,
        node_id: str,
        number: int,
        status: AttemptStatus,
        ended_at: str,
        duration_ms: int,
        error: ErrorInfo | None,
        http: HttpExchange | None,
    ) -> None: ...
    def update_step(self, run_id: str, node_id: str, node_type: str, update: StepUpdate) -> bool: ...
    def annotate_step(self, run_id: str, node_id: str, fields: dict[str, Any]) -> None: ...
