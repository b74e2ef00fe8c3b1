"""The state machine's Lambda tasks and the stream handler, driven by events/*.json on moto."""

from __future__ import annotations

import copy
import json
import os
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.dynamo.stream_batch import EveryRecordFailed
from automations.domain import clock
from automations.domain.runs import Run
from automations.domain.status import RunStatus
from automations.logic import lifecycle
from automations.observability import Metric
from tests.conftest import load_event
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run

RUN_ID = DEMO_RUN_ID


@pytest.fixture
def demo_run(repo: DynamoRepository, target) -> Run:
    """The flow, trigger and scheduled run that the sample events refer to; the node calls ``target``."""
    nodes = json.loads(load_event("api_create_flow.json")["body"])["nodes"]
    nodes[0]["url"] = target.script("/tasks/notify", (200, {"id": 1}))
    return seed_demo_run(repo, nodes, {"email": "ada@example.com"})


def raw_run_item() -> dict[str, Any]:
    return boto3.client("dynamodb").get_item(
        TableName="automations-test", Key={"pk": {"S": f"RUN#{RUN_ID}"}, "sk": {"S": "RUN"}}
    )["Item"]


def test_start_marks_the_run_running_and_points_at_the_first_node(handler_of, lambda_context, repo, demo_run) -> None:
    state = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    assert state == {
        "runId": RUN_ID,
        "stepNumber": 1,
        "node": {"id": "notify", "type": "http_request", "task": "HttpRequest"},
    }
    assert repo.get_run(RUN_ID).status == RunStatus.RUNNING
    assert "overduePk" not in raw_run_item()  # no longer a candidate for the overdue view


def test_start_of_a_cancelled_run_goes_straight_to_the_end(handler_of, lambda_context, repo, demo_run) -> None:
    assert repo.transition_run(RUN_ID, RunStatus.CANCELLED)
    state = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    assert state["node"] == {"type": "end", "task": "EndRun"}
    assert repo.get_run(RUN_ID).status == RunStatus.CANCELLED


def test_the_http_node_runs_one_attempt_and_returns_the_next_state(
    handler_of, lambda_context, repo, demo_run, target
) -> None:
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    state = handler_of("HttpRequestFunction")(load_event("http_request_node.json"), lambda_context)
    assert state == {"runId": RUN_ID, "stepNumber": 2, "node": {"type": "end", "task": "EndRun"}}
    detail = repo.get_run_detail(RUN_ID)
    (step,) = detail.steps
    assert step.status == "completed" and step.output["body"] == {"id": 1}
    assert step.input["body"] == {"email": "ada@example.com", "source": "signup"}
    assert [a.status for a in detail.attempts] == ["completed"]
    assert json.loads(target.calls("/tasks/notify")[-1]["body"])["email"] == "ada@example.com"


def test_a_failing_http_node_raises_its_error_class_for_the_state_machine(
    handler_of, lambda_context, repo, demo_run, target
) -> None:
    target.script("/tasks/notify", 503)
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    with pytest.raises(Exception) as raised:
        handler_of("HttpRequestFunction")(load_event("http_request_node.json"), lambda_context)
    assert type(raised.value).__name__ == "TransientError"
    (step,) = repo.get_run_detail(RUN_ID).steps
    assert step.status == "retrying" and step.error.type == "TransientError"


def test_step_failed_fails_the_step_and_ends_the_run(handler_of, lambda_context, repo, demo_run) -> None:
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    state = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_step_failed.json"), lambda_context)
    assert state["node"] == {"type": "end", "task": "EndRun"}
    (step,) = repo.get_run_detail(RUN_ID).steps
    assert step.status == "failed"
    assert (step.error.type, step.error.message) == (
        "AuthenticationError",
        "POST https://crm.example.com/api/contacts answered 401 Unauthorized",
    )
    finished = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_end.json"), lambda_context)
    assert finished == {"runId": RUN_ID, "failed": True, "failedSteps": ["notify"]}
    assert repo.get_execution(RUN_ID, RUN_ID).outcome == "reached_end"


@pytest.fixture
def state_machine(repo) -> str:
    """A recorded (not executed) state machine at the STATE_MACHINE_ARN of the test environment."""
    arn = boto3.client("stepfunctions").create_state_machine(
        name="interpreter",
        definition=json.dumps({"StartAt": "S", "States": {"S": {"Type": "Succeed"}}}),
        roleArn="arn:aws:iam::123456789012:role/x",
    )["stateMachineArn"]
    assert arn == os.environ["STATE_MACHINE_ARN"]
    return arn


