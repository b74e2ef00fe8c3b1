"""A run's status, derived from its steps: the one place that decides it.

While the interpreter runs, each step change moves the run (a retrying step makes the run
``retrying``; the next attempt makes it ``running`` again). When the interpreter reaches its
end the final status is honest: any failed step -- even one the flow continued past with
``onError: continue`` -- makes the run ``failed``.
"""

from __future__ import annotations

from automations.domain.runs import Attempt, Execution, ExecutionOutcome, FailedStep, Step, StepCounts
from automations.domain.status import RunStatus, StepStatus

_IN_FLIGHT: dict[StepStatus, RunStatus] = {
    StepStatus.RUNNING: RunStatus.RUNNING,
    StepStatus.RETRYING: RunStatus.RETRYING,
    # the run goes on after a step ends; only the end of the interpreter finishes it
    StepStatus.COMPLETED: RunStatus.RUNNING,
    StepStatus.FAILED: RunStatus.RUNNING,
    StepStatus.INTERRUPTED: RunStatus.INTERRUPTED,
}


def run_status_for_step(old: StepStatus | None, new: StepStatus) -> RunStatus | None:
    """The status a step's change from ``old`` to ``new`` moves its run to; None when the run has it
    already. A step's first status (or its move from queued) comes while its run is `running`, so
    only a change of what the step calls for moves the run: no write for a no-op."""
    target = _IN_FLIGHT.get(new)
    before = _IN_FLIGHT.get(old, RunStatus.RUNNING) if old is not None else RunStatus.RUNNING
    return None if target == before else target


def step_counts(steps: list[Step]) -> StepCounts:
    return StepCounts(
        completed=sum(1 for s in steps if s.status == StepStatus.COMPLETED),
        failed=sum(1 for s in steps if s.status == StepStatus.FAILED),
    )


def final_status(execution: Execution, steps: list[Step]) -> RunStatus:
    """When the execution reached its end: failed if it recorded an engine error or any step failed."""
    if execution.outcome == ExecutionOutcome.ENGINE_ERROR or any(s.status == StepStatus.FAILED for s in steps):
        return RunStatus.FAILED
    return RunStatus.COMPLETED


def failed_step(steps: list[Step], attempts: list[Attempt]) -> FailedStep | None:
    """The first step that failed for good, with its error and its last attempt's HTTP status."""
    failed = next((s for s in sorted(steps, key=lambda s: s.step_number) if s.status == StepStatus.FAILED), None)
    if failed is None:
        return None
    tries = sorted((a for a in attempts if a.node_id == failed.node_id), key=lambda a: a.attempt)
    response = tries[-1].http.response if tries and tries[-1].http else None
    status = response.get("status") if response else None
    error = failed.error
    return FailedStep(
        node_id=failed.node_id,
        error_type=error.type if error else "Failed",
        message=error.message if error else "the step failed",
        http_status=status if isinstance(status, int) else None,
    )
