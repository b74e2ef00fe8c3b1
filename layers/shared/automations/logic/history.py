"""Run history: what an admin reads when a customer says "I never got my email"."""

from __future__ import annotations

from dataclasses import dataclass

from automations.domain.runs import Attempt, Execution, Run, Step
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import NotFound
from automations.logic.flows import get_owned_flow
from automations.ports import Page, Store


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


def list_runs(
    store: Store, account_id: str, flow_id: str, *, status: RunStatus | None, limit: int, cursor: str | None
) -> Page[Run]:
    get_owned_flow(store, account_id, flow_id)
    return store.list_runs(flow_id, status=status, limit=limit, cursor=cursor)


def get_run(store: Store, account_id: str, run_id: str) -> RunView:
    detail = store.get_run_detail(run_id)
    if detail is None or detail.run.account_id != account_id:
        raise NotFound(f"run '{run_id}' not found")
    by_node: dict[str, list[Attempt]] = {}
    for attempt in sorted(detail.attempts, key=lambda a: a.attempt):
        by_node.setdefault(attempt.node_id, []).append(attempt)
    steps = [StepView(step, by_node.get(step.node_id, [])) for step in detail.steps]
    return RunView(detail.run, store.get_trigger(detail.run.trigger_id), steps, detail.executions)
