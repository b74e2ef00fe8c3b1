"""Every events/*.json, invoked as ``make invoke`` does (``python -m devstack.invoke``, a process of
its own) against the local stack, after ``POST /_local/demo``, with the outcome it is there to show.

The interpreter's events change the demo run, so they come in scenarios: each starts from a fresh
seed and invokes its events in the order the state machine would. A scenario that changes the
demo run's steps ends at a status the stream derives from its last change: every change of the
run has been delivered by then (one run's changes are delivered in order), so none arrives late
at the next scenario's fresh run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import requests

from automations.domain import clock, signing
from devstack import demo
from devstack.ports import free_port
from devstack.template import ROOT
from tests.support.stack_client import StackClient, step_of, wait_for
from tests.unit.test_template import EVENT_PREFIXES

pytestmark = pytest.mark.e2e

RUN, FLOW = demo.RUN_ID, demo.FLOW_ID
END = {"type": "end", "task": "EndRun"}
NOTIFY = {"id": "notify", "type": "http_request", "task": "HttpRequest"}
Check = Callable[[StackClient, Any], None]


def function_for(event_file: str) -> str:
    """The function an event file serves, by its prefix (the three node functions share a handler)."""
    (function,) = [name for name, prefix in EVENT_PREFIXES.items() if event_file.startswith(prefix)]
    return function


def run_invoker(stack: StackClient, event_file: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "devstack.invoke", function_for(event_file), f"events/{event_file}"]
    return subprocess.run(
        [*command, "--url", stack.url, *options], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def invoke(stack: StackClient, event_file: str, *, errors: bool = False) -> Any:
    """``python -m devstack.invoke`` on the event file; its printed result (or Lambda's error payload)."""
    done = run_invoker(stack, event_file)
    assert done.returncode == (1 if errors else 0), f"{event_file}:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def seed_demo(stack: StackClient) -> dict[str, Any]:
    response = requests.post(f"{stack.url}/_local/demo", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def api(result: dict[str, Any]) -> tuple[int, Any]:
    return result["statusCode"], json.loads(result["body"])


# --- what each event shows ---------------------------------------------------------------


def lists_the_demo_flow_first(stack: StackClient, result: Any) -> None:
    status, body = api(result)
    assert status == 200 and body["items"][0]["flowId"] == FLOW, body  # seeded last: the newest


def reads_the_demo_flow(stack: StackClient, result: Any) -> None:
    status, body = api(result)
    assert status == 200 and body["flowId"] == FLOW, body
    assert [n["id"] for n in body["definition"]["nodes"]] == ["notify", "is_pro", "wait_a_day", "welcome"]


def reads_the_scheduled_demo_run(stack: StackClient, result: Any) -> None:
    status, body = api(result)
    assert status == 200 and (body["runId"], body["status"]) == (RUN, "scheduled"), body
    assert body["trigger"]["body"] == demo.TRIGGER_BODY


def creates_a_flow(stack: StackClient, result: Any) -> None:
    status, body = api(result)
    assert status == 201 and body["flowId"] != FLOW and body["version"] == 1, body


def starts_a_run_that_completes(stack: StackClient, result: Any) -> None:
    # signed at invoke time with the demo flow's secret; the run then goes through the stack's interpreter
    status, body = api(result)
    assert status == 202, body
    (run_id,) = body["runIds"]
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed" and run["trigger"]["body"] == demo.TRIGGER_BODY, run
    assert step_of(run, "notify")["output"]["body"] == {"received": {"email": "ada@example.com"}}


def lists_the_failed_demo_run(stack: StackClient, result: Any) -> None:
    status, body = api(result)
    assert status == 200 and RUN in [r["runId"] for r in body["items"]], body
    assert {r["status"] for r in body["items"]} == {"failed"}


def points_at_the_first_node(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "stepNumber": 1, "node": NOTIFY}
    assert stack.run(RUN)["status"] == "running"


def calls_the_echo_endpoint(stack: StackClient, result: Any) -> None:
    # the condition after it runs inline, in the same invocation: the next Task is the email's
    assert result == {
        "runId": RUN,
        "stepNumber": 3,
        "node": {"id": "welcome", "type": "send_email", "task": "SendEmail"},
    }
    run = stack.run(RUN)
    notify = step_of(run, "notify")
    assert notify["status"] == "completed" and notify["output"]["body"] == {"received": {"email": "ada@example.com"}}
    assert step_of(run, "is_pro")["output"] == {"result": True, "next": "welcome"}


def picks_the_pro_branch(stack: StackClient, result: Any) -> None:
    assert result == {
        "runId": RUN,
        "stepNumber": 3,
        "node": {"id": "welcome", "type": "send_email", "task": "SendEmail"},
    }
    assert step_of(stack.run(RUN), "is_pro")["output"] == {"result": True, "next": "welcome"}


def emails_the_sink(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "stepNumber": 4, "node": END}
    message_id = step_of(stack.run(RUN), "welcome")["output"]["messageId"]
    emails = requests.get(f"{stack.url}/_local/emails", params={"to": "ada@example.com"}, timeout=10).json()
    assert message_id in [e["messageId"] for e in emails["items"]]


def waits_a_day(stack: StackClient, result: Any) -> None:
    assert {k: v for k, v in result.items() if k != "wait"} == {
        "runId": RUN,
        "stepNumber": 3,
        "node": {"id": "wait_a_day", "type": "delay", "task": "ComputeNode"},
    }
    until = clock.parse_iso(result["wait"]["until"])
    assert abs(until - (stack.clock_now() + timedelta(days=1))) < timedelta(minutes=1), result  # the engine's clock
    step = step_of(stack.run(RUN), "wait_a_day")
    assert step["status"] == "running" and step["wakeAt"] == result["wait"]["until"]


def wakes_up_to_the_email(stack: StackClient, result: Any) -> None:
    assert result == {
        "runId": RUN,
        "stepNumber": 4,
        "node": {"id": "welcome", "type": "send_email", "task": "SendEmail"},
    }
    assert step_of(stack.run(RUN), "wait_a_day")["status"] == "completed"


def ends_completed(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "failed": False, "failedSteps": []}
    assert stack.wait_for_run(RUN)["status"] == "completed"


def fails_the_step(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "stepNumber": 2, "node": END}
    notify = step_of(stack.run(RUN), "notify")
    assert (notify["status"], notify["error"]["type"]) == ("failed", "AuthenticationError"), notify


def ends_failed_at_the_step(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "failed": True, "failedSteps": ["notify"]}
    assert stack.wait_for_run(RUN)["status"] == "failed"


def ends_failed_by_the_engine(stack: StackClient, result: Any) -> None:
    assert result["runId"] == RUN and (result["error"]["type"], result["error"]["message"]) == (
        "KeyError",
        "'contacts'",
    )
    run = stack.wait_for_run(RUN)
    assert run["status"] == "failed" and run["error"]["type"] == "KeyError", run


def rolls_the_run_up_to_retrying(stack: StackClient, result: Any) -> None:
    assert result == {"batchItemFailures": []}
    assert stack.run(RUN)["status"] == "retrying"


def starts_the_execution_on_the_stack(stack: StackClient, result: Any) -> None:
    assert result == {"batchItemFailures": []}
    run = stack.wait_for_run(RUN)  # the stack's Step Functions runs the demo flow: pro, so no delay
    assert run["status"] == "completed" and [s["nodeId"] for s in run["steps"]] == ["notify", "is_pro", "welcome"]
    (execution,) = run["executions"]  # on Express throughout: nothing to wait for
    assert (
        execution["machine"] == "express"
        and f":express:automations-local-FlowInterpreterExpress:{RUN}:" in (execution["arn"])
    )


def hands_off_to_standard(stack: StackClient, result: Any) -> None:
    assert result == {"runId": RUN, "handedOffTo": f"{RUN}-r1"}
    # the stream starts the Standard execution, which waits the backoff and runs the node again
    run = stack.wait_for_run(RUN)
    assert run["status"] == "completed", run
    first, second = run["executions"]
    assert (first["outcome"], second["machine"], second["startAt"], second["continuesRetries"]) == (
        "handed_off",
        "standard",
        "notify",
        True,
    )
    assert "a retryable TransientError" in second["reason"]


SCENARIOS: dict[str, list[tuple[str, Check]]] = {
    "the API on the demo objects": [
        ("api_list_flows.json", lists_the_demo_flow_first),
        ("api_get_flow.json", reads_the_demo_flow),
        ("api_get_run.json", reads_the_scheduled_demo_run),
        ("api_create_flow.json", creates_a_flow),
        ("api_webhook.json", starts_a_run_that_completes),
    ],
    "the pro path, task by task": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("http_request_node.json", calls_the_echo_endpoint),
        ("send_email_node.json", emails_the_sink),
        ("run_lifecycle_end.json", ends_completed),
    ],
    # conditions run inline; the compute task still runs one that an execution routes to it (one
    # started by an engine version before that, still running across a deployment)
    "a condition in the compute task": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("compute_node_condition.json", picks_the_pro_branch),
    ],
    "a delay and its wake-up": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("compute_node_delay.json", waits_a_day),
        ("run_lifecycle_wake_up.json", wakes_up_to_the_email),
        ("run_lifecycle_end.json", ends_completed),
    ],
    "a step that failed for good": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("run_lifecycle_step_failed.json", fails_the_step),
        ("run_lifecycle_end.json", ends_failed_at_the_step),
        ("api_list_runs.json", lists_the_failed_demo_run),
    ],
    "a hand-off to Standard after a retryable failure": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("run_lifecycle_hand_off.json", hands_off_to_standard),
    ],
    "an engine error": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("run_lifecycle_engine_error.json", ends_failed_by_the_engine),
    ],
    "a retrying step, from the stream": [
        ("run_lifecycle_start.json", points_at_the_first_node),
        ("stream_step_retrying.json", rolls_the_run_up_to_retrying),
    ],
    "a run recorded, from the stream": [
        ("stream_run_recorded.json", starts_the_execution_on_the_stack),
    ],
}


