"""The real ASL file executing in the local stack's Step Functions: the paths runs take."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.statemachine.test_asl import ASL_PATH
from tests.support.stack_client import StackClient

pytestmark = pytest.mark.e2e


def sfn(stack: StackClient) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def execution_of(stack: StackClient, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = sfn(stack)
    (machine,) = client.list_state_machines()["stateMachines"]
    arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{run_id}"
    return client.describe_execution(executionArn=arn), client.get_execution_history(executionArn=arn)["events"]


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_the_machine_running_is_the_asl_file_with_its_substitutions(stack: StackClient) -> None:
    client = sfn(stack)
    (machine,) = client.list_state_machines()["stateMachines"]
    deployed = json.loads(client.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    source = json.loads(ASL_PATH.read_text())
    for name, state in source["States"].items():
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"].startswith("${")
            state["Parameters"]["FunctionName"] = deployed["States"][name]["Parameters"]["FunctionName"]
    assert deployed == source


def test_a_transient_failure_is_retried_by_the_state_machine_then_succeeds(stack: StackClient, target) -> None:
    url = target.script("/sm/flaky", 503, 200)
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": url}])
    run_id = stack.trigger(flow, {})
    stack.wait_for_run(run_id)
    execution, events = execution_of(stack, run_id)
    assert execution["status"] == "SUCCEEDED"
    assert entered(events) == [
        "StartRun",
        "NextNode",
        "HttpRequest",
        "NextNode",
        "EndRun",
        "DidAStepFail",
        "RunCompleted",
    ]
    failures = [e for e in events if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["TransientError"]


def test_a_permanent_failure_fails_the_step_and_the_run_while_the_execution_succeeds(
    stack: StackClient, target
) -> None:
    url = target.script("/sm/forbidden", 403)
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": url}])
    run_id = stack.trigger(flow, {})
    stack.wait_for_run(run_id)
    execution, events = execution_of(stack, run_id)
    assert entered(events) == [
        "StartRun",
        "NextNode",
        "HttpRequest",
        "StepFailed",
        "NextNode",
        "EndRun",
        "DidAStepFail",
        "RunFailedAtAStep",
    ]
    # the engine did its job: only engine defects fail an execution (so alarms on them stay quiet)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["failedSteps"] == ["call"]
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "AuthenticationError"
    ]
