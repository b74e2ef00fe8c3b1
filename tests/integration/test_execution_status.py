"""ExecutionStatusFunction on moto: Step Functions' status-change events (events/execution_status_*.json)
record how an execution ended, and the stream's reaction makes its run ``interrupted``; and the local
stack's event bus that delivers them (devstack/eventbridge.py): retries, dead letters, on-failure records."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.attributes import from_item
from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.scheduler import get_schedules
from automations.domain.runs import Run
from automations.logic.change_router import TableChange
from automations.logic.reactions import ROUTER, ReactionDeps
from devstack.eventbridge import EventBus, RuleTarget, _FunctionFailed
from devstack.schedule_targets import RetryLimits
from tests.conftest import TABLE, load_event
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run
from tests.support.fakes import RecordingWorkflows
from tests.support.stack_client import wait_for

RUN_ID = DEMO_RUN_ID


def event(**detail: Any) -> dict[str, Any]:
    """events/execution_status_aborted.json, with ``detail`` changed."""
    sample = copy.deepcopy(load_event("execution_status_aborted.json"))
    sample["detail"].update(detail)
    return sample


def execution_item(name: str = RUN_ID) -> dict[str, Any] | None:
    raw = boto3.client("dynamodb").get_item(
        TableName=TABLE, Key={k: {"S": v} for k, v in keys.execution(RUN_ID, name).items()}
    )
    return from_item(raw["Item"]) if "Item" in raw else None


@pytest.fixture
def status_function(handler_of, lambda_context):
    handler = handler_of("ExecutionStatusFunction")
    return lambda change: handler(change, lambda_context)


@pytest.fixture
def waiting_run(repo: DynamoRepository, handler_of, lambda_context) -> Run:
    """The demo run, started by its execution and waiting in a day-long delay (its step `running`)."""
    run = seed_demo_run(repo, [{"id": "wait_a_day", "type": "delay", "seconds": 86400}], {"email": "ada@example.com"})
    started = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    assert started["node"]["id"] == "wait_a_day"
    waiting = handler_of("ComputeNodeFunction")(
        {"runId": RUN_ID, "stepNumber": 1, "nodeId": "wait_a_day"}, lambda_context
    )
    assert "wait" in waiting
    return run


def test_an_aborted_execution_is_recorded_and_its_run_and_step_become_interrupted(
    repo: DynamoRepository, status_function, waiting_run: Run
) -> None:
    # Given the run's first execution waits in its delay: the run's start claimed it, so the run is
    # its only record so far
    assert execution_item() is None
    # When Step Functions reports it ABORTED (the sample event: stopped in the console)
    result = status_function(load_event("execution_status_aborted.json"))
    # Then the end is recorded on the execution, as the platform's (resumable) doing, with its start
    assert result == {"runId": RUN_ID, "execution": RUN_ID, "status": "ABORTED", "recorded": True}
    after = execution_item()
    assert after is not None and after["outcome"] == "aborted" and after["endedAt"]
    assert after["error"]["type"] == "ExecutionAborted" and after["error"]["retryable"] is True
    assert after["startedAt"] == repo.get_run(RUN_ID).started_at and after["dueAt"] == waiting_run.scheduled_for
    # And when the stream delivers that change, the run and its step in flight are interrupted
    deps = ReactionDeps(store=repo, workflows=RecordingWorkflows(), schedules=get_schedules())
    assert ROUTER.route(TableChange(event="INSERT", new=after, old=None), deps)
    detail = repo.get_run_detail(RUN_ID)
    assert detail.run.status == "interrupted"
    assert [(s.node_id, s.status) for s in detail.steps] == [("wait_a_day", "interrupted")]


def test_the_cause_given_to_stop_execution_is_the_recorded_message(status_function, waiting_run: Run) -> None:
    status_function(event(error="Stopped", cause="the run was cancelled by an operator"))
    assert execution_item()["error"]["message"] == "the run was cancelled by an operator"


def test_a_redelivered_event_records_nothing_more(status_function, waiting_run: Run) -> None:
    assert status_function(load_event("execution_status_aborted.json"))["recorded"] is True
    first = execution_item()
    # EventBridge delivers at least once: the same event again
    assert status_function(load_event("execution_status_aborted.json"))["recorded"] is False
    assert execution_item() == first


def test_a_succeeded_execution_changes_nothing(status_function, waiting_run: Run) -> None:
    before = execution_item()
    assert status_function(event(status="SUCCEEDED", output='{"runId":"x"}'))["recorded"] is False
    assert execution_item() == before


def test_an_execution_whose_end_the_interpreter_recorded_stays_as_recorded(
    handler_of, lambda_context, status_function, waiting_run: Run
) -> None:
    # Given the interpreter reached its end (EndRun recorded it)
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_end.json"), lambda_context)
    assert execution_item()["outcome"] == "reached_end"
    # When Step Functions then reports the execution FAILED (say, a late platform failure)
    assert status_function(event(status="FAILED", error="States.Runtime", cause="x"))["recorded"] is False
    # Then the interpreter's own word stands
    assert execution_item()["outcome"] == "reached_end"


def test_without_its_input_the_run_is_found_by_the_executions_name(status_function, waiting_run: Run) -> None:
    # An event whose payload was too large leaves the input out
    left_out = {"input": None, "inputDetails": {"included": False}}
    assert status_function(event(**left_out))["recorded"] is True  # `<runId>`
    later = status_function(event(name=f"{RUN_ID}-r2", **left_out))  # `<runId>-r<n>`, never recorded here
    assert (later["runId"], later["recorded"]) == (RUN_ID, False)


# --- the local stack's event bus: delivery, retries, and what could not be delivered -------------------------

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:automations-local-ExecutionStatusFunction"


@pytest.fixture
def queue(aws_env) -> Iterator[tuple[str, str]]:
    """An SQS queue in moto: (url, arn)."""
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="execution-event-failures")["QueueUrl"]
        yield url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def rule(queue_arn: str | None = None, **changes: Any) -> RuleTarget:
    values: dict[str, Any] = {
        "rule_name": "automations-local-execution-ended",
        "rule_arn": "arn:aws:events:us-east-1:123456789012:rule/automations-local-execution-ended",
        "function": "ExecutionStatusFunction",
        "function_arn": FUNCTION_ARN,
        "pattern": {"source": ["aws.states"], "detail": {"status": ["ABORTED", "TIMED_OUT", "FAILED"]}},
        "retries": 185,
        "dead_letter_arn": queue_arn,
        "async_retries": 2,
        "on_failure_arn": queue_arn,
    }
    return RuleTarget(**{**values, **changes})


def service_error(code: str = "ServiceException", status: int = 500) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "it failed"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Invoke"
    )


class Target:
    """Stands in for the Lambda invocation: fails as scripted, then records what it was given."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, target: RuleTarget, event: dict[str, Any]) -> None:
        self.calls.append(event)
        if self.failures:
            raise self.failures.pop(0)


