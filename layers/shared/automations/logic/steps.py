"""Ending a step from outside its own attempt: a step failed for good, or its execution ended."""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import ErrorInfo, Step
from automations.domain.status import AttemptStatus, StepStatus
from automations.ports import AttemptResult, StepUpdate, Store


def end_step(
    store: Store, *, run_id: str, node_id: str, node_type: str, step: Step | None, status: StepStatus, error: ErrorInfo
) -> None:
    """Close the step's open attempt (it never reported) with ``error``, then move the step to ``status``."""
    now = clock.iso(clock.now())
    if step is not None and step.status == StepStatus.RUNNING and step.attempt_count:
        result = AttemptResult(status=AttemptStatus.FAILED, ended_at=now, duration_ms=0, error=error)
        store.finish_attempt(run_id=run_id, node_id=node_id, number=step.attempt_count, result=result)
    # a node usually recorded its own error already; this covers what it could not record
    update = StepUpdate(status=status, ended_at=now, error=error)
    store.update_step(run_id=run_id, node_id=node_id, node_type=node_type, update=update)
