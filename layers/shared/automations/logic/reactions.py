"""Reactions to table changes (the outbox and the status roll-up), one entry each.

- an execution is requested (a new run's first, by the run's INSERT; a resume, a hand-off, a
  reschedule, by its own): due -> start it (idempotent: its name); due later -> a one-time
  schedule of the same name starts it then;
- a run leaves `scheduled` (started, cancelled, expired) or is moved -> its schedule goes; a run
  that ended before it started keeps no queued step; a recurring flow's next occurrence is recorded;
- an operator cancels a run that had started -> its execution is stopped, its step in flight ends
  ``interrupted`` and the step queued next is dropped;
- a flow is saved, published or deleted -> a recurring flow's waiting occurrence follows it; a
  deleted flow's waiting runs are cancelled;
- an execution's end is recorded -> the run's status follows: final from its steps when the
  interpreter reached its end, ``interrupted`` when the execution ended without reaching it;
- a step changed status -> move the run's in-flight status.

Every write here is conditional on the transition table, so a redelivered or late record is
harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from automations.domain import clock
from automations.domain.runs import (
    ErrorInfo,
    Execution,
    ExecutionOutcome,
    Run,
    Step,
    first_execution_of,
)
from automations.domain.status import RunStatus, StepStatus
from automations.logic import rollup
from automations.logic.change_router import ChangeRouter, TableChange
from automations.logic.steps import end_step
from automations.logic.waiting_runs import cancel_scheduled_run
from automations.observability import Metric, count, logger
from automations.ports import Schedules, Store, Workflows

if TYPE_CHECKING:
    # imported by the reactions that read a flow instead: the flow models import every node type,
    # which the stream's commonest records (an execution requested, a step's change) never need
    from automations.flows.definition import Flow

FINAL_METRICS = {
    RunStatus.COMPLETED: Metric.RUNS_COMPLETED,
    RunStatus.FAILED: Metric.RUNS_FAILED,
}


@dataclass(frozen=True)
class ReactionDeps:
    store: Store
    workflows: Workflows
    schedules: Schedules


ROUTER: ChangeRouter[ReactionDeps] = ChangeRouter()


def _requested(change: TableChange) -> bool:
    """An execution's item written by its request: not by the claim or the end of a run's first,
    nor by the reschedule that replaced it."""
    new = change.new or {}
    return not {"startedAt", "outcome", "replacedBy"} & set(new)


@ROUTER.on("execution", "INSERT", when=_requested)
def start_requested_execution(change: TableChange, deps: ReactionDeps) -> str:
    return _start(Execution.model_validate(change.new), deps)


@ROUTER.on("run", "INSERT", when=lambda change: (change.new or {}).get("status") == RunStatus.SCHEDULED)
def start_first_execution(change: TableChange, deps: ReactionDeps) -> str:
    """A run recorded requests its first execution (``first_execution_of``)."""
    return _start(first_execution_of(Run.model_validate(change.new)), deps)


def _start(execution: Execution, deps: ReactionDeps) -> str:
    if clock.parse_iso(execution.due_at) > clock.now():
        deps.schedules.start_at(
            name=execution.name, run_id=execution.run_id, at=execution.due_at, machine=execution.machine
        )
        return "scheduled"
    started = deps.workflows.start(name=execution.name, run_id=execution.run_id, machine=execution.machine)
    return "started" if started.started else "already started"


# (an INSERT: a run's first execution, whose item its end writes, whole, from the run)
@ROUTER.on("execution", "INSERT", "MODIFY", when=lambda change: change.became_set("outcome"))
def follow_execution_end(change: TableChange, deps: ReactionDeps) -> str:
    execution = Execution.model_validate(change.new)
    assert execution.outcome is not None
    if execution.outcome == ExecutionOutcome.HANDED_OFF:  # the run goes on under the next execution
        return "handed off"
    if execution.outcome.reached_its_end:
        return _settle(deps.store, execution)
    return _interrupt(deps.store, execution)


def _step_change(change: TableChange) -> tuple[StepStatus | None, StepStatus]:
    assert change.new is not None
    old = (change.old or {}).get("status")
    return (StepStatus(old) if old else None), StepStatus(change.new["status"])


def _step_change_matters(change: TableChange) -> bool:
    """A step's status change that moves its run or is counted (`retrying`, `failed`): most (a
    claim, an end after `running`) are neither, and the stream's filter drops them."""
    if change.new is None or not change.changed("status"):
        return False
    old, new = _step_change(change)
    return new in STEP_METRICS or rollup.run_status_for_step(old, new) is not None


