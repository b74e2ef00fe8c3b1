"""What logic needs from the outside world, as small protocols: storage and workflow executions.

Logic depends on these, never on boto3; ``automations.adapters`` implements them on AWS.
Calls take keyword arguments and small value objects, so a call site reads as what it records.

May import: ``automations.domain`` and ``automations.flows`` (the records stored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from automations.domain.runs import Attempt, ErrorInfo, Execution, ExecutionOutcome, HttpExchange, Machine, Run, Step
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.domain.triggers import TriggerEvent

if TYPE_CHECKING:  # (annotations only: a function that stores no flow never imports the node types)
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
    """A run to record with its trigger (which requests its first execution, unless it is recorded
    failed: it could not be planned), and the steps it carries over."""

    run: Run
    # completed steps whose outputs the run reuses (a run that starts at a later node)
    carried_steps: list[Step] = field(default_factory=list)
    # until when the run may need what is recorded with it (its trigger above all): its due time
    # plus the longest its flow may wait (None: its due time); kept for the retention period after
    keep_until: str | None = None


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
    truncated: list[str] | None = None  # where ``http`` holds markers (``domain.item_budget``)
    started_at: str | None = None  # when it began (its step's claim); unknown: when it ended


@dataclass(frozen=True)
class StepUpdate:
    status: StepStatus
    ended_at: str | None = None
    input: dict[str, Any] | None = None
    output: Any = None
    error: ErrorInfo | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    attempt: int | None = None  # from an attempt's outcome: applies only while it is the step's latest
    # the attempt that ends the step, recorded on the step in the same write (instead of an item of its own)
    ended_attempt: AttemptResult | None = None


@dataclass(frozen=True)
class ExecutionEnd:
    outcome: ExecutionOutcome
    ended_at: str
    error: ErrorInfo | None = None


@dataclass(frozen=True)
class RunQuery:
    """Which runs a history listing reads: one flow's, or all of an account's; newest due first."""

    account_id: str
    flow_id: str | None = None  # None: every flow of the account
    status: RunStatus | None = None
    since: str | None = None  # due at or after (ISO 8601, UTC)
    until: str | None = None  # due before


@dataclass(frozen=True)
class InFlightRun:
    """A run `running` or `retrying` that is due for a check that its execution still lives."""

    run_id: str
    execution: str | None


class DuplicateTrigger(Exception):
    """A trigger with this id was recorded before (a replayed Idempotency-Key)."""


class KeyNotLive(Exception):
    """The key a revocation counted on to stay live was revoked (or changed) meanwhile."""


class SignatureTaken(Exception):
    """The webhook signature was accepted before (it is remembered until its window ends)."""


class TransitionRejected(Exception):
    """A conditional write found the item in a state that forbids the change."""


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key as stored and shown: never the secret, never its hash."""

    key_id: str
    account_id: str
    prefix: str
    created_at: str
    name: str | None = None
    revoked_at: str | None = None

    def dump(self) -> dict[str, Any]:
        fields = {
            "keyId": self.key_id,
            "accountId": self.account_id,
            "prefix": self.prefix,
            "createdAt": self.created_at,
        }
        return {
            **fields,
            **({"name": self.name} if self.name else {}),
            **({"revokedAt": self.revoked_at} if self.revoked_at else {}),
        }


class AccountStore(Protocol):
    def account_for_api_key(self, key_hash: str) -> str | None:
        """The account of a live key (None when unknown or revoked)."""
        ...

    def api_key_for_hash(self, key_hash: str) -> ApiKeyRecord | None:
        """The key with this hash, read consistently (a revocation shows at once)."""
        ...

    def put_api_key(self, record: ApiKeyRecord, *, key_hash: str) -> ApiKeyRecord:
        """Store a new key and its account's listing entry together; a key stored before is kept
        as it was and returned (a Conflict if it belongs to another account)."""
        ...

    def get_api_key(self, account_id: str, key_id: str) -> ApiKeyRecord | None: ...
    def list_api_keys(self, account_id: str) -> list[ApiKeyRecord]: ...
    def revoke_api_key(self, account_id: str, key_id: str, *, at: str, while_live: str) -> None:
        """Mark the key revoked (the first time is kept), its lookup and listing entries together,
        in one transaction with the check that key ``while_live`` is not revoked (``KeyNotLive``
        otherwise): two revocations at once cannot leave the account without a live key."""
        ...


