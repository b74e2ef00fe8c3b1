"""An operator's actions on one run: cancel it, resume it. (Re-trigger makes a new run: ``retrigger``.)

Like everything the API does, these only record: cancelling writes the run's new status (with the
reason and the caller's key in its history) and the table's stream stops its execution; resuming
records a new execution that the stream starts. Each write is conditional on the transition table,
so an action racing the engine either wins cleanly or answers 409 with the run's status.
"""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import Execution, Run
from automations.domain.status import RunStatus, StepStatus, run_statuses_leading_to
from automations.errors import Conflict
from automations.logic import executions
from automations.logic.accounts import Caller
from automations.logic.flows import load_version
from automations.logic.history import owned_run_detail
from automations.observability import Metric, count
from automations.ports import Store

CANCELLABLE = tuple(run_statuses_leading_to(RunStatus.CANCELLED))

# `failed` is final (no run leaves it): continuing one from where it failed makes a new run
FAILED_RUN_HINT = (
    '; to go on from its failed step, re-trigger it with {"fromStep": "failed"}: a new run of the'
    " flow's current version that reuses the outputs of the steps completed before"
)


def cancel_run(store: Store, caller: Caller, run_id: str, *, reason: str | None) -> Run:
    """A `scheduled` run never starts (its schedule goes); a `running` or `retrying` one is stopped
    (its step in flight ends `interrupted`); an `interrupted` one is given up. A finished run: 409."""
    run = owned_run_detail(store, caller.account_id, run_id).run
    if run.status not in CANCELLABLE:
        raise Conflict(f"run '{run_id}' is {run.status}; only a {_either(CANCELLABLE)} run can be cancelled")
    cause = f"cancelled by an operator: {reason}" if reason else "cancelled by an operator"
    fields = {"endedAt": clock.iso(clock.now())}
    if not store.transition_run(run_id, RunStatus.CANCELLED, fields=fields, cause=cause, by=caller.key_id):
        raise Conflict(f"run '{run_id}' is {_status_now(store, run)}; it finished while being cancelled")
    count(Metric.RUNS_CANCELLED)
    return store.get_run(run_id) or run


def resume_run(store: Store, caller: Caller, run_id: str) -> Execution:
    """An `interrupted` run continues at its interrupted step in a new execution (``<runId>-r<n>``),
    on its own flow version; the steps it completed are not run again. A `failed` run is final: it
    goes on as a new run (``retrigger``, from its failed step), which the 409 says."""
    detail = owned_run_detail(store, caller.account_id, run_id)
    run = detail.run
    if run.status != RunStatus.INTERRUPTED:
        hint = FAILED_RUN_HINT if run.status == RunStatus.FAILED else ""
        raise Conflict(f"run '{run_id}' is {run.status}; only an interrupted run can be resumed{hint}")
    by_number = sorted(detail.steps, key=lambda s: s.step_number, reverse=True)
    # the step cut short; else the node that was next in line (derived: ``steps.next_in_line``); else
    # the node its last execution started at
    resume_at = next((s.node_id for s in by_number if s.status == StepStatus.INTERRUPTED), None)
    resume_at = resume_at or next((s.node_id for s in by_number if s.status == StepStatus.SCHEDULED), None)
    if resume_at is None:
        last = detail.executions[-1] if detail.executions else None
        resume_at = (last.start_at if last else None) or _first_node(store, run)
    return executions.request_execution(
        store, run_id=run_id, start_at=resume_at, reason=f"resumed by an operator ({caller.key_id})"
    )


def _first_node(store: Store, run: Run) -> str:
    return load_version(store, run.flow_id, run.flow_version).definition.nodes[0].id


def _status_now(store: Store, run: Run) -> str:
    now = store.get_run(run.run_id)
    return str(now.status if now else run.status)


def _either(statuses: tuple[RunStatus, ...]) -> str:
    names = [str(s) for s in statuses]
    return ", ".join(names[:-1]) + f" or {names[-1]}"
