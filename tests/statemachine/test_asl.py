"""Static checks of the deployed ASL file: structure, error names, and the retry schedule."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from automations import errors
from automations.domain.interpreter import HAND_OFF_TASK, continued_task
from automations.errors import (
    BOOKKEEPING,
    CONTINUED_RETRIERS,
    EXPRESS_RETRIERS,
    EXPRESS_RETRIES,
    NODE_RETRIERS,
    RATE_LIMITED,
    TRANSIENT,
    express_node_catchers,
    hand_off_wait_ceiling,
    node_catchers,
)
from automations.nodes import REGISTRY
from statemachine import generate

ASL_PATH = generate.STANDARD
EXPRESS_PATH = generate.EXPRESS

# Errors Step Functions and the Lambda integration document (not raised by our code).
DOCUMENTED_ERRORS = {
    "States.ALL",
    "States.Timeout",
    "States.TaskFailed",
    "States.Runtime",
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
    "Lambda.Unknown",
    "Sandbox.Timedout",
    "Runtime.ExitError",
}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(ASL_PATH.read_text())


@pytest.fixture(scope="module")
def express_asl() -> dict[str, Any]:
    return json.loads(EXPRESS_PATH.read_text())


@pytest.fixture(scope="module", params=["standard", "express"])
def each_asl(request) -> dict[str, Any]:
    return json.loads((ASL_PATH if request.param == "standard" else EXPRESS_PATH).read_text())


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [c["Next"] for c in state.get("Choices", [])]
    targets += [c["Next"] for c in state.get("Catch", [])]
    return [t for t in targets if t]


def node_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Task states that run a node, apart from their AfterHandOff twins."""
    names = generate.node_tasks(asl)
    return {name: asl["States"][name] for name in names if not name.endswith(continued_task(""))}


def continued_tasks(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state in asl["States"].items() if name.endswith(continued_task(""))}


def routes(asl: dict[str, Any]) -> dict[str, str]:
    """NextNode's routes on the node's Task state: route value -> state."""
    choices = asl["States"]["NextNode"]["Choices"]
    return {c["StringEquals"]: c["Next"] for c in choices if c.get("Variable") == "$.node.task"}


def test_the_generated_states_and_the_express_machine_are_what_the_generator_makes_of_the_standard_one() -> None:
    for path, text in generate.generated().items():
        assert path.read_text() == text, f"{path.name} is stale: run python -m statemachine.generate"


