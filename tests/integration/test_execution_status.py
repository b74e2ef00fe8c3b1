"""ExecutionStatusFunction on moto: Step Functions' status-change events (events/execution_status_*.json)
record how an execution ended, and the stream's reaction makes its run ``interrupted``."""

from __future__ import annotations

import copy
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository, _deserialize
from automations.adapters.scheduler import get_schedules
from automations.domain.runs import Run
from automations.logic.change_router import TableChange
from automations.logic.reactions import ROUTER, ReactionDeps
from tests.conftest import TABLE, load_event
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run
from tests.support.fakes import RecordingWorkflows

RUN_ID = DEMO_RUN_ID


def event(**detail: Any) -> dict[str, Any]:
    """events/execution_status_aborted.json, with ``detail`` changed."""
    sample = copy.deepcopy(load_event("execution_status_aborted.json"))
    sample["detail"].update(detail)
    return sample


def execution_item(name: str = RUN_ID) -> dict[str, Any]:
    raw = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={k: {"S": v} for k, v in keys.execution(RUN_ID, name).items()}
    )
    return _deserialize(raw["Item"])


@pytest.fixture
def status_function(handler_of, lambda_context):
    handler = handler_of("ExecutionStatusFunction")
    return lambda change: handler(change, lambda_context)


@pytest.fixture
def waiting_run(repo: DynamoRepository, handler_of, lambda_context) -> Run:
    """The demo run, started by its execution and waiting in a day-long delay (its step `running`)."""
    run = seed_demo_run(repo, [{"id": "wait_a_day", "type": "delay", "seconds": 86400}], {"email": "ada@example.com"})
    started = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    assert started["node"]["id"] == "wait_a_day"
    waiting = handler_of("ComputeNodeFunction")({"runId": RUN_ID, "stepNumber": 1, "nodeId": "wait_a_day"}, lambda_context)
    assert "wait" in waiting
    return run


def test_an_aborted_execution_is_recorded_and_its_run_and_step_become_interrupted(
    repo: DynamoRepository, status_function, waiting_run: Run
) -> None:
    # Given the run's execution waits in its delay
    before = execution_item()
    # When Step Functions reports it ABORTED (the sample event: stopped in the console)
    result = status_function(load_event("execution_status_aborted.json"))
    # Then the end is recorded on the execution, as the platform's (resumable) doing
    assert result == {"runId": RUN_ID, "execution": RUN_ID, "status": "ABORTED", "recorded": True}
    after = execution_item()
    assert after["outcome"] == "aborted" and after["endedAt"]
    assert after["error"]["type"] == "ExecutionAborted" and after["error"]["retryable"] is True
    # And when the stream delivers that change, the run and its step in flight are interrupted
    deps = ReactionDeps(store=repo, workflows=RecordingWorkflows(), schedules=get_schedules())
    assert ROUTER.route(TableChange(event="MODIFY", new=after, old=before), deps)
    detail = repo.get_run_detail(RUN_ID)
    assert detail.run.status == "interrupted"
    assert [(s.node_id, s.status) for s in detail.steps] == [("wait_a_day", "interrupted")]


def test_the_cause_given_to_stop_execution_is_the_recorded_message(status_function, waiting_run: Run) -> None:
    status_function(event(error="Stopped", cause="the run was cancelled by an operator"))
    assert execution_item()["error"]["message"] == "the run was cancelled by an operator"


def test_a_redelivered_event_records_nothing_more(status_function, waiting_run: Run) -> None:
    assert status_function(load_event("execution_status_aborted.json"))["recorded"] is True
    first = execution_item()
    # EventBridge delivers at least once: the same event again
    assert status_function(load_event("execution_status_aborted.json"))["recorded"] is False
    assert execution_item() == first


def test_a_succeeded_execution_changes_nothing(status_function, waiting_run: Run) -> None:
    before = execution_item()
    assert status_function(event(status="SUCCEEDED", output='{"runId":"x"}'))["recorded"] is False
    assert execution_item() == before


def test_an_execution_whose_end_the_interpreter_recorded_stays_as_recorded(
    handler_of, lambda_context, status_function, waiting_run: Run
) -> None:
    # Given the interpreter reached its end (EndRun recorded it)
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_end.json"), lambda_context)
    assert execution_item()["outcome"] == "reached_end"
    # When Step Functions then reports the execution FAILED (say, a late platform failure)
    assert status_function(event(status="FAILED", error="States.Runtime", cause="x"))["recorded"] is False
    # Then the interpreter's own word stands
    assert execution_item()["outcome"] == "reached_end"


def test_without_its_input_the_run_is_found_by_the_executions_name(status_function, waiting_run: Run) -> None:
    # An event whose payload was too large leaves the input out
    left_out = {"input": None, "inputDetails": {"included": False}}
    assert status_function(event(**left_out))["recorded"] is True  # `<runId>`
    later = status_function(event(name=f"{RUN_ID}-r2", **left_out))  # `<runId>-r<n>`, never recorded here
    assert (later["runId"], later["recorded"]) == (RUN_ID, False)
