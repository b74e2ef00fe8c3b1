"""Re-trigger: the handbook's rule for a finished run is a new run from the start, never a rewind.

The new run is of the flow's current version, with the old run's trigger data, linked both ways
(``retriggerOf`` on the new run, ``retriggeredBy`` on the old one, which is otherwise never
changed). From a later step (``fromStep``), the new run starts at that node and reuses the outputs
the old run recorded before it, so a node that must not run twice (a charge, an email) does not.
It goes through the one recording path (``recording.record_runs``), like every trigger.

In bulk (``retrigger_matching``): one page of the run history at a time, with a cursor to go on;
a run re-triggered before is skipped, so replaying an outage's failures twice makes no duplicates.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from automations.domain import clock
from automations.domain.runs import Run, Step
from automations.domain.status import RunStatus, StepStatus
from automations.errors import Conflict, NotFound, ValidationFailed
from automations.logic.accounts import Caller
from automations.logic.history import list_runs, owned_run_detail
from automations.logic.recording import RunPlan, record_runs, replayed, request_hash, trigger_id_for
from automations.ports import RunDetail, RunQuery, Store

RETRIGGERABLE = (RunStatus.FAILED, RunStatus.CANCELLED, RunStatus.COMPLETED)
FROM_FAILED_STEP = "failed"
BULK_LIMIT = 100


def retrigger_run(
    store: Store, caller: Caller, run_id: str, *, from_step: str | None, idempotency_key: str | None = None
) -> str:
    """Record the new run (started by the stream); returns its id. A replayed Idempotency-Key
    returns the run the first call made."""
    detail = owned_run_detail(store, caller.account_id, run_id)
    return _retrigger(store, detail, from_step=from_step, idempotency_key=idempotency_key)


def _retrigger(store: Store, detail: RunDetail, *, from_step: str | None, idempotency_key: str | None) -> str:
    run = detail.run
    if run.status not in RETRIGGERABLE:
        raise Conflict(
            f"run '{run.run_id}' is {run.status}; only a failed, cancelled or completed run can be re-triggered"
        )
    flow = store.get_flow(run.flow_id)
    if flow is None or flow.deleted_at is not None:
        raise Conflict(f"flow '{run.flow_id}' was deleted; its runs cannot be re-triggered")
    original = store.get_trigger(run.trigger_id)
    if original is None:
        raise Conflict(f"run '{run.run_id}': its trigger is no longer kept (past the history retention)")
    trigger_id = trigger_id_for(f"retrigger:{run.run_id}", idempotency_key)
    first = store.get_trigger(trigger_id) if idempotency_key else None
    if first is not None:  # a replay answers as the first call did, whatever the run's steps say now
        return replayed(first, request_hash({"fromStep": from_step})).run_ids[0]
    start_at, carried = _starting_point(detail, from_step)
    trigger = original.model_copy(
        update={
            "trigger_id": trigger_id,
            "kind": "retrigger",
            "flow_id": run.flow_id,
            "received_at": clock.iso(clock.now()),
            "idempotency_key": idempotency_key,
            "request_hash": request_hash({"fromStep": from_step}),
            "run_ids": [],
            "cancelled": None,
            "rescheduled": None,
        }
    )
    plan = RunPlan(flow=flow, start_at=start_at, carried_steps=carried, retrigger_of=run.run_id)
    recorded = record_runs(store, trigger, [plan])
    new_run_id = recorded.run_ids[0]
    store.link_retrigger(run.run_id, new_run_id=new_run_id)
    return new_run_id


def _starting_point(detail: RunDetail, from_step: str | None) -> tuple[str | None, list[Step]]:
    """The node the new run starts at (None: the first) and the completed steps before it, reused."""
    if from_step is None:
        return None, []
    steps = sorted(detail.steps, key=lambda s: s.step_number)
    if from_step == FROM_FAILED_STEP:
        target = next((s for s in steps if s.status == StepStatus.FAILED), None)
        if target is None:
            raise ValidationFailed(f"run '{detail.run.run_id}' has no failed step to start from")
    else:
        target = next((s for s in steps if s.node_id == from_step), None)
        if target is None:
            raise ValidationFailed(f"run '{detail.run.run_id}' never reached node '{from_step}'")
    carried = [
        s.model_copy(update={"carried_from": s.carried_from or detail.run.run_id})
        for s in steps
        if s.step_number < target.step_number and s.status == StepStatus.COMPLETED
    ]
    return target.node_id, carried


@dataclass(frozen=True)
class Skipped:
    run_id: str
    reason: str


@dataclass
class BulkRetrigger:
    matched: int = 0
    retriggered: dict[str, str] = field(default_factory=dict)  # old run id -> new run id
    skipped: list[Skipped] = field(default_factory=list)
    next_cursor: str | None = None


def retrigger_matching(
    store: Store,
    caller: Caller,
    query: RunQuery,
    *,
    error_type: str | None,
    from_step: str | None,
    limit: int,
    cursor: str | None,
) -> BulkRetrigger:
    """Re-trigger the runs of one history page that match (at most ``limit``); say what it did."""
    if query.status is not None and query.status not in RETRIGGERABLE:
        raise ValidationFailed(f"'status' must be one of {', '.join(RETRIGGERABLE)} to re-trigger")
    page = list_runs(store, query, limit=min(limit, BULK_LIMIT), cursor=cursor)
    outcome = BulkRetrigger(next_cursor=page.next_cursor)
    for run in page.items:
        if error_type is not None and error_type not in _error_types(run):
            continue
        outcome.matched += 1
        if run.retriggered_by:
            outcome.skipped.append(Skipped(run.run_id, f"re-triggered before as {', '.join(run.retriggered_by)}"))
            continue
        try:
            detail = owned_run_detail(store, caller.account_id, run.run_id)
            outcome.retriggered[run.run_id] = _retrigger(
                store, detail, from_step=from_step, idempotency_key=f"bulk:{run.run_id}"
            )
        except (Conflict, ValidationFailed, NotFound) as error:
            outcome.skipped.append(Skipped(run.run_id, error.message))
    return outcome


def _error_types(run: Run) -> set[str]:
    found = {run.error.type} if run.error else set()
    if run.failed_step is not None:
        found.add(run.failed_step.error_type)
    return found