def test_every_transition_lands_on_a_state_and_every_state_is_reachable(each_asl) -> None:
    asl = each_asl
    states = asl["States"]
    for name, state in states.items():
        for target in transitions(state):
            assert target in states, f"{name} -> {target}: no such state"
    reachable, frontier = set(), [asl["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name not in reachable:
            reachable.add(name)
            frontier += transitions(states[name])
    assert reachable == set(states)


def test_every_error_name_is_raised_by_the_code_or_documented(each_asl) -> None:
    raised = {cls.__name__ for cls in errors.NODE_ERRORS}
    for name, state in each_asl["States"].items():
        for block in state.get("Retry", []) + state.get("Catch", []):
            for error in block["ErrorEquals"]:
                assert error in raised | DOCUMENTED_ERRORS, f"{name}: '{error}' is neither raised nor documented"


def test_retryable_errors_are_exactly_those_with_a_retrier(asl) -> None:
    for name, state in {**node_tasks(asl), **continued_tasks(asl)}.items():
        retried = {e for block in state["Retry"] for e in block["ErrorEquals"]}
        for cls in errors.NODE_ERRORS:
            assert (cls.__name__ in retried) == cls.retryable, f"{name}: {cls.__name__} retryable={cls.retryable}"


def test_node_tasks_carry_the_retry_profiles_and_catch_step_failures_apart_from_engine_errors(asl) -> None:
    tasks = node_tasks(asl)
    assert tasks, "no node task found"
    for name, state in tasks.items():
        assert state["Retry"] == [p.to_asl() for p in NODE_RETRIERS], name
        assert state["Catch"] == node_catchers("StepFailed", "RecordEngineError"), name
    # every node error is a step failure; an unexpected one (an stack defect) falls through to States.ALL
    (step_failures, everything_else) = node_catchers("StepFailed", "RecordEngineError")
    assert {cls.__name__ for cls in errors.NODE_ERRORS} <= set(step_failures["ErrorEquals"])
    assert everything_else["ErrorEquals"] == ["States.ALL"]


def test_a_continued_task_is_its_node_task_with_the_rest_of_each_retry_schedule(asl) -> None:
    # Given the node tasks and their AfterHandOff twins
    tasks, twins = node_tasks(asl), continued_tasks(asl)
    assert set(twins) == {continued_task(name) for name in tasks}
    for name, state in tasks.items():
        twin = twins[continued_task(name)]
        # Then each twin is its task but for the retriers, which go on after one attempt made on Express
        assert {k: v for k, v in twin.items() if k not in ("Retry", "Comment")} == {
            k: v for k, v in state.items() if k not in ("Retry", "Comment")
        }
        assert twin["Retry"] == [p.to_asl() for p in CONTINUED_RETRIERS]
    # and the schedule is the one Standard runs, from after Express's retries and the hand-off's wait
    for profile, rest in zip(NODE_RETRIERS, CONTINUED_RETRIERS, strict=True):
        made_on_express = EXPRESS_RETRIES[profile]
        assert hand_off_wait_ceiling(profile) == profile.wait_ceilings()[made_on_express]
        assert rest.wait_ceilings() == profile.wait_ceilings()[made_on_express + 1 :]
    assert [TRANSIENT.wait_ceilings()[0], hand_off_wait_ceiling(TRANSIENT), *CONTINUED_RETRIERS[0].wait_ceilings()] == [
        5,
        60,
        300,
        300,
    ]


def test_bookkeeping_tasks_only_retry_lambda_service_errors(each_asl) -> None:
    asl = each_asl
    tasks = generate.node_tasks(asl)
    for name, state in asl["States"].items():
        if state["Type"] == "Task" and name not in tasks:
            assert state["Retry"] == [BOOKKEEPING.to_asl()], name


def test_the_deployed_transient_schedule_is_5s_1min_5min_5min_with_jitter(asl) -> None:
    (block,) = [b for b in asl["States"]["HttpRequest"]["Retry"] if "TransientError" in b["ErrorEquals"]]
    assert block["JitterStrategy"] == "FULL"
    ceilings = [
        min(block["IntervalSeconds"] * block["BackoffRate"] ** n, block["MaxDelaySeconds"])
        for n in range(block["MaxAttempts"])
    ]
    assert ceilings == [5, 60, 300, 300] == TRANSIENT.wait_ceilings()


def test_rate_limits_get_a_slower_retrier(asl) -> None:
    (block,) = [b for b in asl["States"]["HttpRequest"]["Retry"] if b["ErrorEquals"] == ["RateLimited"]]
    assert block == RATE_LIMITED.to_asl()
    assert RATE_LIMITED.wait_ceilings()[0] > TRANSIENT.wait_ceilings()[0]
    assert sum(RATE_LIMITED.wait_ceilings()) > sum(TRANSIENT.wait_ceilings())


def test_every_registered_node_type_routes_to_its_task_state_and_function(asl, template) -> None:
    routed = routes(asl)
    assert routed == {value: value for value in routed}, "a route value is the name of the state it leads to"
    tasks = {t.task for t in REGISTRY.types()}
    assert set(routed) == tasks | {continued_task(t) for t in tasks} | {"EndRun"}
    functions = template["Resources"]
    for node_type in REGISTRY.types():
        state = asl["States"][node_type.task]
        assert state["Parameters"]["FunctionName"] == "${" + node_type.function + "Arn}", node_type.name
        assert functions[node_type.function]["Type"] == "AWS::Serverless::Function", node_type.name


def test_a_short_retry_after_is_waited_for_before_routing(asl) -> None:
    first = asl["States"]["NextNode"]["Choices"][0]
    assert first == {"Variable": "$.retryAfterSeconds", "IsPresent": True, "Next": "RateLimitWait"}
    assert asl["States"]["RateLimitWait"]["SecondsPath"] == "$.retryAfterSeconds"


def test_a_handed_off_retry_waits_its_backoff_in_a_wait_state_of_its_own_then_runs_the_node_again(asl) -> None:
    states = asl["States"]
    assert {"Variable": "$.backoffSeconds", "IsPresent": True, "Next": "RetryBackoff"} in states["NextNode"]["Choices"]
    wait = states["RetryBackoff"]
    assert (wait["Type"], wait["SecondsPath"], wait["Next"]) == ("Wait", "$.backoffSeconds", "RunSameNodeAgain")
    # which drops the wait, keeping the node (its AfterHandOff task) to run
    assert set(states["RunSameNodeAgain"]["Parameters"]) == {"runId.$", "stepNumber.$", "node.$"}


def test_a_waiting_node_waits_in_a_wait_state_not_in_a_lambda_then_wakes_up(asl) -> None:
    assert {"Variable": "$.wait", "IsPresent": True, "Next": "WaitUntil"} in asl["States"]["NextNode"]["Choices"]
    wait = asl["States"]["WaitUntil"]
    assert (wait["Type"], wait["TimestampPath"], wait["Next"]) == ("Wait", "$.wait.until", "WakeUp")
    assert asl["States"]["WakeUp"]["Parameters"]["Payload"]["action"] == "wake_up"


def test_a_run_failing_at_a_step_ends_its_execution_in_success_and_only_engine_errors_fail_it(asl) -> None:
    states = asl["States"]
    fail_states = {name for name, state in states.items() if state["Type"] == "Fail"}
    assert fail_states == {"EngineFailed"}
    assert states["EngineFailed"]["Error"] == "EngineError"
    assert states["EndRun"].get("End") is True and "Next" not in states["EndRun"]  # succeeds, failed step or not
    assert states["RecordEngineError"]["Next"] == "EngineFailed"


@pytest.mark.parametrize(
    ("resource", "path", "kind"),
    [("FlowInterpreter", ASL_PATH, "STANDARD"), ("FlowInterpreterExpress", EXPRESS_PATH, "EXPRESS")],
)
def test_substitutions_match_the_template(template, resource, path, kind) -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", path.read_text()))
    machine = template["Resources"][resource]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == placeholders
    assert machine["DefinitionUri"] == f"statemachine/{path.name}"
    assert machine["Type"] == kind


# --- Express: the same interpreter, handing off wherever Standard would wait ----------------


def test_express_waits_nowhere_and_hands_off_where_standard_would_wait(express_asl) -> None:
    states = express_asl["States"]
    assert not [name for name, state in states.items() if state["Type"] == "Wait"]
    choices = states["NextNode"]["Choices"]
    assert {"Variable": "$.retryAfterSeconds", "IsPresent": True, "Next": HAND_OFF_TASK} in choices
    assert {"Variable": "$.wait", "IsPresent": True, "Next": HAND_OFF_TASK} in choices
    assert routes(express_asl) == {t.task: t.task for t in REGISTRY.types()} | {
        "EndRun": "EndRun",
        "HandOff": "HandOff",
    }


def test_express_node_tasks_retry_only_short_waits_and_hand_off_what_standard_would_retry(express_asl) -> None:
    for name, state in node_tasks(express_asl).items():
        assert state["Retry"] == [p.to_asl() for p in EXPRESS_RETRIERS], name
        assert state["Catch"] == express_node_catchers(HAND_OFF_TASK, "StepFailed", "RecordEngineError"), name
    handed_off = set(express_node_catchers(HAND_OFF_TASK, "StepFailed", "RecordEngineError")[0]["ErrorEquals"])
    assert handed_off == {error for profile in NODE_RETRIERS for error in profile.error_equals}
    # a transient error's first retry (at most 5 s) on Express; a 429 hands off at once
    (retry,) = EXPRESS_RETRIERS
    assert (retry.error_equals, retry.wait_ceilings()) == (TRANSIENT.error_equals, [5])


def test_the_hand_off_carries_the_whole_state_and_ends_the_express_execution(express_asl) -> None:
    hand_off = express_asl["States"][HAND_OFF_TASK]
    payload = hand_off["Parameters"]["Payload"]
    assert payload["action"] == "hand_off"
    assert (payload["state.$"], payload["executionArn.$"]) == ("$", "$$.Execution.Id")
    assert hand_off.get("End") is True
