"""A step's life from outside its own attempts: `scheduled` while its node is next in line; ended
when it failed for good or its execution ended.

The step next in line is not written: it is derived where it is read (``next_in_line``), from the
run's current execution and the step that ended before it, and its claim (the first write of the
step) records when it was queued. A run's writes are then two per node that calls out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from automations.domain import clock
from automations.domain.runs import ErrorInfo, Execution, Run, StatusChange, Step
from automations.domain.status import TERMINAL_RUN_STATUSES, AttemptStatus, StepStatus
from automations.ports import AttemptResult, StepUpdate, Store

if TYPE_CHECKING:  # (next_in_line imports the flow graph, and every node type with it, when called)
    from automations.flows.definition import FlowDefinition


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


def queued_at(run: Run, steps: list[Step], step_number: int) -> str:
    """When the node of step ``step_number`` became next in line: when the step before it ended, or
    (the run's first, or the one before it was carried over from an earlier run) when the run was recorded."""
    before = next((s.ended_at for s in steps if s.step_number == step_number - 1 and s.ended_at), None)
    return max(before, run.created_at) if before else run.created_at


def next_in_line(run: Run, steps: list[Step], execution: Execution | None, definition: FlowDefinition) -> Step | None:
    """The step of the node the run goes to next, `scheduled`: none while a step is in flight or was
    interrupted (that one goes on), or once the run ended or has nowhere to go."""
    from automations.flows import graph  # (lazy: see the imports)

    if run.status in TERMINAL_RUN_STATUSES or any(s.status in _GOES_ON for s in steps):
        return None
    first_number = execution.first_step_number if execution is not None else 1
    own = [s for s in steps if s.step_number >= first_number]  # its execution's steps (not carried ones)
    if not own:
        node_id: str | None = (execution.start_at if execution else None) or definition.nodes[0].id
        number = first_number
    else:
        last = max(own, key=lambda s: s.step_number)
        node = definition.node(last.node_id)
        if last.status == StepStatus.COMPLETED:
            node_id = last.next_node or graph.default_next(definition, node)
        else:
            node_id = graph.after_failure(definition, node)
        number = last.step_number + 1
    if node_id is None or any(s.node_id == node_id for s in steps):
        return None
    return queued_step(run.run_id, node_id, definition.node(node_id).type, number, queued_at(run, steps, number))


def queued_step(run_id: str, node_id: str, node_type: str, step_number: int, at: str) -> Step:
    """The step of a node next in line: `scheduled` since ``at``, until its first attempt begins."""
    return Step(
        run_id=run_id,
        node_id=node_id,
        node_type=node_type,
        step_number=step_number,
        status=StepStatus.SCHEDULED,
        queued_at=at,
        history=[StatusChange(status=StepStatus.SCHEDULED, at=at)],
    )


# a step that goes on (or, written by an earlier engine version, a stored `scheduled` one) is next already
_GOES_ON = (StepStatus.RUNNING, StepStatus.RETRYING, StepStatus.INTERRUPTED, StepStatus.SCHEDULED)
