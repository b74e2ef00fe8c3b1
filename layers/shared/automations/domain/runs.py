"""Runs, their executions, steps and attempts: what history shows, derived from recorded facts."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Any

from pydantic import Field, field_validator

from automations.domain import clock
from automations.domain.base import RecordModel
from automations.domain.item_budget import cap_message
from automations.domain.status import AttemptStatus, RunStatus, StepStatus


class ErrorInfo(RecordModel):
    type: str
    message: str = Field(description="At most 4 KB as recorded (a longer one is cut and ends '... [truncated]')")
    retryable: bool = False

    @field_validator("message")
    @classmethod
    def _capped(cls, message: str) -> str:
        return cap_message(message)


class HttpExchange(RecordModel):
    """One HTTP request and its response, as recorded (secrets redacted, bodies capped)."""

    request: dict[str, Any]
    response: dict[str, Any] | None = None


class StatusChange(RecordModel):
    status: str
    at: str
    cause: str | None = Field(default=None, description="Why, when it was not the run's own doing")
    by: str | None = Field(default=None, description="Who asked for it: an operator's API key (its id)")


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
    truncated: list[str] | None = Field(
        default=None,
        description="Where recorded values were too large and were replaced by a marker (JSON Pointers)",
    )


class Step(RecordModel):
    run_id: str
    node_id: str
    node_type: str
    step_number: int = Field(description="1 for the first step the run reached, 2 for the next, ...")
    status: StepStatus
    started_at: str | None = Field(default=None, description="When its first attempt began; none while queued")
    queued_at: str | None = Field(default=None, description="When it became next in line (status scheduled)")
    ended_at: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    attempt_count: int = 0
    wake_at: str | None = Field(default=None, description="A waiting delay node wakes up at this time")
    next_node: str | None = Field(default=None, description="The node it chose to run next (a condition)")
    ran_inline: bool | None = Field(
        default=None, description="Run inline (a pure node): its one attempt is recorded on the step itself"
    )
    carried_from: str | None = Field(
        default=None, description="Recorded by this earlier run and reused (a re-trigger from a later step)"
    )
    truncated: list[str] | None = Field(
        default=None,
        description="Where recorded values were too large and were replaced by a marker (JSON Pointers)",
    )
    history: list[StatusChange] = Field(default_factory=list)

    def attempt_started_at(self, number: int) -> str | None:
        """When attempt ``number`` began: each attempt's claim moves the step to `running`, once."""
        starts = [change.at for change in self.history if change.status == StepStatus.RUNNING]
        return starts[number - 1] if 0 < number <= len(starts) else None

    def inline_attempt(self) -> Attempt | None:
        """A step that ran inline records its one attempt on itself (one write): that attempt."""
        if not self.ran_inline or self.status not in (StepStatus.COMPLETED, StepStatus.FAILED):
            return None
        started, ended = self.started_at or "", self.ended_at
        took = clock.parse_iso(ended) - clock.parse_iso(started) if started and ended else None
        return Attempt(
            run_id=self.run_id,
            node_id=self.node_id,
            attempt=1,
            status=AttemptStatus.COMPLETED if self.status == StepStatus.COMPLETED else AttemptStatus.FAILED,
            started_at=started,
            ended_at=ended,
            duration_ms=int(took.total_seconds() * 1000) if took is not None else None,
            error=self.error,
        )

    def attempt_in_flight(self) -> Attempt | None:
        """The attempt running now. Its own item is written when it ends; until then its step says it runs."""
        if self.status != StepStatus.RUNNING or not self.attempt_count:
            return None
        number = self.attempt_count
        started = self.attempt_started_at(number) or self.started_at or ""
        return Attempt(
            run_id=self.run_id, node_id=self.node_id, attempt=number, status=AttemptStatus.RUNNING, started_at=started
        )


class Machine(StrEnum):
    """The two state machines that interpret flows. A run starts on Express (cheap, at most 5
    minutes, no Wait states of any length) and hands off to Standard when it must wait (a delay
    node, a retry's backoff) or its 5 minutes run short; a resume always runs on Standard."""

    EXPRESS = "express"
    STANDARD = "standard"


# An Express execution lives at most 5 minutes: then it times out, with no event (see ``logic.liveness``)
EXPRESS_LIFETIME = timedelta(minutes=5)


def machine_of(arn: str) -> Machine:
    """From an execution ARN: Express ones read ``arn:<partition>:states:<region>:<account>:express:...``."""
    return Machine.EXPRESS if arn.split(":")[5:6] == ["express"] else Machine.STANDARD


def execution_id_of(arn: str) -> str:
    """The last part of an execution ARN: an Express execution's id (each start has its own, however
    it is named), a Standard one's name (Step Functions starts a name once)."""
    return arn.rsplit(":", 1)[-1]


def execution_arn(state_machine_arn: str, name: str, execution_id: str | None = None) -> str:
    """An execution's ARN, from its state machine's: ``...:execution:<machine>:<name>`` on Standard,
    ``...:express:<machine>:<name>:<id>`` on Express (given its id)."""
    if execution_id is None or execution_id == name:
        return state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"
    return state_machine_arn.replace(":stateMachine:", ":express:", 1) + f":{name}:{execution_id}"


class ExecutionOutcome(StrEnum):
    """How an execution ended. ``reached_end``, ``engine_error`` and ``handed_off`` are the
    interpreter's own word; the others come from Step Functions when an execution ended without
    reaching its end."""

    REACHED_END = "reached_end"
    ENGINE_ERROR = "engine_error"
    HANDED_OFF = "handed_off"  # an Express execution passed the run on to a Standard one (the next)
    ABORTED = "aborted"
    TIMED_OUT = "timed_out"
    FAILED = "failed"

    @property
    def reached_its_end(self) -> bool:
        return self in (ExecutionOutcome.REACHED_END, ExecutionOutcome.ENGINE_ERROR)