@ROUTER.on("step", "INSERT", "MODIFY", when=_step_change_matters)
def roll_step_status_up(change: TableChange, deps: ReactionDeps) -> str:
    assert change.new is not None
    old, new = _step_change(change)
    _count_step_outcome(new, change.new)
    target = rollup.run_status_for_step(old, new)
    if target is None:
        return "run has its status"
    moved = deps.store.transition_run(change.new["runId"], target)
    return f"run {target}" if moved else "run unchanged"


STEP_METRICS = {StepStatus.RETRYING: Metric.STEP_RETRIES, StepStatus.FAILED: Metric.STEP_FAILURES}


def _count_step_outcome(status: StepStatus, step: dict[str, Any]) -> None:
    """A step going `retrying` or `failed`, by its error's type (a Step Functions error name)."""
    metric = STEP_METRICS.get(status)
    if metric is not None:
        count(metric, ErrorType=str((step.get("error") or {}).get("type") or "Unknown"))


def _left_waiting(change: TableChange) -> bool:
    """A `scheduled` run started, ended, or was moved to another execution (rescheduled)."""
    old, new = change.old or {}, change.new or {}
    return old.get("status") == RunStatus.SCHEDULED and (
        new.get("status") != RunStatus.SCHEDULED or new.get("currentExecution") != old.get("currentExecution")
    )


def _cancelled_after_start(change: TableChange) -> bool:
    old, new = change.old or {}, change.new or {}
    return new.get("status") == RunStatus.CANCELLED and old.get("status") in _STARTED


_STARTED = (RunStatus.RUNNING, RunStatus.RETRYING, RunStatus.INTERRUPTED)


@ROUTER.on("run", "MODIFY", when=_cancelled_after_start)
def stop_cancelled_run(change: TableChange, deps: ReactionDeps) -> str:
    before, run = Run.model_validate(change.old), Run.model_validate(change.new)
    cause = (run.history[-1].cause if run.history else None) or "cancelled"
    done = []
    if before.status != RunStatus.INTERRUPTED and run.current_execution:
        if run.on_express:  # cannot be stopped: its next task sees the run cancelled and ends it
            done.append("Express execution ends at its next task")
        else:
            stopped = deps.workflows.stop(name=run.current_execution, cause=cause)
            done.append("execution stopped" if stopped else "execution had ended")
    found = deps.store.get_run_and_steps(run.run_id)
    steps = found[1] if found else []
    error = ErrorInfo(type="RunCancelled", message=cause)
    interrupted = _interrupt_steps_in_flight(deps.store, run.run_id, steps, error)
    done.append(f"{interrupted} steps interrupted")
    return "; ".join(done)


@ROUTER.on("run", "MODIFY", when=_left_waiting)
def follow_run_leaving_waiting(change: TableChange, deps: ReactionDeps) -> str:
    """Only a run that ``follows_up_when_leaving_scheduled`` has anything to do here: the others (due
    at once, not recurring) are marked so while they wait, and the stream's filter drops this change."""
    before, run = Run.model_validate(change.old), Run.model_validate(change.new)
    done = []
    if before.was_due_later:  # it had a schedule
        name = before.current_execution or before.run_id
        done.append("schedule deleted" if deps.schedules.delete(name=name) else "no schedule")
    if run.recurs and run.status != RunStatus.SCHEDULED:
        from automations.logic import recurring  # (lazy, for a recurring flow's runs only: see the imports)

        flow = deps.store.get_flow(run.flow_id)
        if flow is not None and flow.version == run.flow_version:  # this version's chain goes on
            after = clock.parse_iso(before.scheduled_for)
            next_run = recurring.record_next_occurrence(deps.store, flow, after=after)
            done.append(f"next occurrence {next_run}")
    return "; ".join(done) or "nothing to do"


