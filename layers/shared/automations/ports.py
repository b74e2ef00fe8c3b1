"""What logic needs from the outside world, as small protocols: storage and workflow executions.

Logic depends on these, never on boto3; ``automations.adapters`` implements them on AWS.
Calls take keyword arguments and small value objects, so a call site reads as what it records.

May import: ``automations.domain`` and ``automations.flows`` (the records stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from automations.domain.runs import Attempt, ErrorInfo, Execution, ExecutionOutcome, HttpExchange, Run, Step
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.domain.triggers import TriggerEvent
from automations.flows.definition import Flow, FlowVersion

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
    executions: list[Execution]


@dataclass(frozen=True)
class RunRecord:
    """A run to record with its trigger: the run, its first execution, and steps carried over."""

    run: Run
    execution: Execution
    # completed steps whose outputs the run reuses (a run that starts at a later node)
    carried_steps: list[Step] = field(default_factory=list)


@dataclass(frozen=True)
class AttemptStart:
    """The outcome of claiming a new attempt on a step."""

    number: int
    previous_status: StepStatus | None
    # the previous attempt never recorded an outcome (its invocation timed out or crashed)
    dangling_attempt: int | None = None


@dataclass(frozen=True)
class AttemptResult:
    status: AttemptStatus
    ended_at: str
    duration_ms: int
    error: ErrorInfo | None = None
    http: HttpExchange | None = None


@dataclass(frozen=True)
class StepUpdate:
    status: StepStatus
    ended_at: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    attempt: int | None = None  # from an attempt's outcome: applies only while it is the step's latest


@dataclass(frozen=True)
class ExecutionEnd:
    outcome: ExecutionOutcome
    ended_at: str
    error: ErrorInfo | None = None


class DuplicateTrigger(Exception):
    """A trigger with this id was recorded before (a replayed Idempotency-Key)."""


class TransitionRejected(Exception):
    """A conditional write found the item in a state that forbids the change."""


class AccountStore(Protocol):
    def account_for_api_key(self, key_hash: str) -> str | None: ...
    def put_api_key(self, *, key_hash: str, account_id: str, created_at: str) -> None: ...


class FlowStore(Protocol):
    def create_flow(self, flow: Flow, version: FlowVersion) -> None: ...
    def publish_version(self, flow: Flow, version: FlowVersion, *, expected_version: int) -> None: ...
    def get_flow(self, flow_id: str) -> Flow | None: ...
    def list_flows(self, account_id: str, *, limit: int, cursor: str | None) -> Page[Flow]: ...
    def get_flow_version(self, flow_id: str, version: int) -> FlowVersion | None: ...


class TriggerStore(Protocol):
    def record_trigger(self, trigger: TriggerEvent, runs: list[RunRecord]) -> None: ...
    def get_trigger(self, trigger_id: str) -> TriggerEvent | None: ...


class RunStore(Protocol):
    # reading
    def get_run(self, run_id: str) -> Run | None: ...
    def get_run_detail(self, run_id: str) -> RunDetail | None: ...
    def get_run_and_steps(self, run_id: str) -> tuple[Run, list[Step]] | None: ...
    def list_runs(self, flow_id: str, *, status: RunStatus | None, limit: int, cursor: str | None) -> Page[Run]: ...
    def get_execution(self, run_id: str, name: str) -> Execution | None: ...

    # the run and its executions
    def request_execution(self, execution: Execution) -> None:
        """Record an execution to start; TransitionRejected if one with its name exists."""
        ...

    def start_execution(self, *, run_id: str, name: str, arn: str | None, at: str) -> Run:
        """The run (scheduled or interrupted) becomes running under this execution; TransitionRejected if not."""
        ...

    def end_execution(self, *, run_id: str, name: str, end: ExecutionEnd) -> bool:
        """Record how it ended; False if its end was recorded before."""
        ...

    def transition_run(
        self, run_id: str, new: RunStatus, *, fields: dict[str, Any] | None = None, execution: str | None = None
    ) -> bool:
        """Move along the transition table (only while ``execution`` is current, if given); False if not allowed."""
        ...

    # steps and attempts
    def begin_attempt(
        self, *, run_id: str, node_id: str, node_type: str, step_number: int, at: str
    ) -> AttemptStart: ...
    def finish_attempt(self, *, run_id: str, node_id: str, number: int, result: AttemptResult) -> bool:
        """End a running attempt; False if it had ended (a late outcome changes nothing)."""
        ...

    def update_step(self, *, run_id: str, node_id: str, node_type: str, update: StepUpdate) -> bool: ...
    def annotate_step(self, *, run_id: str, node_id: str, fields: dict[str, Any]) -> None: ...


class Store(AccountStore, FlowStore, TriggerStore, RunStore, Protocol):
    """All of the table's stores, for logic that reads across them (one argument, not four)."""


@dataclass(frozen=True)
class ExecutionStart:
    arn: str
    started: bool  # False: an execution with this name existed already (a redelivered start)


class Workflows(Protocol):
    """Executions of the flow interpreter (Step Functions). Names are deterministic per run."""

    def start(self, *, name: str, run_id: str) -> ExecutionStart: ...
    def stop(self, *, name: str, cause: str) -> bool:
        """Stop a running execution; False if it had ended already."""
        ...
