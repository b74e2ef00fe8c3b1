"""The local stack's scheduler dispatcher and delivery, on moto's Scheduler, by a clock the test moves.

Each pass is run by hand (``run_pass``) against a fake clock, so what is due is decided exactly;
the end-to-end tests (tests/e2e/test_local_scheduler.py) show the same through the running stack.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.scheduler.models import EventBridgeSchedulerBackend
from moto.scheduler.responses import EventBridgeSchedulerResponse

from devstack import moto_patches, persistence
from devstack.clock import LocalClock
from devstack.schedule_targets import Deliverer, RetryLimits, with_context
from devstack.scheduler import Dispatcher, Firing, delete_unless_changed, moto_schedules

ACCOUNT, REGION = "123456789012", "us-east-1"
GROUP = "runs"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler"
FRIDAY = datetime(2027, 3, 26, 7, 0, tzinfo=UTC)  # the Friday before Europe's 2027 spring-forward


class Now:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


class Recorder:
    """A target that records each firing; ``fail`` makes it raise."""

    def __init__(self) -> None:
        self.firings: list[Firing] = []
        self.fail = False

    def __call__(self, firing: Firing) -> str:
        if self.fail:
            raise RuntimeError("a defect in delivery")
        self.firings.append(firing)
        return "delivered"

    def times(self) -> list[datetime]:
        return [f.occurrence for f in self.firings]


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    # the stack's patch, undone after the test (it replaces moto's methods for the process)
    for owner, method in [
        (EventBridgeSchedulerBackend, "create_schedule"),
        (EventBridgeSchedulerBackend, "update_schedule"),
        (EventBridgeSchedulerBackend, "delete_schedule"),
        (EventBridgeSchedulerResponse, "update_schedule"),
    ]:
        monkeypatch.setattr(owner, method, getattr(owner, method))
    moto_patches.schedules_as_aws_keeps_them()
    with mock_aws():
        scheduler = boto3.client("scheduler")
        scheduler.create_schedule_group(Name=GROUP)
        yield scheduler


@pytest.fixture
def now() -> Now:
    return Now(FRIDAY)


@pytest.fixture
def target() -> Recorder:
    return Recorder()


@pytest.fixture
def dispatcher(aws: Any, now: Now, target: Recorder) -> Iterator[Dispatcher]:
    dispatcher = dispatcher_for(now, target)
    yield dispatcher
    dispatcher.stop(wait_seconds=1)


def dispatcher_for(now: Now, target: Any, progress: dict[str, Any] | None = None) -> Dispatcher:
    return Dispatcher(
        now=now,
        read_schedules=moto_schedules(ACCOUNT, REGION),
        deliver=target,
        delete=delete_unless_changed(ACCOUNT, REGION),
        progress=progress,
    )


def schedule(scheduler: Any, name: str, expression: str, *, zone: str = "UTC", **extra: Any) -> None:
    target = {"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleArn": ROLE, "Input": "{}"}
    scheduler.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=expression,
        ScheduleExpressionTimezone=zone,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={**target, **extra.pop("Target", {})},
        **extra,
    )


def run_pass(dispatcher: Dispatcher) -> list[Firing]:
    fired = dispatcher.run_pass()
    assert dispatcher.wait_idle(5), "deliveries did not end"
    return fired


def exists(scheduler: Any, name: str) -> bool:
    try:
        scheduler.get_schedule(Name=name, GroupName=GROUP)
    except scheduler.exceptions.ResourceNotFoundException:
        return False
    return True


# --- one-time schedules ---------------------------------------------------------------------------


def test_an_at_schedule_fires_once_when_its_time_comes_then_is_deleted(aws, dispatcher, now, target) -> None:
    schedule(aws, "reminder", "at(2027-03-26T08:00:00)", ActionAfterCompletion="DELETE")
    assert run_pass(dispatcher) == []
    now.at = datetime(2027, 3, 26, 7, 59, 59, tzinfo=UTC)
    assert run_pass(dispatcher) == []
    now.at = datetime(2027, 3, 26, 8, 0, 0, tzinfo=UTC)
    (firing,) = run_pass(dispatcher)
    assert firing.occurrence == datetime(2027, 3, 26, 8, 0, tzinfo=UTC)
    assert firing.schedule.name == "reminder"
    assert not exists(aws, "reminder")
    now.at += timedelta(hours=1)
    assert run_pass(dispatcher) == []
    assert len(target.firings) == 1


def test_an_at_schedule_kept_after_completion_never_fires_again(aws, dispatcher, now, target) -> None:
    schedule(aws, "kept", "at(2027-03-26T07:30:00)")
    now.at = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)  # well past: fires once, at once
    assert [f.occurrence for f in run_pass(dispatcher)] == [datetime(2027, 3, 26, 7, 30, tzinfo=UTC)]
    now.at += timedelta(days=1)
    assert run_pass(dispatcher) == []
    assert exists(aws, "kept")


def test_an_at_time_is_wall_clock_time_in_the_schedules_zone(aws, dispatcher, now, target) -> None:
    schedule(aws, "berlin", "at(2027-03-26T09:00:00)", zone="Europe/Berlin")
    now.at = datetime(2027, 3, 26, 7, 59, tzinfo=UTC)
    assert run_pass(dispatcher) == []
    now.at = datetime(2027, 3, 26, 8, 0, tzinfo=UTC)
    assert target.times() == [] and len(run_pass(dispatcher)) == 1
    assert target.times() == [datetime(2027, 3, 26, 8, 0, tzinfo=UTC)]


def test_an_updated_schedule_starts_over_at_its_new_time(aws, dispatcher, now, target) -> None:
    schedule(aws, "moved", "at(2027-03-26T07:30:00)")
    now.at = datetime(2027, 3, 26, 7, 30, tzinfo=UTC)
    run_pass(dispatcher)
    aws.update_schedule(
        Name="moved",
        GroupName=GROUP,
        ScheduleExpression="at(2027-03-26T10:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleArn": ROLE},
        ActionAfterCompletion="DELETE",
    )
    assert aws.get_schedule(Name="moved", GroupName=GROUP)["ActionAfterCompletion"] == "DELETE"
    assert run_pass(dispatcher) == []
    now.at = datetime(2027, 3, 26, 10, 0, tzinfo=UTC)
    run_pass(dispatcher)
    assert target.times() == [datetime(2027, 3, 26, 7, 30, tzinfo=UTC), datetime(2027, 3, 26, 10, 0, tzinfo=UTC)]
    assert not exists(aws, "moved")


def test_a_schedule_updated_while_its_firing_was_delivered_is_not_deleted(aws, now) -> None:
    schedule(aws, "rescheduled", "at(2027-03-26T07:00:00)", ActionAfterCompletion="DELETE")

    def move_it_meanwhile(firing: Firing) -> str:
        aws.update_schedule(
            Name="rescheduled",
            GroupName=GROUP,
            ScheduleExpression="at(2027-03-27T07:00:00)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleArn": ROLE},
            ActionAfterCompletion="DELETE",
        )
        return "delivered"

    dispatcher = dispatcher_for(now, move_it_meanwhile)
    try:
        assert len(run_pass(dispatcher)) == 1
        assert aws.get_schedule(Name="rescheduled", GroupName=GROUP)["ScheduleExpression"] == "at(2027-03-27T07:00:00)"
    finally:
        dispatcher.stop(wait_seconds=1)


# --- recurring schedules ----------------------------------------------------------------------------


def test_a_9am_berlin_cron_fires_at_8z_before_and_7z_after_the_march_change(aws, dispatcher, now, target) -> None:
    schedule(aws, "weekdays", "cron(0 9 ? * MON-FRI *)", zone="Europe/Berlin")
    run_pass(dispatcher)  # first seen on Friday 07:00Z
    for hour in range(1, 24 * 4 + 1):  # hour by hour to Tuesday 07:00Z, across Sunday's change
        now.at = FRIDAY + timedelta(hours=hour)
        run_pass(dispatcher)
    assert target.times() == [
        datetime(2027, 3, 26, 8, 0, tzinfo=UTC),  # Friday, CET (+01:00)
        datetime(2027, 3, 29, 7, 0, tzinfo=UTC),  # Monday, CEST (+02:00)
        datetime(2027, 3, 30, 7, 0, tzinfo=UTC),  # Tuesday
    ]


def test_a_jump_past_several_occurrences_fires_once_for_the_latest(aws, dispatcher, now, target) -> None:
    schedule(aws, "hourly", "rate(1 hour)")
    run_pass(dispatcher)
    now.at = FRIDAY + timedelta(hours=5, minutes=30)
    run_pass(dispatcher)
    assert target.times() == [FRIDAY + timedelta(hours=5)]
    now.at = FRIDAY + timedelta(hours=5, minutes=59)
    run_pass(dispatcher)
    now.at = FRIDAY + timedelta(hours=6)
    run_pass(dispatcher)
    assert target.times() == [FRIDAY + timedelta(hours=5), FRIDAY + timedelta(hours=6)]


def test_a_yearly_cron_passed_long_ago_fires_for_its_latest_occurrence(aws, dispatcher, now, target) -> None:
    schedule(aws, "new-year", "cron(0 0 1 1 ? *)")
    run_pass(dispatcher)
    now.at = datetime(2030, 6, 1, tzinfo=UTC)
    run_pass(dispatcher)
    assert target.times() == [datetime(2030, 1, 1, tzinfo=UTC)]


def test_start_and_end_dates_bound_a_recurring_schedule(aws, dispatcher, now, target) -> None:
    schedule(
        aws,
        "bounded",
        "rate(1 hour)",
        StartDate=FRIDAY + timedelta(hours=2, minutes=30),
        EndDate=FRIDAY + timedelta(hours=4, minutes=45),
        ActionAfterCompletion="DELETE",
    )
    for minutes in range(0, 8 * 60, 15):
        now.at = FRIDAY + timedelta(minutes=minutes)
        run_pass(dispatcher)
    # the grid starts at StartDate; nothing after EndDate; then the completed schedule is deleted
    assert target.times() == [FRIDAY + timedelta(hours=h, minutes=30) for h in (2, 3, 4)]
    assert not exists(aws, "bounded")


def test_a_disabled_schedule_does_not_fire(aws, dispatcher, now, target) -> None:
    schedule(aws, "off", "rate(1 minute)", State="DISABLED")
    run_pass(dispatcher)
    now.at += timedelta(hours=1)
    assert run_pass(dispatcher) == []


# --- pause, restart, failures -------------------------------------------------------------------------


def test_paused_nothing_fires_resumed_what_fell_due_fires_once(aws, dispatcher, now, target) -> None:
    schedule(aws, "once", "at(2027-03-26T08:00:00)", ActionAfterCompletion="DELETE")
    dispatcher.pause()
    schedule(aws, "hourly", "rate(1 hour)")  # made while paused: its hours count from then
    run_pass(dispatcher)
    now.at = FRIDAY + timedelta(hours=3, minutes=10)
    assert run_pass(dispatcher) == [] and target.firings == []
    dispatcher.resume()
    run_pass(dispatcher)
    assert sorted((f.schedule.name, f.occurrence) for f in target.firings) == [
        ("hourly", FRIDAY + timedelta(hours=3)),
        ("once", datetime(2027, 3, 26, 8, 0, tzinfo=UTC)),
    ]
    assert run_pass(dispatcher) == []


def test_progress_kept_over_a_restart_neither_fires_again_nor_forgets_what_fell_due(aws, now, target) -> None:
    schedule(aws, "hourly", "rate(1 hour)")
    schedule(aws, "kept", "at(2027-03-26T07:30:00)")
    first = dispatcher_for(now, target)
    run_pass(first)
    now.at = FRIDAY + timedelta(hours=1)
    run_pass(first)
    first.stop(wait_seconds=1)
    with first.held() as progress:
        kept = pickle.loads(pickle.dumps(progress))
    assert sorted(target.times()) == [datetime(2027, 3, 26, 7, 30, tzinfo=UTC), FRIDAY + timedelta(hours=1)]
    # the stack was down for two and a half hours
    now.at = FRIDAY + timedelta(hours=3, minutes=30)
    second = dispatcher_for(now, target, progress=kept)
    try:
        fired = run_pass(second)
        assert [(f.schedule.name, f.occurrence) for f in fired] == [("hourly", FRIDAY + timedelta(hours=3))]
    finally:
        second.stop(wait_seconds=1)


def test_a_defect_in_delivery_is_logged_and_settles_the_firing(aws, dispatcher, now, target, caplog) -> None:
    schedule(aws, "boom", "at(2027-03-26T07:00:00)")
    target.fail = True
    assert len(run_pass(dispatcher)) == 1
    assert run_pass(dispatcher) == []  # not again and again
    target.fail = False
    schedule(aws, "after", "at(2027-03-26T07:00:00)")
    assert [f.schedule.name for f in run_pass(dispatcher)] == ["after"]


def test_a_schedule_moto_took_without_checks_is_reported_and_the_others_still_fire(aws, now, target) -> None:
    schedule(aws, "good", "at(2027-03-26T07:00:00)")
    from moto.scheduler.models import scheduler_backends

    broken = scheduler_backends[ACCOUNT][REGION].schedule_groups[GROUP].schedules["good"]
    bad = pickle.loads(pickle.dumps(broken))
    bad.name, bad.arn, bad.schedule_expression = "bad", broken.arn.replace("good", "bad"), "every day at 9"
    scheduler_backends[ACCOUNT][REGION].schedule_groups[GROUP].schedules["bad"] = bad
    dispatcher = dispatcher_for(now, target)
    try:
        assert [f.schedule.name for f in run_pass(dispatcher)] == ["good"]
    finally:
        dispatcher.stop(wait_seconds=1)


# --- moto's Scheduler, as AWS keeps schedules ----------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "zone"),
    [("cron(0 9 * * MON-FRI *)", "UTC"), ("at(2027-03-26 09:00)", "UTC"), ("rate(1 minute)", "Mars/Olympus")],
)
def test_a_bad_expression_or_zone_is_a_validation_error(aws, expression, zone) -> None:
    with pytest.raises(aws.exceptions.ValidationException):
        schedule(aws, "bad", expression, zone=zone)


def test_a_schedule_in_a_group_that_does_not_exist_is_not_found(aws) -> None:
    with pytest.raises(aws.exceptions.ResourceNotFoundException):
        aws.create_schedule(
            Name="x",
            GroupName="nope",
            ScheduleExpression="rate(1 minute)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:f", "RoleArn": ROLE},
        )


# --- delivery ----------------------------------------------------------------------------------------


def sfn_machine() -> str:
    definition = {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}
    return boto3.client("stepfunctions").create_state_machine(
        name="recorder", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def firing_for(aws: Any, name: str, occurrence: datetime = FRIDAY) -> Firing:
    from devstack.scheduler import ScheduleView

    (found,) = [s for s in moto_schedules(ACCOUNT, REGION)() if s.name == name]
    return Firing(ScheduleView.of(found), occurrence, "exec-1", occurrence)


def test_context_attributes_are_replaced_in_the_input(aws) -> None:
    schedule(aws, "ctx", "at(2027-03-26T07:00:00)")
    text = '{"at": "<aws.scheduler.scheduled-time>", "id": "<aws.scheduler.execution-id>", ' + (
        '"n": <aws.scheduler.attempt-number>, "arn": "<aws.scheduler.schedule-arn>"}'
    )
    replaced = json.loads(with_context(text, firing_for(aws, "ctx"), 2))
    assert replaced == {
        "at": "2027-03-26T07:00:00Z",
        "id": "exec-1",
        "n": 2,
        "arn": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{GROUP}/ctx",
    }


def test_the_universal_start_execution_target_starts_it_once(aws) -> None:
    machine = sfn_machine()
    start = {"StateMachineArn": machine, "Name": "run_1", "Input": '{"at": "<aws.scheduler.scheduled-time>"}'}
    schedule(
        aws,
        "start",
        "at(2027-03-26T07:00:00)",
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sfn:startExecution", "Input": json.dumps(start)},
    )
    deliver = Deliverer()
    assert deliver(firing_for(aws, "start")) == "delivered"
    assert deliver(firing_for(aws, "start")) == "delivered"  # ExecutionAlreadyExists: done already
    sfn = boto3.client("stepfunctions")
    (execution,) = sfn.list_executions(stateMachineArn=machine)["executions"]
    assert execution["name"] == "run_1"
    assert json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "at": "2027-03-26T07:00:00Z"
    }
    assert deliver.failures == deque_of()


def deque_of(*items: Any) -> Any:
    import collections

    return collections.deque(items, maxlen=100)


def test_an_undeliverable_firing_goes_to_its_dead_letter_queue(aws) -> None:
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="dead-letters")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    missing = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:missing"
    start = {"StateMachineArn": missing, "Name": "run_2", "Input": "{}"}
    schedule(
        aws,
        "doomed",
        "at(2027-03-26T07:00:00)",
        Target={
            "Arn": "arn:aws:scheduler:::aws-sdk:sfn:startExecution",
            "Input": json.dumps(start),
            "DeadLetterConfig": {"Arn": queue_arn},
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 60},
        },
    )
    deliver = Deliverer(RetryLimits(max_retries=2, retry_delay=0.01))
    assert deliver(firing_for(aws, "doomed")) == "dead-lettered"
    (message,) = sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(message["Body"]) == start
    attributes = {name: value["StringValue"] for name, value in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "StateMachineDoesNotExist"
    assert attributes["SCHEDULED_TIME"] == "2027-03-26T07:00:00Z"
    assert attributes["SCHEDULE_ARN"].endswith(f"schedule/{GROUP}/doomed")
    (failure,) = deliver.failures
    assert failure["outcome"] == "dead-lettered" and failure["attempts"] == 1  # not retryable: no retries


def test_without_a_dead_letter_queue_a_failure_is_logged_and_kept(aws) -> None:
    schedule(aws, "nowhere", "at(2027-03-26T07:00:00)", Target={"Arn": "arn:aws:events:us-east-1:1:event-bus/x"})
    deliver = Deliverer(RetryLimits(max_retries=2, retry_delay=0.01))
    assert deliver(firing_for(aws, "nowhere")) == "lost"
    (failure,) = deliver.failures
    assert failure["error"]["type"] == "ValidationException" and failure["deadLetterQueue"] is None


def test_retryable_failures_are_retried_per_the_retry_policy_scaled_down(aws, monkeypatch) -> None:
    schedule(aws, "flaky", "at(2027-03-26T07:00:00)", Target={"RetryPolicy": {"MaximumRetryAttempts": 1}})
    deliver = Deliverer(RetryLimits(max_retries=5, retry_delay=0.01))
    calls: list[str] = []

    def flaky(arn: str, payload: str, firing: Firing) -> None:
        calls.append(payload)
        from devstack.schedule_targets import TargetFailed

        raise TargetFailed("ServiceException", "try again", retryable=True)

    monkeypatch.setattr(deliver, "_invoke", flaky)
    assert deliver(firing_for(aws, "flaky")) == "lost"
    assert len(calls) == 2  # the first attempt and the policy's one retry
    assert deliver.failures[0]["attempts"] == 2


# --- the data directory ------------------------------------------------------------------------------------


def test_a_snapshot_keeps_the_schedules_the_progress_and_the_clock(aws, now, target, repo_table) -> None:
    schedule(aws, "hourly", "rate(1 hour)")
    dispatcher = dispatcher_for(now, target)
    run_pass(dispatcher)
    local_clock = LocalClock(offset=timedelta(days=3))

    class Poller:
        @staticmethod
        def checkpoint() -> dict[str, str]:
            return {}

        @staticmethod
        def between_batches():
            import contextlib

            return contextlib.nullcontext({})

    data, _ = persistence.capture(
        ACCOUNT, REGION, [repo_table], Poller(), None, clock=local_clock, scheduler=dispatcher
    )
    dispatcher.stop(wait_seconds=1)
    aws.delete_schedule(Name="hourly", GroupName=GROUP)
    snapshot = pickle.loads(data)
    persistence.restore(snapshot, ACCOUNT, REGION, [repo_table])
    assert exists(aws, "hourly")
    assert snapshot.clock.offset == timedelta(days=3)
    (arn,) = snapshot.scheduler.progress
    assert arn.endswith("schedule/runs/hourly") and snapshot.scheduler.progress[arn].cursor == FRIDAY


@pytest.fixture
def repo_table(aws: Any) -> str:
    boto3.client("dynamodb").create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    return "t"