class Execution(RecordModel):
    """One Step Functions execution of a run. A run has one, one more per hand-off to Standard,
    and one more per resume.

    The name is deterministic (``<runId>`` first, then ``<runId>-r<n>``), so starting it twice is
    harmless: Standard answers ``ExecutionAlreadyExists``; Express (which does not dedupe names)
    starts a second execution, whose ``StartRun`` finds the execution claimed by another ARN.
    """

    run_id: str
    name: str
    ordinal: int = Field(description="0 for the run's first execution, n for its n-th resume")
    start_at: str | None = Field(default=None, description="The node it starts at; the flow's first when absent")
    first_step_number: int = Field(default=1, description="The step number its first node gets")
    due_at: str = Field(description="Not started before this time")
    requested_at: str
    reason: str | None = None
    machine: Machine = Field(
        default=Machine.STANDARD,
        description="The state machine it is started on (once started: the one it runs on)",
    )
    wait_seconds: int | None = Field(
        default=None, description="Waits this long before its first node: the backoff a hand-off passed on"
    )
    continues_retries: bool | None = Field(
        default=None, description="Its first node goes on with the retry schedule an Express execution began"
    )
    replaced_by: str | None = Field(
        default=None, description="The execution a reschedule requested instead, before this one started"
    )
    arn: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    outcome: ExecutionOutcome | None = None
    error: ErrorInfo | None = None


def first_execution_name(run_id: str) -> str:
    return run_id


def first_execution_of(run: Run) -> Execution:
    """A run's first execution as the run records it: requested by the run's recording (the run's
    INSERT is the outbox entry), claimed by the run's start (``Run.first_execution_id``; its ARN is
    rebuilt from its machine's, where that is known: ``execution_arn``). Its own item is first
    written, whole, when it ends or hands off, or when a reschedule replaces it before it started;
    until then the run is the only record of it."""
    requested = Execution(
        run_id=run.run_id,
        name=first_execution_name(run.run_id),
        ordinal=0,
        start_at=run.first_node,
        first_step_number=run.first_step_number or 1,
        due_at=run.scheduled_for,
        requested_at=run.created_at,
        machine=Machine.EXPRESS,  # a run starts on Express (see logic.hand_off)
    )
    # while it is the run's current execution, the run's start was its start
    if run.started_at is None or run.current_execution != requested.name:
        return requested
    machine = run.path[0] if run.path else requested.machine
    return requested.model_copy(update={"started_at": run.started_at, "machine": machine})


def execution_name(run_id: str, ordinal: int) -> str:
    return run_id if ordinal == 0 else f"{run_id}-r{ordinal}"


class FailedStep(RecordModel):
    """Where a failed run failed: the first step that failed for good, as run lists show it."""

    node_id: str
    error_type: str
    message: str
    http_status: int | None = Field(default=None, description="The last attempt's HTTP answer, if it got one")


class StepCounts(RecordModel):
    completed: int = 0
    failed: int = 0


class Run(RecordModel):
    run_id: str
    account_id: str
    flow_id: str
    flow_version: int
    trigger_id: str
    trigger_kind: str | None = None
    status: RunStatus
    created_at: str
    scheduled_for: str
    deadline: str | None = Field(default=None, description="Not started by then, it never starts: failed, Expired")
    first_node: str | None = Field(
        default=None, description="The node its first execution starts at (a re-trigger from a node); else the first"
    )
    first_step_number: int | None = Field(
        default=None, description="The step number that node gets when earlier steps were carried over (else 1)"
    )
    correlation_key: str | None = Field(default=None, description="What withdrawing or rescheduling events match")
    started_at: str | None = None
    ended_at: str | None = None
    first_execution_id: str | None = Field(
        default=None,
        description="The last part of the ARN of the execution that started it (``execution_id_of``): the "
        "claim of its first execution, against which a repeated Express start of the name (another id) is refused",
    )
    current_execution: str | None = Field(
        default=None, description="The name of the execution that runs it (requested, then running)"
    )
    path: list[Machine] = Field(
        default_factory=list,
        description="The state machine of each execution that ran it, in order: express first, "
        "standard after a hand-off or a resume",
    )
    error: ErrorInfo | None = None
    failed_step: FailedStep | None = None
    step_counts: StepCounts | None = None
    retrigger_of: str | None = Field(default=None, description="The run this one re-triggers")
    retriggered_by: list[str] = Field(default_factory=list, description="Runs that re-triggered this one")
    history: list[StatusChange] = Field(default_factory=list)

    @property
    def on_express(self) -> bool:
        """Its latest execution started on the Express machine (its first, so far)."""
        return bool(self.path) and self.path[-1] == Machine.EXPRESS

    @property
    def was_due_later(self) -> bool:
        """Due after it was recorded, so it was given a one-time schedule (the stream starts a run
        due at once itself)."""
        return self.scheduled_for > self.created_at

    @property
    def recurs(self) -> bool:
        """An occurrence of a recurring flow: when it leaves `scheduled`, the next one is recorded."""
        return self.trigger_kind == "schedule"

    @property
    def follows_up_when_leaving_scheduled(self) -> bool:
        """Leaving `scheduled` leaves something to do (``reactions.follow_run_leaving_waiting``): a
        schedule to delete, a next occurrence to record. A run due at once has neither."""
        return self.was_due_later or self.recurs
