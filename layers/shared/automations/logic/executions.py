"""Asking for another execution of a run: continue it at a node, keeping what its steps recorded.

The request is only recorded (an execution item); the table's stream starts it, exactly like a
run's first execution. Its name is deterministic (``<runId>-r<n>``), so a retried request
conflicts instead of starting twice. Operators' resume builds on this.
"""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import Execution, Machine, execution_name
from automations.domain.status import RunStatus
from automations.errors import Conflict, NotFound, ValidationFailed
from automations.logic.flows import load_version
from automations.ports import Store, TransitionRejected

CONTINUABLE = (RunStatus.INTERRUPTED,)


def request_execution(store: Store, *, run_id: str, start_at: str, reason: str) -> Execution:
    """Record a new execution of an interrupted run, starting at ``start_at``; the stream starts it."""
    detail = store.get_run_detail(run_id)
    if detail is None:
        raise NotFound(f"run '{run_id}' not found")
    run = detail.run
    if run.status not in CONTINUABLE:
        raise Conflict(f"run '{run_id}' is {run.status}; only an interrupted run can continue")
    definition = load_version(store, run.flow_id, run.flow_version).definition
    if start_at not in {node.id for node in definition.nodes}:
        raise ValidationFailed(f"flow version {run.flow_version} has no node '{start_at}'")
    ordinal = len(detail.executions)
    now = clock.iso(clock.now())
    # a node the run reached before keeps its step (and number); a new one comes after the last
    reached = next((s.step_number for s in detail.steps if s.node_id == start_at), None)
    execution = Execution(
        run_id=run_id,
        name=execution_name(run_id, ordinal),
        ordinal=ordinal,
        start_at=start_at,
        first_step_number=reached or max((s.step_number for s in detail.steps), default=0) + 1,
        due_at=now,
        requested_at=now,
        reason=reason,
        machine=Machine.STANDARD,  # a resume may wait anywhere: Standard from the start
    )
    try:
        store.request_execution(execution)
    except TransitionRejected as error:
        raise Conflict(f"run '{run_id}' got another execution at the same time; read it again") from error
    return execution
