"""The one recording path: a run that starts at a later node, reusing steps carried over."""

from __future__ import annotations

import json

import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.attributes import from_item, to_item
from automations.domain import clock
from automations.domain.runs import ExecutionOutcome, Machine, Step
from automations.domain.status import StepStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import ValidationFailed
from automations.logic import ended_executions
from automations.logic.history import owned_run_detail
from automations.logic.recording import RunPlan, record_runs
from automations.ports import ExecutionEnd, TransitionRejected
from tests.conftest import EXPRESS_MACHINE, load_event
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


# --- a run's first execution: requested by the run ------------------------------------------------


def raw_execution(repo, run_id: str, name: str) -> dict | None:
    found = repo.client.get_item(TableName=repo.table, Key=to_item(keys.execution(run_id, name)))
    return from_item(found["Item"]) if "Item" in found else None


def test_a_run_recorded_requests_its_first_execution_which_its_start_claims_and_its_end_writes(repo, flow) -> None:
    # Given a run just recorded (by a function that knows the Express machine's ARN: `aws_env`)
    (run_id,) = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow)]).run_ids
    run = repo.get_run(run_id)
    # Then its first execution has no item of its own, yet every read finds it requested, due with the run
    assert raw_execution(repo, run_id, run_id) is None
    requested = repo.get_execution(run_id, run_id)
    assert (requested.ordinal, requested.due_at, requested.requested_at) == (0, run.scheduled_for, run.created_at)
    assert requested.started_at is None and requested.machine == Machine.EXPRESS
    assert repo.get_run_and_execution(run_id, run_id)[1] == requested
    assert repo.get_run_detail(run_id).executions == [requested]
    # When it starts on Express, its start is retried, and a second execution of the name starts too
    arn = f"arn:aws:states:us-east-1:123456789012:express:{EXPRESS_MACHINE}:{run_id}:8c1d-one"
    at = clock.iso(clock.now())
    started = repo.start_execution(run_id=run_id, name=run_id, arn=arn, at=at, check_after=run.created_at)
    assert repo.start_execution(run_id=run_id, name=run_id, arn=arn, at=at, check_after=run.created_at) == started
    other = arn.replace("8c1d-one", "8c1d-two")  # Express does not dedupe names: the same name, another id
    with pytest.raises(TransitionRejected):
        repo.start_execution(run_id=run_id, name=run_id, arn=other, at=at, check_after=run.created_at)
    # Then the run's start claimed it, for the first ARN only (the run keeps its id, the ARN's last part):
    # still no item, every read finds it started, its ARN rebuilt from its machine's
    assert raw_execution(repo, run_id, run_id) is None
    assert repo.get_run(run_id).first_execution_id == "8c1d-one"
    running = repo.get_execution(run_id, run_id)
    assert (running.arn, running.machine, running.started_at) == (arn, Machine.EXPRESS, at)
    assert repo.get_run_detail(run_id).executions == [running]
    # When the other ARN's end comes, then its own
    ending = ExecutionEnd(outcome=ExecutionOutcome.REACHED_END, ended_at=clock.iso(clock.now()))
    assert not repo.end_execution(run_id=run_id, name=run_id, end=ending, arn=other)
    assert raw_execution(repo, run_id, run_id) is None
    assert repo.end_execution(run_id=run_id, name=run_id, end=ending, arn=arn)
    # Then its end wrote its item whole: what the run requested, who started it, how it ended; once
    ended = raw_execution(repo, run_id, run_id)
    assert (ended["entity"], ended["dueAt"], ended["arn"], ended["machine"], ended["startedAt"]) == (
        "execution",
        run.scheduled_for,
        arn,
        "express",
        at,
    )
    assert (ended["outcome"], ended["ordinal"]) == ("reached_end", 0) and "expiresAt" in ended
    assert not repo.end_execution(run_id=run_id, name=run_id, end=ending, arn=arn)


def test_a_run_started_before_runs_held_the_claim_goes_on_under_its_execution_items_claim(repo, flow) -> None:
    # Given a run started as engines before this one did: its first execution's item claimed by the
    # ARN, the run holding no claim of its own
    (run_id,) = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow)]).run_ids
    arn = f"arn:aws:states:us-east-1:123456789012:express:{EXPRESS_MACHINE}:{run_id}:7a0e"
    at = clock.iso(clock.now())
    repo.start_execution(run_id=run_id, name=run_id, arn=arn, at=at, check_after=at)
    claimed = {**keys.execution(run_id, run_id), "entity": "execution", **repo.get_execution(run_id, run_id).dump()}
    repo.client.put_item(TableName=repo.table, Item=to_item(claimed))
    repo.client.update_item(
        TableName=repo.table, Key=to_item(keys.run(run_id)), UpdateExpression="REMOVE firstExecutionId"
    )
    # When its start is retried, and another execution of the name starts and ends
    assert repo.start_execution(run_id=run_id, name=run_id, arn=arn, at=at, check_after=at).status == "running"
    other = arn.replace(":7a0e", ":9b1f")
    with pytest.raises(TransitionRejected):
        repo.start_execution(run_id=run_id, name=run_id, arn=other, at=at, check_after=at)
    ending = ExecutionEnd(outcome=ExecutionOutcome.REACHED_END, ended_at=clock.iso(clock.now()))
    assert not repo.end_execution(run_id=run_id, name=run_id, end=ending, arn=other)
    # Then only its own end is recorded, on its item
    assert repo.end_execution(run_id=run_id, name=run_id, end=ending, arn=arn)
    ended = raw_execution(repo, run_id, run_id)
    assert (ended["arn"], ended["outcome"], ended["startedAt"]) == (arn, "reached_end", at)


def test_a_first_execution_that_ends_before_its_claim_is_recorded_ended(repo, flow) -> None:
    # Given a run whose first execution was stopped before its first task claimed it
    (run_id,) = record_runs(repo, manual_trigger(flow), [RunPlan(flow=flow)]).run_ids
    # When Step Functions reports it ended
    assert ended_executions.execution_ended(repo, run_id=run_id, name=run_id, status="ABORTED", cause="stopped")
    # Then its item is written, ended, for the stream to interrupt the run; a second report changes nothing
    ended = raw_execution(repo, run_id, run_id)
    assert (ended["outcome"], ended["error"]["message"], ended["dueAt"]) == (
        "aborted",
        "stopped",
        repo.get_run(run_id).scheduled_for,
    )
    assert not ended_executions.execution_ended(repo, run_id=run_id, name=run_id, status="ABORTED")
    # and an execution that is not a run's first is never made up
    assert not ended_executions.execution_ended(repo, run_id=run_id, name=f"{run_id}-r1", status="ABORTED")
    assert raw_execution(repo, run_id, f"{run_id}-r1") is None
