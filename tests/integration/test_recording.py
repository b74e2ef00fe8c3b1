"""The one recording path: a run that starts at a later node, reusing steps carried over."""

from __future__ import annotations

import json

import pytest

from automations.domain import clock
from automations.domain.runs import Step
from automations.domain.status import StepStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import ValidationFailed
from automations.logic.history import owned_run_detail
from automations.logic.recording import RunPlan, record_runs
from tests.conftest import load_event
from tests.integration.conftest import DEMO_FLOW_ID, seed_demo_run


@pytest.fixture
def flow(repo, target):
    """The demo flow with two nodes: fetch a contact, then notify with its id."""
    seed_demo_run(
        repo,
        [
            {"id": "fetch", "type": "http_request", "url": target.script("/recording/fetch", (200, {"id": 1}))},
            {
                "id": "notify",
                "type": "http_request",
                "method": "POST",
                "url": target.script("/recording/notify", 200),
                "body": {"contact": "{{ steps.fetch.output.body.id }}", "email": "{{ trigger.body.email }}"},
            },
        ],
        {},
    )
    return repo.get_flow(DEMO_FLOW_ID)


def manual_trigger(flow) -> TriggerEvent:
    return TriggerEvent(
        trigger_id="trg_recording_test",
        account_id=flow.account_id,
        kind="manual",
        flow_id=flow.flow_id,
        received_at=clock.iso(clock.now()),
        body={"email": "ada@example.com"},
    )


def test_a_run_recorded_at_a_later_node_starts_there_with_the_carried_outputs(
    handler_of, lambda_context, repo, flow, target
) -> None:
    # Given a completed `fetch` step carried over from an earlier run
    carried = Step(
        run_id="run_earlier",
        node_id="fetch",
        node_type="http_request",
        step_number=1,
        status=StepStatus.COMPLETED,
        started_at=clock.iso(clock.now()),
        output={"status": 200, "body": {"id": 42}},
    )
    # When a run is recorded to start at `notify`
    recorded = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow, start_at="notify", carried_steps=[carried])])
    (run_id,) = recorded.run_ids
    # Then its first execution starts at `notify`, numbered after the carried step
    detail = owned_run_detail(repo, flow.account_id, run_id)
    (execution,) = detail.executions
    assert (execution.name, execution.start_at, execution.first_step_number) == (run_id, "notify", 2)
    assert [(s.node_id, s.run_id, s.status, s.output) for s in detail.steps] == [
        ("fetch", run_id, "completed", carried.output),
        ("notify", run_id, "scheduled", None),  # next in line: the node it starts at
    ]
    start = {**load_event("run_lifecycle_start.json"), "runId": run_id, "executionName": run_id}
    state = handler_of("RunLifecycleFunction")(start, lambda_context)
    assert state["node"]["id"] == "notify" and state["stepNumber"] == 2
    # And the node resolves the carried output; the carried node never runs again
    task = {"runId": run_id, "stepNumber": 2, "nodeId": "notify"}
    handler_of("HttpRequestFunction")(task, lambda_context)
    assert json.loads(target.calls("/recording/notify")[-1]["body"]) == {"contact": 42, "email": "ada@example.com"}
    assert target.calls("/recording/fetch") == []


def test_a_start_node_the_flow_does_not_have_records_nothing(repo, flow) -> None:
    with pytest.raises(ValidationFailed, match="no node 'nowhere'"):
        record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow, start_at="nowhere")])
    assert repo.get_trigger("trg_recording_test") is None


def test_one_trigger_records_every_planned_run_in_one_transaction(repo, flow) -> None:
    recorded = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow), RunPlan(flow=flow)])
    assert len(set(recorded.run_ids)) == 2
    assert repo.get_trigger("trg_recording_test").run_ids == recorded.run_ids
    again = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow)])
    assert again.replayed and again.run_ids == recorded.run_ids