class FlowStore(Protocol):
    def create_flow(self, flow: Flow, version: FlowVersion) -> None: ...
    def publish_version(self, flow: Flow, version: FlowVersion, *, expected_version: int) -> None: ...
    def get_flow(self, flow_id: str) -> Flow | None: ...
    def list_flows(self, account_id: str, *, limit: int, cursor: str | None) -> Page[Flow]: ...
    def get_flow_version(self, flow_id: str, version: int) -> FlowVersion | None: ...
    def delete_flow(self, flow_id: str, *, at: str) -> Flow:
        """Mark it deleted (once: a second delete keeps the first time); its history stays."""
        ...

    def rotate_webhook_secret(self, flow_id: str, *, expected: str, new: str, previous_valid_until: str) -> Flow:
        """``new`` becomes the secret and ``expected`` the previous one, valid until then; only while
        ``expected`` is still the secret (TransitionRejected otherwise)."""
        ...


@dataclass(frozen=True)
class Reschedule:
    """Move a run still `scheduled` to another time (and the trigger whose data it runs with)."""

    run_id: str
    replaced_execution: str  # the execution that would have started it; its schedule goes
    execution: Execution  # the one that starts it now, due at ``scheduled_for``
    scheduled_for: str
    deadline: str | None
    trigger_id: str
    cause: str
    keep_until: str | None = None  # as ``RunRecord.keep_until``, from the new due time


@dataclass(frozen=True)
class KeyEvent:
    """The latest event that withdrew (``withdrawn``) or moved (``rescheduled``) a flow's waiting
    runs under a correlation key: remembered, because the index that finds those runs is read
    eventually consistently, and a run recorded a moment before may have been missing from it."""

    kind: Literal["withdrawn", "rescheduled"]
    at: str  # when it was received: a run recorded before then was meant
    cause: str
    trigger_id: str
    scheduled_for: str | None = None  # rescheduled: the new due time
    deadline: str | None = None  # rescheduled: the new deadline


@dataclass(frozen=True)
class AcceptedSignature:
    """A webhook signature to remember with a recording under an Idempotency-Key, so that it is
    accepted once. Its mark takes the trigger id a call without a key would have been recorded
    under (``trigger_id``): either one written first refuses the other."""

    flow_id: str
    trigger_id: str
    until: int  # unix seconds: past its window, DynamoDB's TTL drops it


class TriggerStore(Protocol):
    def record_trigger(
        self, trigger: TriggerEvent, runs: list[RunRecord], signature: AcceptedSignature | None = None
    ) -> None:
        """The trigger, its runs and (a webhook's) signature, all or none: ``DuplicateTrigger`` if
        the trigger id was recorded before, ``SignatureTaken`` if the signature was accepted before."""
        ...

    def get_trigger(self, trigger_id: str) -> TriggerEvent | None: ...
    def get_run_trigger(self, trigger_id: str) -> TriggerEvent | None:
        """The trigger as a run's nodes read it (its body and headers, which never change): may be cached."""
        ...

    def record_trigger_effects(self, trigger_id: str, *, cancelled: list[str], rescheduled: list[str]) -> None:
        """What an event did to runs recorded earlier (so a redelivery answers the same)."""
        ...


