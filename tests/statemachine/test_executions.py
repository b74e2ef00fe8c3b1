"""A run apart from its executions, on the real state machine: a second execution continues a
run at a later node, with the outputs its earlier steps recorded.

The test plays the parts that later features will play (an operator's resume; Step Functions'
execution status-change event): it calls the engine's logic against the local stack's AWS
services, and the local stack does the rest (the stream starts the requested execution).
"""

from __future__ import annotations

import json

import boto3
import pytest
import requests

from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.stepfunctions import StepFunctionsWorkflows
from automations.errors import Conflict
from automations.logic import ended_executions, executions
from tests.statemachine.test_interpreter_runs import execution_of, sfn, standard_machine
from tests.support.stack_client import StackClient, statuses, step_of, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions (states, retries, stops): every run runs there."""
    return standard_stack


def waiting_at(stack: StackClient, run_id: str, node_id: str) -> bool:
    """The run's step at ``node_id`` is running and knows when it wakes up (it is in the Wait state)."""
    return any(s["nodeId"] == node_id and s.get("wakeAt") for s in stack.run(run_id)["steps"])


@pytest.fixture
def store(stack: StackClient) -> DynamoRepository:
    """The engine's data access, on the local stack's table."""
    table = requests.get(f"{stack.url}/_local/health", timeout=5).json()["table"]
    client = boto3.client(
        "dynamodb",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    return DynamoRepository(table, client)


@pytest.fixture
def workflows(stack: StackClient) -> StepFunctionsWorkflows:
    client = sfn(stack)
    standard = standard_machine(client)["stateMachineArn"]
    return StepFunctionsWorkflows(client, lambda machine: standard)


def test_a_second_execution_continues_the_run_at_a_later_node_with_earlier_outputs(
    stack: StackClient, target, store: DynamoRepository, workflows: StepFunctionsWorkflows
) -> None:
    # Given a run that fetched a contact and is now waiting in a long delay
    fetch = target.script("/executions/fetch", (200, {"id": 7}))
    report = target.script("/executions/report", 200)
    flow = stack.create_flow(
        [
            {"id": "fetch", "type": "http_request", "url": fetch},
            {"id": "pause", "type": "delay", "seconds": 120},
            {
                "id": "report",
                "type": "http_request",
                "method": "POST",
                "url": report,
                "body": {"contact": "{{ steps.fetch.output.body.id }}"},
            },
        ]
    )
    run_id = stack.trigger(flow, {})
    wait_for(lambda: waiting_at(stack, run_id, "pause"), timeout=20, what="the delay to wait")
    # When its execution is stopped behind the engine's back (the stack reports it as Step Functions'
    # status-change event would)
    assert workflows.stop(name=run_id, cause="the platform restarted")
    assert execution_of(stack, run_id)[0]["status"] == "ABORTED"
    # Then the run and its step in flight are interrupted (resumable), and nothing was recorded twice
    interrupted = stack.wait_for_run(run_id, ("interrupted",))
    assert step_of(interrupted, "pause")["status"] == "interrupted"
    assert not ended_executions.execution_ended(store, run_id=run_id, name=run_id, status="ABORTED")
    # When a second execution is requested at the node after the delay
    second = executions.request_execution(store, run_id=run_id, start_at="report", reason="continue after the delay")
    assert second.name == f"{run_id}-r1"
    # Then the run completes; the report carried the first execution's output; fetch ran once
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", json.dumps(run, indent=1)
    assert json.loads(target.calls("/executions/report")[-1]["body"]) == {"contact": 7}
    assert len(target.calls("/executions/fetch")) == 1
    assert [(s["nodeId"], s["status"]) for s in run["steps"]] == [
        ("fetch", "completed"),
        ("pause", "interrupted"),
        ("report", "completed"),
    ]
    # And the run's history shows both executions, how each ended, and the statuses between them
    assert [(e["name"], e.get("startAt"), e["outcome"]) for e in run["executions"]] == [
        (run_id, None, "aborted"),
        (f"{run_id}-r1", "report", "reached_end"),
    ]
    assert all(e["arn"].endswith(f":{e['name']}") and e["startedAt"] and e["endedAt"] for e in run["executions"])
    assert statuses(run["history"]) == ["scheduled", "running", "interrupted", "running", "completed"]
    assert execution_of(stack, f"{run_id}-r1")[0]["status"] == "SUCCEEDED"


def test_only_an_interrupted_run_gets_another_execution(stack: StackClient, target, store: DynamoRepository) -> None:
    run = stack.wait_for_run(stack.trigger(stack.create_flow([{"id": "a", "type": "set", "values": {"x": 1}}]), {}))
    assert run["status"] == "completed"
    with pytest.raises(Conflict, match="is completed; only an interrupted run can continue"):
        executions.request_execution(store, run_id=run["runId"], start_at="a", reason="again")
