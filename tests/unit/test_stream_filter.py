"""The stream's FilterCriteria (template.yaml) passes every change a reaction acts on, and drops the
common ones none does (a step's claim and end, a trigger, an attempt), which then cost no invocation."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain.runs import ExecutionOutcome, Run
from automations.domain.status import RunStatus, StepStatus
from automations.logic.change_router import TableChange
from automations.logic.reactions import ROUTER, ReactionDeps, follow_run_leaving_waiting
from devstack import event_patterns
from devstack.template import load_template

_serializer = TypeSerializer()


def stream_filters() -> list[dict[str, Any]]:
    events = load_template()["Resources"]["StreamFunction"]["Properties"]["Events"]
    (stream,) = [e["Properties"] for e in events.values() if e["Type"] == "DynamoDB"]
    return [json.loads(f["Pattern"]) for f in stream["FilterCriteria"]["Filters"]]


def lambda_record(change: TableChange) -> dict[str, Any]:
    """The change as the event source mapping matches it (typed images)."""
    images = {"NewImage": change.new, "OldImage": change.old}
    typed = {name: {k: _serializer.serialize(v) for k, v in image.items()} for name, image in images.items() if image}
    return {"eventName": change.event, "eventSource": "aws:dynamodb", "dynamodb": typed}


def passes(change: TableChange) -> bool:
    record = lambda_record(change)
    return any(event_patterns.matches(pattern, record) for pattern in stream_filters())


def reacted_on(change: TableChange) -> list[str]:
    """The reactions that would act on ``change`` (without acting)."""
    routes = ROUTER.routes.get(change.entity or "", [])
    return [r.name for r in routes if change.event in r.events and r.when(change)]


def changes() -> Iterator[TableChange]:
    """Every kind of change of every entity a reaction is registered for: each status pair, each
    execution outcome, a flow saved, changed and deleted."""
    for old, new in itertools.product([None, *StepStatus], StepStatus):
        before = {"entity": "step", "status": str(old)} if old else None
        yield TableChange("MODIFY" if before else "INSERT", {"entity": "step", "status": str(new)}, before)
    for new in RunStatus:
        yield TableChange("INSERT", {"entity": "run", "status": str(new), "currentExecution": "e0"}, None)
    for (old, new), moved in itertools.product(itertools.product(RunStatus, RunStatus), (False, True)):
        before = {"entity": "run", "status": str(old), "currentExecution": "e0"}
        yield TableChange("MODIFY", {**before, "status": str(new), "currentExecution": "e1" if moved else "e0"}, before)
    requested = {"entity": "execution", "name": "e0"}
    yield TableChange("INSERT", requested, None)
    claimed = {**requested, "arn": "arn:e0", "startedAt": "2026-01-01T00:00:00Z"}  # by the ARN that started it
    yield TableChange("MODIFY", claimed, requested)
    for outcome in ExecutionOutcome:
        yield TableChange("MODIFY", {**claimed, "outcome": str(outcome)}, claimed)
        yield TableChange("INSERT", {**claimed, "outcome": str(outcome)}, None)  # a run's first: written at its end
        yield TableChange("MODIFY", {**requested, "outcome": str(outcome)}, requested)  # never started
        yield TableChange("INSERT", {**requested, "outcome": str(outcome)}, None)  # a first, ended unclaimed
    yield TableChange("INSERT", {**requested, "replacedBy": "e1"}, None)  # a first a reschedule replaced
    flow = {"entity": "flow", "version": 1}
    yield TableChange("INSERT", flow, None)
    yield TableChange("MODIFY", {**flow, "version": 2}, flow)
    yield TableChange("MODIFY", {**flow, "deletedAt": "2026-01-01T00:00:00Z"}, flow)


def test_every_entity_a_reaction_is_registered_for_is_enumerated() -> None:
    assert set(ROUTER.routes) == {c.entity for c in changes()}


def change_id(change: TableChange) -> str:
    return f"{change.entity}:{change.event}:{change.old and change.old.get('status')}"


@pytest.mark.parametrize("change", list(changes()), ids=change_id)
def test_every_change_a_reaction_acts_on_passes_the_filter(change: TableChange) -> None:
    if reacted_on(change):
        assert passes(change), (reacted_on(change), change)


@pytest.mark.parametrize(
    "change",
    [
        TableChange("INSERT", {"entity": "step", "status": "running"}, None),  # a step's claim
        TableChange("MODIFY", {"entity": "step", "status": "completed"}, {"entity": "step", "status": "running"}),
        TableChange("INSERT", {"entity": "step", "status": "completed"}, None),  # an inline node's step
        TableChange("INSERT", {"entity": "trigger"}, None),
        TableChange("INSERT", {"entity": "webhookSignature"}, None),
        TableChange("INSERT", {"entity": "attempt", "status": "failed"}, None),
        TableChange(
            "MODIFY",
            {"entity": "run", "status": "completed", "startedAt": "2026-01-01T00:00:00Z"},
            {"entity": "run", "status": "running", "startedAt": "2026-01-01T00:00:00Z"},
        ),
        TableChange(
            "MODIFY",
            {"entity": "execution", "name": "e0", "arn": "arn:e0", "startedAt": "2026-01-01T00:00:00Z"},
            {"entity": "execution", "name": "e0"},
        ),
        # history retention (TTL) deleting what was left as it was
        TableChange("REMOVE", None, {"entity": "run", "status": "interrupted", "currentExecution": "e0"}),
        TableChange("REMOVE", None, {"entity": "step", "status": "retrying"}),
    ],
    ids=[
        "step claimed",
        "step completed",
        "inline step",
        "trigger",
        "signature",
        "attempt",
        "run ended",
        "execution started",
        "interrupted run expired",
        "retrying step expired",
    ],
)
def test_what_no_reaction_acts_on_is_dropped_before_it_costs_an_invocation(change: TableChange) -> None:
    assert not reacted_on(change) and not passes(change)


def test_the_local_stack_can_match_every_pattern_exactly() -> None:
    for pattern in stream_filters():
        event_patterns.check(pattern)


@pytest.mark.parametrize(("trigger_kind", "due_later"), [("webhook", False), ("webhook", True), ("schedule", False)])
def test_a_run_that_starts_wakes_the_function_only_when_its_reaction_has_something_to_do(
    trigger_kind: str, due_later: bool
) -> None:
    # Given a waiting run as the repository records it
    created = "2026-03-02T09:00:00.000Z"
    run = Run(
        run_id="run_1",
        account_id="acct_1",
        flow_id="flow_1",
        flow_version=1,
        trigger_id="trg_1",
        trigger_kind=trigger_kind,
        status=RunStatus.SCHEDULED,
        created_at=created,
        scheduled_for="2026-03-03T09:00:00.000Z" if due_later else created,
        current_execution="run_1",
    )
    waiting = DynamoRepository("table", client=None).new_run_item(run)
    # When it starts (what it carried only while waiting goes)
    left = {k: v for k, v in waiting.items() if k not in keys.WHILE_SCHEDULED_ATTRIBUTES}
    started = left | {"status": "running", "startedAt": "2026-03-03T09:00:01.000Z"}
    change = TableChange("MODIFY", started, waiting)
    # Then the function is woken for it exactly when its reaction has a schedule or a flow to look at
    deps = Recorded()
    follow_run_leaving_waiting(change, ReactionDeps(store=deps, workflows=None, schedules=deps))  # type: ignore[arg-type]
    assert passes(change) == bool(deps.asked) == run.follows_up_when_leaving_scheduled, deps.asked


class Recorded:
    """Schedules and a store that have nothing, and remember what they were asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def delete(self, *, name: str) -> bool:
        self.asked.append(f"delete schedule {name}")
        return False

    def get_flow(self, flow_id: str) -> None:
        self.asked.append(f"get flow {flow_id}")
