"""Executions that end without reaching the interpreter's end, on the local stack: StopExecution aborts
at once (as on AWS), the stack's EventBridge delivers Step Functions' status-change event to
ExecutionStatusFunction (the template's rule), and the run becomes ``interrupted``, resumable."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from devstack import demo
from tests.e2e.test_events_invoke import invoke, seed_demo
from tests.statemachine.test_interpreter_runs import entered
from tests.support.stack_client import StackClient, step_of, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions (states, retries, stops): every run runs there."""
    return standard_stack


def running_at(stack: StackClient, run_id: str, node_id: str) -> dict[str, Any]:
    """The run once it is `running` with ``node_id``'s step `running` (its attempt claimed)."""

    def ready() -> dict[str, Any] | None:
        run = stack.run(run_id)
        steps = {s["nodeId"]: s["status"] for s in run["steps"]}
        return run if run["status"] == "running" and steps.get(node_id) == "running" else None

    return wait_for(ready, timeout=30, what=f"run {run_id} to be running at {node_id}")


def bus(stack: StackClient) -> dict[str, Any]:
    response = requests.get(f"{stack.url}/_local/events", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def history_types(stack: StackClient, arn: str) -> list[str]:
    return [e["type"] for e in stack.aws("stepfunctions").get_execution_history(executionArn=arn)["events"]]


def test_stopping_an_execution_waiting_in_a_delay_interrupts_its_run_and_step(stack: StackClient) -> None:
    # Given a run waiting in a two-minute delay (its execution in the Wait state)
    flow = stack.create_flow([{"id": "pause", "type": "delay", "seconds": 120}], name="stopped in a delay")
    run_id = stack.trigger(flow, {"n": 1})
    (execution,) = running_at(stack, run_id, "pause")["executions"]
    sfn = stack.aws("stepfunctions")
    # When its execution is stopped through Step Functions (as in the console)
    stopped = sfn.stop_execution(executionArn=execution["arn"])
    # Then Step Functions says ABORTED at once, stopped when the stop answered
    described = sfn.describe_execution(executionArn=execution["arn"])
    assert described["status"] == "ABORTED" and described["stopDate"] == stopped["stopDate"]
    # And within a few seconds the status-change event has made the run and its step interrupted
    run = stack.wait_for_run(run_id, ("interrupted",), timeout=10)
    assert step_of(run, "pause")["status"] == "interrupted"
    (ended,) = run["executions"]
    assert ended["outcome"] == "aborted" and ended["error"]["type"] == "ExecutionAborted"
    assert run["error"]["type"] == "ExecutionAborted"


def test_stopping_an_execution_inside_a_lambda_task_aborts_it_at_once_and_its_late_end_changes_nothing(
    stack: StackClient, target
) -> None:
    # Given a run whose http_request node is inside its Lambda task, reading a body that never ends
    # (HttpRequestFunction's timeout is 6 s on the test stack)
    url = target.drip("/execution-events/drip", every=0.5, for_seconds=10)
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": url}], name="stopped in a task")
    run_id = stack.trigger(flow, {"n": 2})
    (execution,) = running_at(stack, run_id, "call")["executions"]
    sfn = stack.aws("stepfunctions")
    # When its execution is stopped with an error and a cause
    stopped = sfn.stop_execution(executionArn=execution["arn"], error="Stopped", cause="an operator stopped it")
    # Then it is ABORTED at once, with them, though the task's handler still runs
    described = sfn.describe_execution(executionArn=execution["arn"])
    assert (described["status"], described["error"], described["cause"]) == (
        "ABORTED",
        "Stopped",
        "an operator stopped it",
    )
    assert described["stopDate"] == stopped["stopDate"]
    # And the run is interrupted, with the cause given
    run = stack.wait_for_run(run_id, ("interrupted",), timeout=10)
    assert step_of(run, "call")["status"] == "interrupted"
    assert run["executions"][0]["error"]["message"] == "an operator stopped it"
    # When the task's invocation finally ends (the function's timeout) and the execution's worker with it
    wait_for(
        lambda: "ExecutionAborted" in history_types(stack, execution["arn"]),
        timeout=30,
        what="the stopped execution's worker to end",
    )
    # Then its late end changed nothing: still ABORTED as stopped, and no state ran after the task
    again = sfn.describe_execution(executionArn=execution["arn"])
    assert (again["status"], again["stopDate"]) == ("ABORTED", stopped["stopDate"])
    events = sfn.get_execution_history(executionArn=execution["arn"])["events"]
    assert entered(events)[-1] == "HttpRequest" and events[-1]["type"] == "ExecutionAborted"
    assert stack.run(run_id)["status"] == "interrupted"


def test_the_stacks_event_bus_runs_the_templates_rule_and_loses_nothing(stack: StackClient) -> None:
    # Given the bus's count of events put so far
    put_before = bus(stack)["put"]
    # When a run completes (its execution puts RUNNING and SUCCEEDED on the bus, which the rule lets pass)
    flow = stack.create_flow([{"id": "note", "type": "set", "values": {"n": "1"}}], name="bus")
    assert stack.wait_for_run(stack.trigger(flow, {}))["status"] == "completed"
    # Then the bus runs the template's one rule, took both events, and every event the rule matched
    # this session was delivered or is kept as a failure
    status = wait_for(
        lambda: (
            (s := bus(stack))["put"] >= put_before + 2
            and s["pending"] == 0
            and s["matched"] == s["delivered"] + len(s["failures"])
            and s
        ),
        timeout=15,
        what="the bus to deliver what it took",
    )
    (rule,) = status["rules"]
    assert (rule["name"], rule["function"]) == ("automations-local-execution-ended", "ExecutionStatusFunction")
    assert rule["pattern"]["detail"]["status"] == ["ABORTED", "TIMED_OUT", "FAILED"]
    assert rule["deadLetter"].endswith(":automations-local-ExecutionEventFailures")


def test_the_sample_abort_event_invoked_against_the_stack_interrupts_the_demo_run(stack: StackClient) -> None:
    # Given the demo run started and waiting a day (the interpreter's events, invoked by hand)
    seed_demo(stack)
    invoke(stack, "run_lifecycle_start.json")
    assert invoke(stack, "compute_node_delay.json")["node"]["id"] == "wait_a_day"
    # When the sample status-change event is invoked (make invoke)
    result = invoke(stack, "execution_status_aborted.json")
    # Then the end is recorded and the run and its waiting step become interrupted
    assert result == {"runId": demo.RUN_ID, "execution": demo.RUN_ID, "status": "ABORTED", "recorded": True}
    run = stack.wait_for_run(demo.RUN_ID, ("interrupted",), timeout=10)
    assert step_of(run, "wait_a_day")["status"] == "interrupted"
    # And invoked again (EventBridge delivers at least once), it records nothing more
    assert invoke(stack, "execution_status_aborted.json")["recorded"] is False
