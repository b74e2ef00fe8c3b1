"""A step's life from outside its own attempts: queued when its node is next in line; ended when
it failed for good or its execution ended."""

from __future__ import annotations

from automations.domain import clock
from automations.domain.interpreter import InterpreterState
from automations.domain.runs import ErrorInfo, StatusChange, Step
from automations.domain.status import AttemptStatus, StepStatus
from automations.ports import AttemptResult, StepUpdate, Store


def end_step(
    store: Store, *, run_id: str, node_id: str, node_type: str, step: Step | None, status: StepStatus, error: ErrorInfo
) -> None:
    """Close the step's open attempt (it never reported) with ``error``, then move the step to
    ``status``: in one write when the step ends for good (the attempt is recorded on it), else
    (``interrupted``: a resume adds attempts) the attempt first, in an item of its own."""
    now = clock.iso(clock.now())
    open_attempt = step.attempt_in_flight() if step is not None else None
    if open_attempt is None:
        # a node usually recorded its own error already; this covers what it could not record
        update = StepUpdate(status=status, ended_at=now, error=error)
    else:
        closed = AttemptResult(
            status=AttemptStatus.FAILED, started_at=open_attempt.started_at, ended_at=now, duration_ms=0, error=error
        )
        number = open_attempt.attempt
        if status == StepStatus.FAILED:
            update = StepUpdate(status=status, ended_at=now, error=error, attempt=number, ended_attempt=closed)
        else:
            store.finish_attempt(run_id=run_id, node_id=node_id, number=number, result=closed)
            update = StepUpdate(status=status, ended_at=now, error=error)
    store.update_step(run_id=run_id, node_id=node_id, node_type=node_type, update=update)


def queued_step(run_id: str, node_id: str, node_type: str, step_number: int, at: str) -> Step:
    """The step of the node next in line: `scheduled` until its first attempt begins."""
    return Step(
        run_id=run_id,
        node_id=node_id,
        node_type=node_type,
        step_number=step_number,
        status=StepStatus.SCHEDULED,
        queued_at=at,
        history=[StatusChange(status=StepStatus.SCHEDULED, at=at)],
    )


def queue_next(store: Store, state: InterpreterState) -> InterpreterState:
    """Record the step of the node the interpreter goes to next (none at the end); returns ``state``."""
    node = state.node
    if node.id is not None:
        at = clock.iso(clock.now())
        store.queue_step(queued_step(state.run_id, node.id, node.type, state.step_number, at))
    return state
