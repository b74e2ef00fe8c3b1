"""Reactions to table changes (the outbox and the status roll-up), one entry each.

- an execution is requested (a new run, or a resume) and due -> start it (idempotent: its name);
- an execution's end is recorded -> the run's status follows: final from its steps when the
  interpreter reached its end, ``interrupted`` when the execution ended without reaching it;
- a step changed status -> move the run's in-flight status.

Every write here is conditional on the transition table, so a redelivered or late record is
harmless.
"""

from __future__ import annotations

from dataclasses import dataclass

from automations.domain import clock
from automations.domain.runs import ErrorInfo, Execution, first_execution_name
from automations.domain.status import RunStatus, StepStatus
from automations.logic import rollup
from automations.logic.change_router import ChangeRouter, TableChange
from automations.logic.steps import end_step
from automations.observability import Metric, count, logger
from automations.ports import Store, Workflows

FINAL_METRICS = {
    RunStatus.COMPLETED: Metric.RUNS_COMPLETED,
    RunStatus.FAILED: Metric.RUNS_FAILED,
}


@dataclass(frozen=True)
class ReactionDeps:
    store: Store
    workflows: Workflows


ROUTER: ChangeRouter[ReactionDeps] = ChangeRouter()


@ROUTER.on("execution", "INSERT")
def start_requested_execution(change: TableChange, deps: ReactionDeps) -> str:
    execution = Execution.model_validate(change.new)
    if clock.parse_iso(execution.due_at) > clock.now():
        return "not due"  # a run due later is started by its schedule
    started = deps.workflows.start(name=execution.name, run_id=execution.run_id)
    if not started.started:
        return "already started"
    if execution.name == first_execution_name(execution.run_id):
        count(Metric.RUNS_STARTED)
    return "started"


@ROUTER.on("execution", "MODIFY", when=lambda change: change.became_set("outcome"))
def follow_execution_end(change: TableChange, deps: ReactionDeps) -> str:
    execution = Execution.model_validate(change.new)
    assert execution.outcome is not None
    if execution.outcome.reached_its_end:
        return _settle(deps.store, execution)
    return _interrupt(deps.store, execution)


@ROUTER.on("step", "INSERT", "MODIFY", when=lambda change: change.changed("status"))
def roll_step_status_up(change: TableChange, deps: ReactionDeps) -> str:
    assert change.new is not None
    target = rollup.run_status_for_step(StepStatus(change.new["status"]))
    if target is None:
        return "ignored"
    moved = deps.store.transition_run(change.new["runId"], target)
    return f"run {target}" if moved else "run unchanged"


def _settle(store: Store, execution: Execution) -> str:
    """The interpreter reached its end (or recorded an engine error): the final status, from the steps."""
    found = store.get_run_and_steps(execution.run_id)
    if found is None:
        return "ignored"
    run, steps = found
    status = rollup.final_status(execution, steps)
    fields = {"endedAt": clock.iso(clock.now()), "stepCounts": rollup.step_counts(steps).dump()}
    if execution.error is not None:
        fields["error"] = execution.error.dump()
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
    for step in steps:
        if step.status in (StepStatus.RUNNING, StepStatus.RETRYING):
            end_step(
                store,
                run_id=run.run_id,
                node_id=step.node_id,
                node_type=step.node_type,
                step=step,
                status=StepStatus.INTERRUPTED,
                error=error,
            )
    if store.transition_run(
        run.run_id, RunStatus.INTERRUPTED, fields={"error": error.dump()}, execution=execution.name
    ):
        count(Metric.RUNS_INTERRUPTED)
        return "run interrupted"
    return "run unchanged"