class RunStore(Protocol):
    # reading
    def get_run(self, run_id: str) -> Run | None: ...
    def get_run_detail(self, run_id: str) -> RunDetail | None: ...
    def get_run_and_steps(self, run_id: str) -> tuple[Run, list[Step]] | None: ...
    def list_runs(self, query: RunQuery, *, limit: int, cursor: str | None) -> Page[Run]: ...
    def get_execution(self, run_id: str, name: str) -> Execution | None: ...
    def get_run_and_execution(self, run_id: str, name: str) -> tuple[Run | None, Execution | None]: ...

    # runs still `scheduled` (the sparse indexes)
    def scheduled_run_ids_by_key(self, flow_id: str, correlation_key: str) -> list[str]: ...
    def scheduled_runs_of_flow(
        self, flow_id: str, *, due_before: str | None, limit: int, cursor: str | None
    ) -> Page[Run]:
        """Oldest due first; ``due_before``: only those due before then (overdue)."""
        ...

    def overdue_runs(self, *, due_before: str, limit: int) -> list[Run]:
        """Across every flow (the sweeper's view), oldest due first per shard, at most ``limit``."""
        ...

    def reschedule_run(self, move: Reschedule) -> bool:
        """Only while the run is `scheduled` under ``move.replaced_execution``; False if not."""
        ...

    def record_key_event(self, flow_id: str, correlation_key: str, event: KeyEvent) -> None:
        """Remember it, for ``last_key_event`` (consistent): a later event of its kind replaces it, an
        earlier one changes nothing."""
        ...

    def last_key_event(self, flow_id: str, correlation_key: str, kind: str) -> KeyEvent | None: ...
    def keep_trigger(self, trigger_id: str, *, until: str) -> None:
        """The trigger is kept the retention period after ``until`` at least (never shortened)."""
        ...

    # runs in flight (the sparse InFlight index)
    def in_flight_runs(self, *, check_before: str, limit: int) -> list[InFlightRun]:
        """Runs whose next liveness check is due before ``check_before``, at most ``limit``."""
        ...

    def check_again_at(self, run_id: str, *, execution: str, at: str) -> bool:
        """Its execution lives: the next check is at ``at`` (only while still in flight under it)."""
        ...

    def link_retrigger(self, run_id: str, *, new_run_id: str) -> None:
        """Add ``new_run_id`` to the run's ``retriggeredBy`` (once); the run is not otherwise changed."""
        ...

    # the run and its executions
    def request_execution(self, execution: Execution) -> None:
        """Record an execution to start; TransitionRejected if one with its name exists."""
        ...

    def start_execution(
        self, *, run_id: str, name: str, arn: str | None, at: str, check_after: str, cause: str | None = None
    ) -> Run:
        """The run (scheduled or interrupted) becomes running under this execution, in flight until
        it leaves `running`/`retrying` (its liveness first checked at ``check_after``), and the
        execution is claimed by ``arn`` (its machine recorded on both); TransitionRejected if not,
        or if another ARN claimed the execution (a repeated Express start)."""
        ...

    def end_execution(self, *, run_id: str, name: str, end: ExecutionEnd, arn: str | None = None) -> bool:
        """Record how it ended; False if its end was recorded before (or, given ``arn``, if another
        execution of the name claimed it: a repeated Express start)."""
        ...

    def hand_off(self, *, run_id: str, handing: Execution, from_arn: str | None, to: Execution, at: str) -> bool:
        """At once: request ``to``, make it the run's current execution (only while the run is
        running under ``handing``, as read) and end ``handing`` handed off; False if the run moved on
        (or, given ``from_arn``, if another execution of the name claimed it)."""
        ...

    def transition_run(
        self,
        run_id: str,
        new: RunStatus,
        *,
        fields: dict[str, Any] | None = None,
        execution: str | None = None,
        only_from: RunStatus | None = None,
        cause: str | None = None,
        by: str | None = None,
    ) -> bool:
        """Move along the transition table (only while ``execution`` is current and the run is in
        ``only_from``, if given; ``cause`` and ``by`` go into its history); False if not allowed."""
        ...

    # steps and attempts
    def begin_attempt(
        self, *, run_id: str, node_id: str, node_type: str, step_number: int, queued_at: str, at: str
    ) -> AttemptStart:
        """The step -> running, its next attempt claimed (the step is written if absent: `scheduled`
        since ``queued_at``, then `running`)."""
        ...

    def finish_attempt(self, *, run_id: str, node_id: str, number: int, result: AttemptResult) -> bool:
        """End a running attempt; False if it had ended (a late outcome changes nothing)."""
        ...

    def update_step(self, *, run_id: str, node_id: str, node_type: str, update: StepUpdate) -> bool: ...
    def annotate_step(self, *, run_id: str, node_id: str, fields: dict[str, Any]) -> None: ...
    def keep_run_until(self, run: Run, *, at: str) -> int:
        """The run goes on after ``at`` (a wait ends then): every item of its partition is kept for the
        retention period after it; answers how many it had to keep longer (0: none, without a read,
        when the run started recently enough for its items to outlive the wait)."""
        ...

    def record_inline_step(self, step: Step) -> bool:
        """An inline node's whole step, in one write; False if the run has it ended already."""
        ...


class Store(AccountStore, FlowStore, TriggerStore, RunStore, Protocol):
    """All of the table's stores, for logic that reads across them (one argument, not four)."""


@dataclass(frozen=True)
class ExecutionStart:
    arn: str
    started: bool  # False: an execution with this name existed already (a redelivered start)


class Schedules(Protocol):
    """One-time schedules (EventBridge Scheduler) that start an execution when it is due."""

    def start_at(self, *, name: str, run_id: str, at: str, machine: Machine) -> None:
        """Create (or move) the schedule ``name`` that starts execution ``name`` of the run at ``at``
        on ``machine``."""
        ...

    def delete(self, *, name: str) -> bool:
        """False if there was none (it fired and deleted itself, or was deleted before)."""
        ...


class Workflows(Protocol):
    """Executions of the flow interpreter (Step Functions). Names are deterministic per run."""

    def start(self, *, name: str, run_id: str, machine: Machine) -> ExecutionStart:
        """On ``machine`` (Express only where the deployment starts runs there; else Standard)."""
        ...

    def stop(self, *, name: str, cause: str) -> bool:
        """Stop a running Standard execution; False if it had ended already (or never started).
        Express executions cannot be stopped: their runs stop where the next task sees the cancel."""
        ...

    def status(self, *, name: str) -> str | None:
        """A Standard execution's RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None if no
        execution has this name (Express executions cannot be described)."""
        ...