def test_the_sweepers_tick_starts_an_overdue_run(stack: StackClient) -> None:
    # Given a run due in a day (its own: the demo run's execution name must stay free for the
    # scenario above), and the scheduler paused (an outage)
    flow = stack.create_flow([{"id": "note", "type": "set", "values": {"n": "1"}}], name="swept")
    at = clock.iso(stack.clock_now() + timedelta(days=1))
    response = stack.request("POST", f"/flows/{flow['flowId']}/runs", json={"data": {}, "at": at})
    (run_id,) = response.json()["runIds"]
    wait_for(lambda: stack.run_schedule_exists(run_id), timeout=30, what="the stream to schedule the run")
    stack.pause_scheduler()
    try:
        # When a day passes and the sweeper's tick is invoked by hand
        stack.advance("P1DT1M")
        result = invoke(stack, "sweeper_tick.json")
    finally:
        stack.resume_scheduler()
    # Then it found the run overdue and started it (others may be overdue too), and it runs
    assert result["overdue"] >= 1 and result["overdue"] == result["started"] + result["ended"], result
    assert stack.wait_for_run(run_id)["status"] == "completed"


# event files shown by a test of their own rather than a scenario
OWN_TESTS = {"sweeper_tick.json", "execution_status_aborted.json"}


def test_every_event_file_has_a_scenario() -> None:
    invoked = OWN_TESTS | {event_file for steps in SCENARIOS.values() for event_file, _ in steps}
    assert invoked == {path.name for path in (ROOT / "events").glob("*.json")}


