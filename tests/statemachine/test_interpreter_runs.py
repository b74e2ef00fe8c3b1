"""The real ASL file executing in the local stack's Step Functions: the paths runs take."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.statemachine.test_asl import ASL_PATH
from tests.support.engine import Engine

pytestmark = pytest.mark.e2e


def sfn(engine: Engine) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=engine.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def execution_of(engine: Engine, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = sfn(engine)
    (machine,) = client.list_state_machines()["stateMachines"]
    arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{run_id}"
    return client.describe_execution(executionArn=arn), client.get_execution_history(executionArn=arn)["events"]


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_the_machine_running_is_the_asl_file_with_its_substitutions(engine: Engine) -> None:
    client = sfn(engine)
    (machine,) = client.list_state_machines()["stateMachines"]
    deployed = json.loads(client.describe_state_machine(stateMachineArn=machine["stateMachineArn"])["definition"])
    source = json.loads(ASL_PATH.read_text())
    for name, state in source["States"].items():
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"].startswith("${")
            state["Parameters"]["FunctionName"] = deployed["States"][name]["Parameters"]["FunctionName"]
    assert deployed == source


def test_a_transient_failure_is_retried_by_the_state_machine_then_succeeds(engine: Engine, target) -> None:
    url = target.script("/sm/flaky", 503, 200)
    flow = engine.create_flow([{"id": "call", "type": "http_request", "url": url}])
    run_id = engine.trigger(flow, {})
    engine.wait_for_run(run_id)
    execution, events = execution_of(engine, run_id)
    assert execution["status"] == "SUCCEEDED"
    assert entered(events) == [
        "StartRun",
        "NextNode",
        "HttpRequest",
        "NextNode",
        "FinishRun",
        "DidAStepFail",
        "RunCompleted",
    ]
    failures = [e for e in events if e["type"] == "TaskFailed"]
    assert [f["taskFailedEventDetails"]["error"] for f in failures] == ["TransientError"]


def test_a_permanent_failure_is_caught_and_the_execution_fails_visibly(engine: Engine, target) -> None:
    url = target.script("/sm/forbidden", 403)
    flow = engine.create_flow([{"id": "call", "type": "http_request", "url": url}])
    run_id = engine.trigger(flow, {})
    engine.wait_for_run(run_id)
    execution, events = execution_of(engine, run_id)
    assert entered(events) == [
        "StartRun",
        "NextNode",
        "HttpRequest",
        "StepFailed",
        "NextNode",
        "FinishRun",
        "DidAStepFail",
        "RunFailed",
    ]
    assert execution["status"] == "FAILED" and execution["error"] == "StepFailed"
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "AuthenticationError"
    ]