def test_a_new_due_run_starts_one_execution_named_after_it(handler_of, lambda_context, demo_run, state_machine) -> None:
    stream = handler_of("StreamFunction")
    event = load_event("stream_run_recorded.json")
    assert stream(event, lambda_context) == {"batchItemFailures": []}
    assert stream(copy.deepcopy(event), lambda_context) == {"batchItemFailures": []}  # redelivered: harmless
    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=state_machine)["executions"]
    assert [e["name"] for e in executions] == [RUN_ID]


def test_a_retrying_step_rolls_the_run_up_to_retrying(
    handler_of, lambda_context, repo, demo_run, state_machine
) -> None:
    repo.start_execution(
        run_id=RUN_ID, name=RUN_ID, arn=None, at=clock.iso(clock.now()), check_after=clock.iso(clock.now())
    )
    assert handler_of("StreamFunction")(load_event("stream_step_retrying.json"), lambda_context) == {
        "batchItemFailures": []
    }
    run = repo.get_run(RUN_ID)
    assert run.status == RunStatus.RETRYING
    assert [h.status for h in run.history] == ["scheduled", "running", "retrying"]


def test_only_the_record_that_failed_is_reported_for_retry(handler_of, lambda_context, demo_run) -> None:
    # Given a batch whose run record cannot be dispatched (no state machine exists here)
    ok = load_event("stream_step_retrying.json")["Records"][0]
    failing = load_event("stream_run_recorded.json")["Records"][0]
    # When the stream handler processes it
    result = handler_of("StreamFunction")({"Records": [ok, failing]}, lambda_context)
    # Then only the failed record's sequence number comes back, for the event source mapping to retry
    assert result == {"batchItemFailures": [{"itemIdentifier": failing["dynamodb"]["SequenceNumber"]}]}


def test_a_batch_that_failed_whole_fails_the_invocation_to_be_retried_and_bisected(
    handler_of, lambda_context, demo_run
) -> None:
    # Given a batch of one record that cannot be dispatched (no state machine exists here)
    failing = load_event("stream_run_recorded.json")
    # When the stream handler processes it, Then the invocation fails (BisectBatchOnFunctionError applies)
    with pytest.raises(EveryRecordFailed):
        handler_of("StreamFunction")(failing, lambda_context)


def test_a_retried_start_of_the_same_execution_records_nothing_twice(
    handler_of, lambda_context, repo, demo_run
) -> None:
    start = handler_of("RunLifecycleFunction")
    first = start(load_event("run_lifecycle_start.json"), lambda_context)
    again = start(load_event("run_lifecycle_start.json"), lambda_context)
    assert first == again
    assert [h.status for h in repo.get_run(RUN_ID).history] == ["scheduled", "running"]
    other = {**load_event("run_lifecycle_start.json"), "executionName": "someone-else"}
    assert start(other, lambda_context)["node"] == {
        "type": "end",
        "task": "EndRun",
    }  # another execution cannot take it over


def test_an_engine_error_is_counted_apart_from_step_failures_and_ends_the_execution(
    handler_of, lambda_context, repo, demo_run, monkeypatch
) -> None:
    # Given a started run, and the metrics the lifecycle counts
    counted: list[Metric] = []
    monkeypatch.setattr(lifecycle, "count", lambda metric, *_, **__: counted.append(metric))
    lifecycle_task = handler_of("RunLifecycleFunction")
    lifecycle_task(load_event("run_lifecycle_start.json"), lambda_context)
    # When a step fails (the customer's problem), nothing is counted as an engine error
    lifecycle_task(load_event("run_lifecycle_step_failed.json"), lambda_context)
    assert Metric.ENGINE_ERRORS not in counted
    # When the interpreter breaks at a node (our problem)
    lifecycle_task(load_event("run_lifecycle_engine_error.json"), lambda_context)
    # Then it is counted as an engine error, the step in flight records why, and the execution's end says so
    assert counted.count(Metric.ENGINE_ERRORS) == 1
    execution = repo.get_execution(RUN_ID, RUN_ID)
    assert execution.outcome == "engine_error" and execution.error.type == "KeyError"
    assert execution.error.message == "'contacts'"
