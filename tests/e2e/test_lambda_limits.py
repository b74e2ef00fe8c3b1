"""Lambda's limits on the local stack: an invocation past its function's ``Timeout`` is abandoned;
an answer larger than Lambda returns (6 MB) is Lambda's error instead.

The stack the tests start shrinks HttpRequestFunction's timeout (AUTOMATIONS_FUNCTION_TIMEOUT_SCALE
in tests/support/stack_client.py), so that a timeout costs seconds, not the template's 40.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from automations.api.response_size import LAMBDA_RESPONSE_LIMIT_BYTES
from devstack.functions import FunctionError, LocalFunction
from tests.statemachine.test_interpreter_runs import entered, execution_of
from tests.support.stack_client import StackClient, step_of
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(standard_stack: StackClient) -> StackClient:
    """These tests read the Standard machine's executions (states, retries, stops): every run runs there."""
    return standard_stack


HANDLER = """
import time

CONTAINER = object()  # one per import: tells containers apart


def handler(event, context):
    time.sleep(event.get("work", 0))
    return {"container": id(CONTAINER)}
"""


def local_function(code_dir: Path, source: str, **limits: Any) -> LocalFunction:
    """A function of the local stack whose handler (``app.handler``) is ``source``; a 2 s timeout."""
    (code_dir / "app.py").write_text(source)
    return LocalFunction(
        name="Fn",
        arn="arn:aws:lambda:us-east-1:123456789012:function:fn",
        code_uri=str(code_dir),
        handler="app.handler",
        timeout_seconds=2,
        memory_mb=128,
        **limits,
    )


def test_a_timed_out_invocation_gives_its_slot_back_and_its_container_is_not_reused(tmp_path: Path) -> None:
    # Given a function allowed one container at a time, with a timeout of 0.2 s
    function = local_function(tmp_path, HANDLER, max_containers=1, timeout_scale=0.1)
    first = function.invoke({})["container"]
    assert function.invoke({})["container"] == first  # warm: the same container again
    # When an invocation runs past the timeout
    with pytest.raises(FunctionError) as timed_out:
        function.invoke({"work": 5})
    # Then the caller gets Lambda's timeout error at the deadline
    assert timed_out.value.payload["errorType"] == "Sandbox.Timedout"
    assert timed_out.value.payload["errorMessage"].endswith("Task timed out after 0.20 seconds")
    # and the next invocation gets the slot back, in a new container
    assert function.invoke({})["container"] != first


def test_an_answer_larger_than_lambda_returns_is_its_error_not_an_answer(tmp_path: Path) -> None:
    # Given a function that answers with as many bytes as its event asks for
    function = local_function(tmp_path, "def handler(event, context):\n    return {'blob': 'x' * event['bytes']}\n")
    # When it answers just within Lambda's 6 MB, Then that is its answer
    fits = LAMBDA_RESPONSE_LIMIT_BYTES - len('{"blob": ""}')
    assert len(function.invoke({"bytes": fits})["blob"]) == fits
    # When it answers one byte more, Then the caller gets Lambda's error instead (API Gateway: a 502)
    with pytest.raises(FunctionError) as too_large:
        function.invoke({"bytes": fits + 1})
    assert too_large.value.payload["errorType"] == "Function.ResponseSizeTooLarge"
    assert str(LAMBDA_RESPONSE_LIMIT_BYTES) in too_large.value.payload["errorMessage"]


def test_a_drip_feeding_target_times_out_each_attempt_and_the_retry_budget_runs_its_course(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a target that answers at once, then sends its body a byte at a time and never finishes,
    # and a node deadline (30 s) longer than the function's timeout (6 s here): the function's stops it
    url = target.drip("/e2e/drip", every=0.5, for_seconds=180)
    flow = stack.create_flow([{"id": "fetch", "type": "http_request", "url": url, "timeoutSeconds": 30}])
    # When the flow runs
    run = stack.wait_for_run(stack.trigger(flow, {}), timeout=120)
    # Then every attempt ends at the function's timeout, is retried, and the run fails when the budget is spent
    assert run["status"] == "failed", run
    step = step_of(run, "fetch")
    assert step["status"] == "failed" and step["error"]["type"] == "Sandbox.Timedout"
    assert "Task timed out after" in step["error"]["message"]
    # each attempt is recorded failed, none left running: the next attempt closes a lost one, and
    # the step's failure closes the last
    assert [(a["attempt"], a["status"]) for a in step["attempts"]] == [(n, "failed") for n in range(1, 6)]
    assert [a["error"]["type"] for a in step["attempts"]] == ["AttemptLost"] * 4 + ["Sandbox.Timedout"]
    assert len(target.calls("/e2e/drip")) == 5
    # and Step Functions saw Lambda's timeout error each time: retried, then caught as the step failing
    _, events = execution_of(stack, run["runId"])
    assert [e["taskFailedEventDetails"]["error"] for e in events if e["type"] == "TaskFailed"] == [
        "Sandbox.Timedout"
    ] * 5
    assert "StepFailed" in entered(events) and "RecordEngineError" not in entered(events)