def delivering(target: Target, *rules: RuleTarget) -> EventBus:
    bus = EventBus(RetryLimits(max_retries=2, retry_delay=0.001))
    bus.route(list(rules))
    bus._invoke = target  # type: ignore[method-assign]
    return bus


def messages(url: str) -> list[dict[str, Any]]:
    return (
        boto3.client("sqs")
        .receive_message(QueueUrl=url, MessageAttributeNames=["All"], MaxNumberOfMessages=10)
        .get("Messages", [])
    )


def test_put_never_waits_and_only_matching_events_are_delivered_in_order(queue) -> None:
    # Given a bus whose target is busy with the first event until released
    release, busy = threading.Event(), threading.Event()
    delivered: list[str] = []

    def slow(target: RuleTarget, event: dict[str, Any]) -> None:
        busy.set()
        release.wait(10)
        delivered.append(event["detail"]["name"])

    bus = delivering(Target())
    bus._invoke = slow  # type: ignore[method-assign]
    bus.route([rule()])
    bus.start()
    try:
        bus.put(event(name="first"))
        assert busy.wait(10)
        # When more events are put while it is busy (the status changes of any execution)
        bus.put(event(name="running", status="RUNNING"))
        bus.put(event(name="second"))
        # Then put returned at once, the events wait their turn, and matching ones are delivered in order
        assert bus.status()["pending"] == 2
        release.set()
        wait_for(lambda: bus.status()["delivered"] == 2, timeout=10, what="the deliveries")
        assert delivered == ["first", "second"]
        assert (bus.status()["put"], bus.status()["matched"], bus.status()["failures"]) == (3, 2, [])
    finally:
        release.set()
        bus.stop(timeout=5)


def test_a_lambda_service_error_is_retried_and_the_event_delivered(queue) -> None:
    target = Target(service_error(), service_error("TooManyRequestsException", 429))
    bus = delivering(target, rule(queue[1]))
    bus._deliver(bus.targets[0], event())
    assert len(target.calls) == 3 and bus.delivered == 1 and not bus.failures and not messages(queue[0])


def test_an_event_eventbridge_cannot_hand_over_goes_to_the_dead_letter_queue_with_why(queue) -> None:
    url, arn = queue
    bus = delivering(Target(*[service_error()] * 5), rule(arn))
    aborted = event()
    bus._deliver(bus.targets[0], aborted)
    (message,) = messages(url)
    assert json.loads(message["Body"]) == aborted
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes == {
        "RULE_ARN": "arn:aws:events:us-east-1:123456789012:rule/automations-local-execution-ended",
        "TARGET_ARN": FUNCTION_ARN,
        "ERROR_CODE": "ServiceException",
        "ERROR_MESSAGE": "it failed",
        "EXHAUSTED_RETRY_CONDITION": "MaximumRetryAttempts",
        "RETRY_ATTEMPTS": "2",  # the local scale of the rule's 185
    }
    (failure,) = bus.failures
    assert (failure["outcome"], failure["queue"], failure["error"]["type"]) == ("queued", arn, "ServiceException")


def test_a_missing_function_is_not_retried(queue) -> None:
    target = Target(service_error("ResourceNotFoundException", 404))
    bus = delivering(target, rule(queue[1]))
    bus._deliver(bus.targets[0], event())
    (message,) = messages(queue[0])
    assert len(target.calls) == 1 and message["MessageAttributes"]["RETRY_ATTEMPTS"]["StringValue"] == "0"


def test_a_function_that_keeps_failing_is_retried_by_lambda_then_recorded_on_failure(queue) -> None:
    url, arn = queue
    error = {"errorType": "ProvisionedThroughputExceededException", "errorMessage": "throttled"}
    target = Target(*[_FunctionFailed(error)] * 3)
    bus = delivering(target, rule(arn))
    aborted = event()
    bus._deliver(bus.targets[0], aborted)
    # Lambda's asynchronous invocation: the first try and its 2 retries, then the on-failure record
    assert len(target.calls) == 3
    (message,) = messages(url)
    record = json.loads(message["Body"])
    assert record["requestPayload"] == aborted and record["responsePayload"] == error
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == f"{FUNCTION_ARN}:$LATEST"


def test_without_a_queue_an_undelivered_event_is_kept_and_logged_as_lost(queue) -> None:
    bus = delivering(Target(*[service_error()] * 5), rule(None))
    bus._deliver(bus.targets[0], event())
    (failure,) = bus.failures
    assert failure["outcome"] == "lost" and failure["status"] == "ABORTED"