def _flow_saved_or_deleted(change: TableChange) -> bool:
    return change.event == "INSERT" or change.changed("version") or change.became_set("deletedAt")


@ROUTER.on("flow", "INSERT", "MODIFY", when=_flow_saved_or_deleted)
def follow_flow(change: TableChange, deps: ReactionDeps) -> str:
    """A deleted flow's waiting runs are cancelled; a recurring flow waits for its next occurrence
    under its current version (one recorded for an older version is replaced)."""
    from automations.flows.definition import Flow, ScheduleTrigger  # (lazy: see the imports)
    from automations.logic import recurring

    flow = Flow.model_validate(change.new)
    if flow.deleted_at is not None:
        cancelled = _cancel_waiting_runs(deps.store, flow, lambda run: True, "its flow was deleted")
        return f"{cancelled} waiting runs cancelled"
    if not isinstance(flow.trigger, ScheduleTrigger):
        return "not recurring"
    replaced = _cancel_waiting_runs(
        deps.store,
        flow,
        lambda run: run.trigger_kind == "schedule" and run.flow_version != flow.version,
        f"replaced by version {flow.version} of the flow",
    )
    next_run = recurring.record_next_occurrence(deps.store, flow, after=clock.now())
    return f"{replaced} occurrences replaced; next occurrence {next_run}"


def _cancel_waiting_runs(store: Store, flow: Flow, which: Callable[[Run], bool], cause: str) -> int:
    cancelled, cursor = 0, None
    while True:
        page = store.scheduled_runs_of_flow(flow.flow_id, due_before=None, limit=100, cursor=cursor)
        cancelled += sum(1 for run in page.items if which(run) and cancel_scheduled_run(store, run.run_id, cause))
        if page.next_cursor is None:
            return cancelled
        cursor = page.next_cursor


def _settle(store: Store, execution: Execution) -> str:
    """The interpreter reached its end (or recorded an engine error): the final status, from the steps."""
    found = store.get_run_and_steps(execution.run_id)
    if found is None:
        return "ignored"
    run, steps = found
    status = rollup.final_status(execution, steps)
    fields: dict[str, Any] = {"endedAt": clock.iso(clock.now()), "stepCounts": rollup.step_counts(steps).dump()}
    if execution.error is not None:
        fields["error"] = execution.error.dump()
    if any(s.status == StepStatus.FAILED for s in steps):  # where it failed, for run lists (with attempts:
        detail = store.get_run_detail(run.run_id)  # its HTTP status)
        failed = rollup.failed_step(detail.steps, detail.attempts) if detail else None
        fields["failedStep"] = failed.dump() if failed else None
    if store.transition_run(run.run_id, status, fields=fields, execution=execution.name):
        count(FINAL_METRICS[status])
        return f"run {status}"
    logger.info("run already final or taken over", extra={"run_id": run.run_id, "status": str(run.status)})
    return "run unchanged"


def _interrupt(store: Store, execution: Execution) -> str:
    """The execution ended without reaching its end: the run and its step in flight are interrupted."""
    found = store.get_run_and_steps(execution.run_id)
    if found is None:
        return "ignored"
    run, steps = found
    error = execution.error or ErrorInfo(type="ExecutionEnded", message="the execution ended", retryable=True)
    _interrupt_steps_in_flight(store, run.run_id, steps, error)
    if store.transition_run(
        run.run_id, RunStatus.INTERRUPTED, fields={"error": error.dump()}, execution=execution.name
    ):
        count(Metric.RUNS_INTERRUPTED)
        return "run interrupted"
    return "run unchanged"


def _interrupt_steps_in_flight(store: Store, run_id: str, steps: list[Step], error: ErrorInfo) -> int:
    """The steps `running` or `retrying` when their execution ended (or was stopped) end ``interrupted``."""
    in_flight = [s for s in steps if s.status in (StepStatus.RUNNING, StepStatus.RETRYING)]
    for step in in_flight:
        end_step(
            store,
            run_id=run_id,
            node_id=step.node_id,
            node_type=step.node_type,
            step=step,
            status=StepStatus.INTERRUPTED,
            error=error,
        )
    return len(in_flight)