@pytest.mark.parametrize("steps", [pytest.param(steps, id=name) for name, steps in SCENARIOS.items()])
def test_each_event_invoked_against_the_stack_shows_its_outcome(
    stack: StackClient, steps: list[tuple[str, Check]]
) -> None:
    seed_demo(stack)
    for event_file, check in steps:
        check(stack, invoke(stack, event_file))


def test_a_function_that_raises_prints_lambdas_error_payload_and_exits_1(stack: StackClient) -> None:
    seed_demo(stack)  # a scheduled run: nothing waits at wait_a_day yet
    error = invoke(stack, "run_lifecycle_wake_up.json", errors=True)
    assert error["errorType"] == "NotFound" and "wait_a_day" in error["errorMessage"], error


def test_a_webhook_event_is_signed_at_invoke_time_with_the_flows_secret(stack: StackClient) -> None:
    secret = seed_demo(stack)["webhookSecret"]
    done = run_invoker(stack, "api_webhook.json", "--print-event")
    assert done.returncode == 0, done.stderr
    event = json.loads(done.stdout)
    signature = event["headers"]["X-Signature"]
    signing.verify(secret, signature, event["body"].encode(), int(time.time()), tolerance_seconds=300)
    assert event["multiValueHeaders"]["X-Signature"] == [signature]


def test_the_stack_describes_each_function_as_it_runs_it(stack: StackClient) -> None:
    described = requests.get(f"{stack.url}/_local/functions", timeout=10).json()
    assert described["motoEndpoint"] == stack.moto_endpoint
    functions = described["functions"]
    assert set(functions) == set(EVENT_PREFIXES)
    assert {f["environment"]["TABLE_NAME"] for f in functions.values()} == {described["table"]}
    assert functions["SendEmailFunction"]["environment"]["SENDGRID_BASE_URL"] == f"{stack.url}/_local/sendgrid"
    assert ":stateMachine:" in functions["StreamFunction"]["environment"]["STATE_MACHINE_ARN"]
    assert "CURSOR_SECRET_ARN" not in functions["StreamFunction"]["environment"]  # only the API pages
    assert functions["ApiFunction"]["environment"]["CURSOR_SECRET_ARN"]
    assert (functions["HttpRequestFunction"]["codeUri"], functions["HttpRequestFunction"]["timeout"]) == (
        "functions/node_task",
        40,
    )


def test_without_a_stack_the_invoker_says_so_and_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "devstack.invoke", "ApiFunction", "events/api_get_run.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "AUTOMATIONS_PORT": str(free_port())},  # nothing listens there
    )
    assert done.returncode == 2 and "no local stack answers" in done.stderr and "make local" in done.stderr, done
