"""A node type added through the registry alone runs through the real state machine.

``shout`` (tests/support/fixture_nodes.py) exists only in the tests: the local stack imports it
at start. Nothing else names it: the flow model accepts it, validation reads its variables,
the runner applies its output rules, and the interpreter routes it to the ComputeNode task.
"""

from __future__ import annotations

import json

import pytest

from tests.statemachine.test_interpreter_runs import entered, execution_of
from tests.support.stack_client import StackClient, step_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions (states, retries, stops): every run runs there."""
    return standard_stack


def test_a_fixture_node_type_runs_with_its_outputs_and_variables_available_to_later_nodes(
    stack: StackClient, target
) -> None:
    # Given a flow with the test-only `shout` node feeding an http_request node
    url = target.script("/registry/said", 200)
    flow = stack.create_flow(
        [
            {"id": "shout", "type": "shout", "text": "hello {{ trigger.body.name }}"},
            {
                "id": "tell",
                "type": "http_request",
                "method": "POST",
                "url": url,
                "body": {"said": "{{ vars.shouted }}", "output": "{{ steps.shout.output.text }}"},
            },
        ]
    )
    # When its webhook is called
    run = stack.wait_for_run(stack.trigger(flow, {"name": "Ada"}))
    # Then the run completes through the shared compute task, and the next node saw its output
    assert run["status"] == "completed", json.dumps(run, indent=1)
    assert step_of(run, "shout")["output"] == {"text": "HELLO ADA!"}
    assert json.loads(target.calls("/registry/said")[-1]["body"]) == {"said": "HELLO ADA!", "output": "HELLO ADA!"}
    assert entered(execution_of(stack, run["runId"])[1])[:3] == ["StartRun", "NextNode", "ComputeNode"]


def test_the_fixture_types_own_output_rule_decides_what_is_empty(stack: StackClient) -> None:
    flow = stack.create_flow(
        [{"id": "shout", "type": "shout", "text": "{{ trigger.body.nothing }}", "failOnEmptyOutput": True}]
    )
    run = stack.wait_for_run(stack.trigger(flow, {"nothing": ""}))
    assert run["status"] == "failed"
    assert step_of(run, "shout")["error"]["type"] == "EmptyOutput"


def test_saving_checks_the_fixture_types_variables_like_any_other(stack: StackClient) -> None:
    response = stack.request(
        "POST",
        "/flows",
        json={
            "name": "reads a variable nobody sets",
            "trigger": {"type": "webhook"},
            "nodes": [{"id": "first", "type": "shout", "text": "{{ vars.shouted }}"}],
        },
    )
    assert response.status_code == 422
    assert "vars.shouted is not set by any set node before 'first'" in response.text


def test_a_bug_in_a_node_is_an_engine_error_not_a_step_failure(stack: StackClient) -> None:
    # Given a node whose executor raises an unexpected exception (a defect of ours, not the customer's)
    flow = stack.create_flow(
        [{"id": "shout", "type": "shout", "text": "crash"}, {"id": "after", "type": "set", "values": {"x": 1}}]
    )
    # When it runs
    run = stack.wait_for_run(stack.trigger(flow, {}))
    # Then the run fails at that step, recording the error
    assert run["status"] == "failed"
    shout = step_of(run, "shout")
    assert shout["status"] == "failed" and shout["error"]["type"] == "RuntimeError"
    assert [s["nodeId"] for s in run["steps"]] == ["shout"]
    (execution,) = run["executions"]
    assert execution["outcome"] == "engine_error" and execution["error"]["type"] == "RuntimeError"
    # and the execution fails in its own Fail state, apart from runs that failed at a step
    described, events = execution_of(stack, run["runId"])
    assert described["status"] == "FAILED" and described["error"] == "EngineError"
    assert "RecordEngineError" in entered(events) and "StepFailed" not in entered(events)
