"""Faults on demand (/_local/faults): runs still end in the right status, nothing recorded twice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.statemachine.test_interpreter_runs import execution_of
from tests.support.stack_client import StackClient, statuses, step_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions (states, retries, stops): every run runs there."""
    return standard_stack


@pytest.fixture
def faults(stack: StackClient) -> Iterator[str]:
    url = f"{stack.url}/_local/faults"
    yield url
    requests.delete(url, timeout=5)  # a fault a test did not use up must not reach the next test


def arm(url: str, **fault: object) -> None:
    response = requests.post(url, json=fault, timeout=5)
    assert response.status_code == 201, response.text


def armed(url: str) -> list[dict]:
    return requests.get(url, timeout=5).json()["items"]


def test_a_node_function_crashing_twice_then_working_completes_with_the_crashed_attempts_recorded(
    stack: StackClient, target, faults: str
) -> None:
    # Given the http_request function will crash twice, each time after claiming its attempt
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script("/faults/crash", 200)}])
    arm(faults, function="HttpRequestFunction", fault="crash", times=2)
    # When a run calls it
    run = stack.wait_for_run(stack.trigger(flow, {}))
    # Then the run completes on the third attempt, and the two crashed attempts are recorded as lost
    assert run["status"] == "completed"
    attempts = step_of(run, "call")["attempts"]
    assert [(a["attempt"], a["status"], (a.get("error") or {}).get("type")) for a in attempts] == [
        (1, "failed", "AttemptLost"),
        (2, "failed", "AttemptLost"),
        (3, "completed", None),
    ]
    assert len(target.calls("/faults/crash")) == 1  # the crashed invocations never got to call out
    _, events = execution_of(stack, run["runId"])
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "Runtime.ExitError",
        "Runtime.ExitError",
    ]
    assert armed(faults) == []


def test_dynamodb_throttling_the_stream_handler_loses_no_status_change(stack: StackClient, target, faults: str) -> None:
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script("/faults/throttle", 200)}])
    arm(faults, service="dynamodb", fault="throttle", function="StreamFunction", times=3)
    run = stack.wait_for_run(stack.trigger(flow, {}))
    assert run["status"] == "completed"
    assert statuses(run["history"]) == ["scheduled", "running", "completed"]
    assert armed(faults) == []  # every throttle was met (and retried through)


def test_a_lambda_service_error_on_bookkeeping_is_retried(stack: StackClient, target, faults: str) -> None:
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script("/faults/service", 200)}])
    arm(faults, function="RunLifecycleFunction", fault="Lambda.ServiceException", times=1)
    run = stack.wait_for_run(stack.trigger(flow, {}))
    assert run["status"] == "completed"
    _, events = execution_of(stack, run["runId"])
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "Lambda.ServiceException"
    ]


def test_faults_are_armed_listed_and_cleared_and_bad_ones_refused(stack: StackClient, faults: str) -> None:
    arm(faults, function="ComputeNodeFunction", fault="timeout", times=2)
    assert armed(faults) == [{"function": "ComputeNodeFunction", "fault": "timeout", "times": 2}]
    for bad in (
        {"function": "X", "fault": "melt", "times": 1},
        {"service": "s3", "fault": "throttle", "times": 1},
        {"function": "X", "fault": "crash", "times": 0},
        ["not", "an", "object"],
    ):
        response = requests.post(faults, json=bad, timeout=5)
        assert response.status_code == 400, bad
    assert requests.delete(faults, timeout=5).status_code == 200
    assert armed(faults) == []
