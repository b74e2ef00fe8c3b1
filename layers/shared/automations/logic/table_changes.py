"""Reacting to table changes (the DynamoDB stream): the outbox and the status roll-up.

- a new run that is due -> start its execution (idempotent: the execution name is the run id);
- a step changed status -> move the run's in-flight status;
- the interpreter recorded its end -> derive the final status from the steps.

Every write here is conditional on the transition table, so a redelivered or late record
is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automations import clock
from automations.executions import WorkflowEngine
from automations.logic import rollup
from automations.models.status import RunStatus, StepStatus
from automations.observability import MetricUnit, logger, metrics
from automations.repository.interfaces import RunStore


@dataclass(frozen=True)
class TableChange:
    event: str  # INSERT | MODIFY | REMOVE
    new: dict[str, Any] | None
    old: dict[str, Any] | None

    @property
    def entity(self) -> str | None:
        return (self.new or self.old or {}).get("entity")

    def changed(self, attribute: str) -> bool:
        return (self.new or {}).get(attribute) != (self.old or {}).get(attribute)


def on_table_change(change: TableChange, runs: RunStore, engine: WorkflowEngine) -> str:
    """Handle one change; returns what was done (for logs and tests)."""
    if change.new is None:
        return "ignored"
    if change.entity == "run":
        if change.event == "INSERT" and change.new.get("status") == RunStatus.SCHEDULED:
            return _dispatch(change.new, engine)
        if change.new.get("executionEndedAt") and change.changed("executionEndedAt"):
            return _finalize(change.new["runId"], runs)
    if change.entity == "step" and change.changed("status"):
        return _roll_up(change.new, runs)
    return "ignored"


def _dispatch(run: dict[str, Any], engine: WorkflowEngine) -> str:
    if clock.parse_iso(run["scheduledFor"]) > clock.now():
        return "not due"  # future runs are started by their schedule
    if not engine.start(run["runId"]):
        return "already started"
    metrics.add_metric(name="RunsStarted", unit=MetricUnit.Count, value=1)
    return "started"


def _roll_up(step: dict[str, Any], runs: RunStore) -> str:
    target = rollup.run_status_for_step(StepStatus(step["status"]))
    if target is None:
        return "ignored"
    moved = runs.transition_run(step["runId"], target)
    return f"run {target}" if moved else "run unchanged"


def _finalize(run_id: str, runs: RunStore) -> str:
    found = runs.get_run_and_steps(run_id)
    if found is None:
        return "ignored"
    run, steps = found
    status = rollup.final_status(run, steps)
    if runs.finalize_run(run_id, status, rollup.step_counts(steps), clock.iso(clock.now())):
        metrics.add_metric(name=f"Runs{status.value.capitalize()}", unit=MetricUnit.Count, value=1)
        return f"run {status}"
    logger.info("run already final", extra={"run_id": run_id, "status": str(run.status)})
    return "run unchanged"
