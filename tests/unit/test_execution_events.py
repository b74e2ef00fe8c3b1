"""The local stack's EventBridge: pattern matching, the status-change events it builds, the rules it
reads from template.yaml (devstack/event_patterns.py, devstack/eventbridge.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest

from devstack.event_patterns import InvalidPattern, UnsupportedPattern, check, matches
from devstack.eventbridge import rule_targets, status_change_event
from devstack.template import Resolver
from tests.conftest import load_event

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:automations-local-FlowInterpreter"
ACCOUNT, REGION = "123456789012", "us-east-1"


def resolver_for(template: dict[str, Any]) -> Resolver:
    """Refs as the local stack makes them (the state machine's ARN, the queue's)."""
    resolver = Resolver(
        template,
        pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "automations-local"},
    )
    resolver.refs["FlowInterpreter"] = MACHINE
    resolver.attributes[("ExecutionEventFailures", "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:failures"
    return resolver


def the_rule(template: dict[str, Any]) -> Any:
    arns = {"ExecutionStatusFunction": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:status"}
    (rule,) = rule_targets(template, resolver_for(template), arns, account=ACCOUNT, region=REGION)
    return rule


def aborted(**detail: Any) -> dict[str, Any]:
    event = load_event("execution_status_aborted.json")
    event["detail"].update(detail)
    return event


# --- the template's rule ---------------------------------------------------------------------------------


def test_the_templates_rule_takes_the_sample_abort_of_the_interpreter(template) -> None:
    # Given the rule as the local stack reads it from template.yaml
    rule = the_rule(template)
    # Then the sample event matches it, and so do a timeout and a platform failure
    assert matches(rule.pattern, load_event("execution_status_aborted.json"))
    assert matches(rule.pattern, aborted(status="TIMED_OUT"))
    assert matches(rule.pattern, aborted(status="FAILED"))
    # And neither the interpreter's own endings, nor another machine's executions, nor other events do
    assert not matches(rule.pattern, aborted(status="SUCCEEDED"))
    assert not matches(rule.pattern, aborted(status="RUNNING"))
    assert not matches(rule.pattern, aborted(stateMachineArn=MACHINE.replace("FlowInterpreter", "Other")))
    assert not matches(rule.pattern, {**aborted(), "source": "aws.s3"})
    assert not matches(rule.pattern, {**aborted(), "detail-type": "Step Functions State Machine Status Change"})


def test_the_templates_rule_brings_its_retries_and_its_queues(template) -> None:
    rule = the_rule(template)
    assert (rule.rule_name, rule.function) == ("automations-local-execution-ended", "ExecutionStatusFunction")
    assert rule.rule_arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/automations-local-execution-ended"
    assert rule.retries == 185 and rule.async_retries == 2
    assert rule.dead_letter_arn == rule.on_failure_arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:failures"


@pytest.mark.parametrize(
    "change",
    [
        {"InputTransformer": {"InputTemplate": "<x>"}},
        {"Input": "{}"},
        {"EventBusName": "custom"},
        {"DeadLetterConfig": {"Type": "SQS"}},
        {"Pattern": {"source": [{"prefix": "aws."}]}},
    ],
)
def test_a_rule_the_local_stack_cannot_honour_fails_its_start(template, change: dict[str, Any]) -> None:
    changed = copy.deepcopy(template)
    (event,) = changed["Resources"]["ExecutionStatusFunction"]["Properties"]["Events"].values()
    event["Properties"].update(change)
    with pytest.raises(NotImplementedError):
        the_rule(changed)


def test_a_disabled_rule_delivers_nothing(template) -> None:
    changed = copy.deepcopy(template)
    (event,) = changed["Resources"]["ExecutionStatusFunction"]["Properties"]["Events"].values()
    event["Properties"]["State"] = "DISABLED"
    arns = {"ExecutionStatusFunction": "arn:aws:lambda:us-east-1:123456789012:function:status"}
    assert rule_targets(changed, resolver_for(changed), arns, account=ACCOUNT, region=REGION) == []


# --- pattern matching ------------------------------------------------------------------------------------


def test_every_field_named_must_match_one_of_its_values_and_others_are_not_looked_at() -> None:
    pattern = {"source": ["a", "b"], "detail": {"status": ["X"], "inner": {"n": [1]}}}
    assert matches(pattern, {"source": "b", "extra": 1, "detail": {"status": "X", "inner": {"n": 1, "m": 2}}})
    assert not matches(pattern, {"source": "c", "detail": {"status": "X", "inner": {"n": 1}}})
    assert not matches(pattern, {"source": "a", "detail": {"status": "Y", "inner": {"n": 1}}})
    assert not matches(pattern, {"source": "a", "detail": {"status": "X"}})  # a field the event lacks
    assert not matches(pattern, {"source": "a", "detail": "X"})  # an object pattern on a string


def test_an_array_in_the_event_matches_when_one_of_its_elements_does() -> None:
    pattern = {"resources": ["arn:x"]}
    assert matches(pattern, {"resources": ["arn:y", "arn:x"]})
    assert not matches(pattern, {"resources": ["arn:y"]})
    assert not matches(pattern, {"resources": []})


def test_values_match_exactly_strings_by_case_numbers_by_value_and_no_type_stands_for_another() -> None:
    assert not matches({"s": ["aborted"]}, {"s": "ABORTED"})
    assert matches({"n": [300]}, {"n": 300.0})
    assert not matches({"n": ["300"]}, {"n": 300})
    assert not matches({"b": [True]}, {"b": 1})
    assert not matches({"b": [1]}, {"b": True})
    assert matches({"v": [None]}, {"v": None})
    assert not matches({"v": [None]}, {"v": "null"})
    assert not matches({"v": [None]}, {})  # null matches a null value, not a missing field


@pytest.mark.parametrize(
    "pattern",
    [
        {"source": [{"prefix": "aws."}]},
        {"detail": {"status": [{"anything-but": ["SUCCEEDED"]}]}},
        {"detail": {"n": [{"numeric": [">", 0]}]}},
        {"detail": {"stopDate": [{"exists": True, "prefix": "2026"}]}},
        {"$or": [{"a": ["1"]}, {"b": ["2"]}]},
    ],
)
def test_content_filters_and_or_are_refused_not_misread(pattern: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedPattern):
        check(pattern)


def test_exists_matches_a_leaf_the_event_has_and_not_exists_one_it_lacks_even_with_its_parent() -> None:
    # Given the filters the stream uses on DynamoDB images (typed attributes)
    present = {"dynamodb": {"NewImage": {"outcome": {"S": [{"exists": True}]}}}}
    absent = {"dynamodb": {"NewImage": {"startedAt": {"S": [{"exists": False}]}}}}
    check(present)
    check(absent)
    ended = {"dynamodb": {"NewImage": {"outcome": {"S": "reached_end"}, "startedAt": {"S": "2026-01-01T00:00:00Z"}}}}
    requested = {"dynamodb": {"NewImage": {"name": {"S": "e0"}}}}
    # Then a leaf the image has exists, one it lacks (attribute and all) does not
    assert matches(present, ended) and not matches(present, requested)
    assert matches(absent, requested) and not matches(absent, ended)
    # and exists looks at leaves only: an object is not a value that exists
    assert not matches({"d": [{"exists": True}]}, {"d": {"S": "x"}})
    assert matches({"d": [{"exists": False}]}, {})
    assert not matches({"d": [{"exists": True}]}, {})


@pytest.mark.parametrize(
    "pattern",
    [{}, {"source": "aws.states"}, {"source": []}, {"d": {}}, [], {"s": [["a"]]}, {"s": [{"exists": "yes"}]}],
)
def test_patterns_eventbridge_refuses_are_refused(pattern: Any) -> None:
    with pytest.raises(InvalidPattern):
        check(pattern)


# --- the events the local stack emits ----------------------------------------------------------------------


def execution(status: str, **fields: Any) -> SimpleNamespace:
    """What the event is built from: moto's execution, as far as it is read."""
    values = {
        "exec_status": status,
        "execution_input": '{"runId":"run_01KAXDEMO000000000000000000"}',
        "output": None,
        "start_date": datetime(2026, 3, 2, 9, 15, 0, 312000, tzinfo=UTC),
        "stop_date": datetime(2026, 3, 2, 9, 15, 42, 576000, tzinfo=UTC),
        "account_id": ACCOUNT,
        "region_name": REGION,
        "exec_arn": MACHINE.replace(":stateMachine:", ":execution:") + ":run_01KAXDEMO000000000000000000",
        "state_machine_arn": MACHINE,
        "name": "run_01KAXDEMO000000000000000000",
        "error": None,
        "cause": None,
        **fields,
    }
    return SimpleNamespace(**values)


def test_an_abort_is_emitted_in_the_shape_of_the_sample_event() -> None:
    event = status_change_event(execution("ABORTED"))
    sample = load_event("execution_status_aborted.json")
    assert set(event) == set(sample) and set(event["detail"]) == set(sample["detail"])
    assert {k: v for k, v in event.items() if k != "id"} == {k: v for k, v in sample.items() if k != "id"}


def test_a_success_carries_its_output_and_a_running_execution_no_stop_date() -> None:
    succeeded = status_change_event(execution("SUCCEEDED", output={"runId": "r", "node": None}))["detail"]
    assert (succeeded["output"], succeeded["outputDetails"]) == ('{"runId":"r","node":null}', {"included": True})
    running = status_change_event(execution("RUNNING", stop_date=None))
    assert running["detail"]["stopDate"] is None and running["time"] == "2026-03-02T09:15:00Z"
    assert running["detail"]["output"] is None and running["detail"]["outputDetails"] is None


def test_an_input_too_large_for_an_event_is_left_out_as_step_functions_does() -> None:
    detail = status_change_event(execution("ABORTED", execution_input='"' + "x" * 300_000 + '"'))["detail"]
    assert (detail["input"], detail["inputDetails"]) == (None, {"included": False})
