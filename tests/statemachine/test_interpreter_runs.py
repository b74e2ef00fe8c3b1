"""The real ASL file executing in the local stack's Step Functions: the paths runs take."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.statemachine.test_asl import ASL_PATH, EXPRESS_PATH
from tests.support.stack_client import StackClient

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions: every run runs there."""
    return standard_stack


def sfn(stack: StackClient) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def standard_machine(client: Any) -> dict[str, Any]:
    machines = client.list_state_machines()["stateMachines"]
    return next(m for m in machines if m["name"].endswith("-FlowInterpreter"))


def execution_of(stack: StackClient, run_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Standard execution named ``run_id`` (a ``standard_stack``'s): described, and its history."""
    client = sfn(stack)
    arn = standard_machine(client)["stateMachineArn"].replace(":stateMachine:", ":execution:") + f":{run_id}"
    return client.describe_execution(executionArn=arn), client.get_execution_history(executionArn=arn)["events"]


def entered(events: list[dict[str, Any]]) -> list[str]:
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


@pytest.mark.parametrize(
    ("suffix", "path"), [("-FlowInterpreter", ASL_PATH), ("-FlowInterpreterExpress", EXPRESS_PATH)]
)
def test_the_machines_running_are_the_asl_files_with_their_substitutions(stack: StackClient, suffix, path) -> None:
    client = sfn(stack)
    (machine,) = [m for m in client.list_state_machines()["stateMachines"] if m["name"].endswith(suffix)]
    described = client.describe_state_machine(stateMachineArn=machine["stateMachineArn"])
    deployed = json.loads(described["definition"])
    source = json.loads(path.read_text())
    for name, state in source["States"].items():
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"].startswith("${")
            state["Parameters"]["FunctionName"] = deployed["States"][name]["Parameters"]["FunctionName"]
    assert deployed == source
    assert described["type"] == ("EXPRESS" if path == EXPRESS_PATH else "STANDARD")


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
    ]
    # the engine did its job: only engine defects fail an execution (so alarms on them stay quiet)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["failedSteps"] == ["call"]
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "AuthenticationError"
    ]


def test_pure_nodes_run_inline_so_a_run_costs_two_transitions_per_node_that_calls_out_plus_three(
    stack: StackClient, target
) -> None:
    # Given http_request -> condition -> set -> http_request (two nodes that call out, two pure ones)
    first, last = target.script("/sm/inline-first", 200), target.script("/sm/inline-last", 200)
    flow = stack.create_flow(
        [
            {"id": "fetch", "type": "http_request", "url": first},
            {
                "id": "check",
                "type": "condition",
                "if": "steps.fetch.output.status == 200",
                "then": "note",
                "else": "note",
            },
            {"id": "note", "type": "set", "values": {"seen": "{{ steps.fetch.output.status }}"}},
            {"id": "tell", "type": "http_request", "method": "POST", "url": last, "body": {"seen": "{{ vars.seen }}"}},
        ]
    )
    # When a run goes through
    run_id = stack.trigger(flow, {})
    run = stack.wait_for_run(run_id)
    execution, events = execution_of(stack, run_id)
    # Then no state ran the pure nodes: 2N+3 transitions for N = 2 nodes that call out
    assert entered(events) == ["StartRun", "NextNode", "HttpRequest", "NextNode", "HttpRequest", "NextNode", "EndRun"]
    assert execution["status"] == "SUCCEEDED" and run["status"] == "completed"
    # and each pure node is still a step of its own, in order, with its input, output and one attempt
    steps = {s["nodeId"]: s for s in run["steps"]}
    assert [s["nodeId"] for s in sorted(run["steps"], key=lambda s: s["stepNumber"])] == [
        "fetch",
        "check",
        "note",
        "tell",
    ]
    assert steps["check"]["output"] == {"result": True, "next": "note"}
    assert (steps["note"]["input"], steps["note"]["output"]) == ({"values": {"seen": 200}}, {"seen": 200})
    assert [a["status"] for a in steps["note"]["attempts"]] == ["completed"]
    assert [s["status"] for s in steps.values()] == ["completed"] * 4
