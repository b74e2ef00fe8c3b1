"""Run history: what an admin reads when a customer says "I never got my email"."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from automations.domain import clock
from automations.domain.runs import Attempt, Execution, Run, Step
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import NotFound, ValidationFailed
from automations.logic.flows import get_owned_flow, load_version
from automations.logic.steps import next_in_line
from automations.ports import Page, RunDetail, RunQuery, Store


@dataclass(frozen=True)
class StepView:
    step: Step
    attempts: list[Attempt]


@dataclass(frozen=True)
class RunView:
    run: Run
    trigger: TriggerEvent | None
    steps: list[StepView]
    executions: list[Execution]


def run_query(
    account_id: str,
    *,
    flow_id: str | None = None,
    status: RunStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> RunQuery:
    """Runs due at or after ``since`` and before ``until`` (a run that starts at once is due when
    it was triggered; a scheduled one at its ``scheduledFor``)."""
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("'from' must be before 'to'")
    return RunQuery(
        account_id=account_id,
        flow_id=flow_id,
        status=status,
        since=clock.iso(since) if since else None,
        until=clock.iso(until) if until else None,
    )


def list_runs(store: Store, query: RunQuery, *, limit: int, cursor: str | None) -> Page[Run]:
    """Newest due first: one flow's runs, or every flow's of the account (the spike view)."""
    if query.flow_id is not None:
        get_owned_flow(store, query.account_id, query.flow_id)
    return store.list_runs(query, limit=limit, cursor=cursor)


def owned_run_detail(store: Store, account_id: str, run_id: str) -> RunDetail:
    """The run with its steps (the one next in line too: ``steps.next_in_line``), attempts and
    executions; another account's run is not found."""
    detail = store.get_run_detail(run_id)
    if detail is None or detail.run.account_id != account_id:
        raise NotFound(f"run '{run_id}' not found")
    run = detail.run
    current = next((e for e in detail.executions if e.name == run.current_execution), None)
    definition = load_version(store, run.flow_id, run.flow_version).definition
    queued = next_in_line(run, detail.steps, current, definition)
    return replace(detail, steps=[*detail.steps, queued]) if queued else detail


def get_run(store: Store, account_id: str, run_id: str) -> RunView:
    detail = owned_run_detail(store, account_id, run_id)
    by_node: dict[str, list[Attempt]] = {}
    for attempt in sorted(detail.attempts, key=lambda a: a.attempt):
        by_node.setdefault(attempt.node_id, []).append(attempt)
    for step in detail.steps:  # attempts with no item of their own: the one running now, an inline node's
        unrecorded = step.attempt_in_flight() or step.inline_attempt()
        if unrecorded is not None and unrecorded.attempt not in {a.attempt for a in by_node.get(step.node_id, [])}:
            by_node.setdefault(step.node_id, []).append(unrecorded)
    steps = [StepView(step, by_node.get(step.node_id, [])) for step in detail.steps]
    return RunView(detail.run, store.get_trigger(detail.run.trigger_id), steps, detail.executions)


def get_step(store: Store, account_id: str, run_id: str, node_id: str) -> StepView:
    """One step of a run with every attempt (what a run's detail may have had to leave out)."""
    found = next((s for s in get_run(store, account_id, run_id).steps if s.step.node_id == node_id), None)
    if found is None:
        raise NotFound(f"run '{run_id}' has no step at node '{node_id}'")
    return found
