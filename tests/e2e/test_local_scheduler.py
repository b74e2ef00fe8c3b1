"""Issue #8, the local stack's side of time: a clock tests move, schedules fired as EventBridge
Scheduler fires them (one-time and recurring, in their time zones), and Wait states that follow the
clock, all through the running stack (its HTTP API and its moto endpoint).

These tests move the clock by days and months, so they run on a stack of their own (module-scoped):
the session's shared stack stays at the machine's time for tests that sign or compare with it.
Every time here is still computed from the stack's own ``clock_now()``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from automations.domain import clock
from devstack.api_gateway import proxy_event
from tests.support.stack_client import StackClient, local_stack_process, running_local_stack, step_of, wait_for

pytestmark = pytest.mark.e2e

START_EXECUTION = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
ROLE = "arn:aws:iam::123456789012:role/automations-local-SchedulerRole"
RUN_GROUP = "automations-local-runs"  # the template's RunSchedules group
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(scope="module")
def time_stack() -> Iterator[StackClient]:
    """A local stack whose clock these tests may move as far as they like."""
    with running_local_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def recorder(time_stack: StackClient) -> str:
    """A state machine that does nothing: each firing aimed at it leaves an execution whose input
    is what the schedule delivered."""
    definition = {"StartAt": "Recorded", "States": {"Recorded": {"Type": "Pass", "End": True}}}
    return time_stack.aws("stepfunctions").create_state_machine(
        name=f"recorder-{uuid.uuid4().hex[:8]}", definition=json.dumps(definition), roleArn=ROLE
    )["stateMachineArn"]


def start_recorder(recorder: str, label: str) -> dict[str, str]:
    """A universal StartExecution target: one execution per firing, its input naming the occurrence."""
    start = {
        "StateMachineArn": recorder,
        "Name": f"{label}-<aws.scheduler.execution-id>",
        "Input": json.dumps({"label": label, "scheduledTime": "<aws.scheduler.scheduled-time>"}),
    }
    return {"Arn": START_EXECUTION, "RoleArn": ROLE, "Input": json.dumps(start)}


def recorded(stack: StackClient, recorder: str, label: str) -> list[str]:
    """The scheduled times the recorder received for ``label``, in order."""
    sfn = stack.aws("stepfunctions")
    times = []
    for execution in sfn.list_executions(stateMachineArn=recorder)["executions"]:
        if execution["name"].startswith(f"{label}-"):
            delivered = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
            times.append(delivered["scheduledTime"])
    return sorted(times)


def create_schedule(stack: StackClient, name: str, expression: str, target: dict[str, Any], **extra: Any) -> None:
    stack.aws("scheduler").create_schedule(
        Name=name,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target=target,
        **extra,
    )


def schedule_exists(stack: StackClient, name: str, group: str = "default") -> bool:
    scheduler = stack.aws("scheduler")
    try:
        scheduler.get_schedule(Name=name, GroupName=group)
    except scheduler.exceptions.ResourceNotFoundException:
        return False
    return True


def passes(stack: StackClient, count: int = 3) -> None:
    """Let the dispatcher look at every schedule ``count`` more times (to show what did not fire)."""
    start = stack.scheduler()["passes"]
    wait_for(lambda: stack.scheduler()["passes"] >= start + count, timeout=10, what=f"{count} dispatcher passes")


def at_expression(moment: datetime, zone: ZoneInfo | None = None) -> str:
    """``at(...)`` for ``moment`` (whole seconds, rounded up) as wall-clock time in ``zone``."""
    moment = moment.replace(microsecond=0) + timedelta(seconds=1 if moment.microsecond else 0)
    return f"at({moment.astimezone(zone or UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


def wire(moment: datetime) -> str:
    """How ``<aws.scheduler.scheduled-time>`` writes a time."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- the clock ---------------------------------------------------------------------------------------


def test_the_clock_moves_forward_only(time_stack: StackClient) -> None:
    before = time_stack.clock_now()
    assert abs(before - datetime.now(UTC)) < timedelta(days=366 * 3)  # some real time, maybe moved
    assert time_stack.advance("PT2H") >= before + timedelta(hours=2)
    later = before + timedelta(days=1, minutes=5)
    assert time_stack.set_clock(later) == later
    for body in ({"set": clock.iso(before)}, {"advance": "-PT1H"}, {"advance": "soon"}, {"set": "tomorrow"}, {}):
        response = requests.post(f"{time_stack.url}/_local/clock", json=body, timeout=5)
        assert response.status_code == 400, (body, response.text)
        assert set(response.json()["error"]) == {"type", "message"}
    assert later <= time_stack.clock_now() < later + timedelta(minutes=1)  # refused moves changed nothing


# --- one-time schedules -----------------------------------------------------------------------------


def test_a_one_time_schedule_fires_when_the_clock_passes_it_and_not_before(time_stack, recorder) -> None:
    due = time_stack.clock_now() + timedelta(hours=1)
    name = f"once-{uuid.uuid4().hex[:8]}"
    create_schedule(
        time_stack,
        name,
        at_expression(due),
        start_recorder(recorder, name),
        GroupName=RUN_GROUP,
        ActionAfterCompletion="DELETE",
    )
    time_stack.advance("PT30M")
    passes(time_stack)
    assert recorded(time_stack, recorder, name) == []
    assert schedule_exists(time_stack, name, RUN_GROUP)
    time_stack.advance("PT31M")
    wait_for(lambda: recorded(time_stack, recorder, name), timeout=10, what="the schedule to fire")
    assert recorded(time_stack, recorder, name) == [wire(due.replace(microsecond=0) + timedelta(seconds=1))]
    wait_for(lambda: not schedule_exists(time_stack, name, RUN_GROUP), timeout=10, what="the schedule to go")
    passes(time_stack)
    assert len(recorded(time_stack, recorder, name)) == 1


def flow_creating_target(stack: StackClient, label: str) -> dict[str, str]:
    """A Lambda target: ApiFunction, with an API Gateway event that creates a flow whose name carries
    the scheduled time and the schedule's ARN. Flows are kept with the stack's data, and listed over
    HTTP they show what each firing delivered."""
    flow = {
        "name": f"{label} at <aws.scheduler.scheduled-time> by <aws.scheduler.schedule-arn>",
        "trigger": {"type": "webhook"},
        "nodes": [{"id": "note", "type": "set", "values": {"n": "1"}}],
    }
    headers = {"Content-Type": ["application/json"], "Authorization": [f"Bearer {stack.api_key}"]}
    event = proxy_event("POST", "/flows", headers, json.dumps(flow).encode(), "127.0.0.1")
    functions = requests.get(f"{stack.url}/_local/functions", timeout=10).json()["functions"]
    return {"Arn": functions["ApiFunction"]["arn"], "RoleArn": ROLE, "Input": json.dumps(event)}


def flows_made_by(stack: StackClient, label: str) -> list[str]:
    flows = stack.request("GET", "/flows", params={"limit": 100}).json()["items"]
    return sorted(f["name"] for f in flows if f["name"].startswith(f"{label} at "))


def test_a_lambda_target_is_invoked_with_the_context_attributes(time_stack: StackClient) -> None:
    due = time_stack.clock_now() + timedelta(minutes=10)
    name = f"lambda-{uuid.uuid4().hex[:8]}"
    target = flow_creating_target(time_stack, name)
    create_schedule(time_stack, name, at_expression(due), target, ActionAfterCompletion="DELETE")
    time_stack.advance("PT11M")
    (made,) = wait_for(lambda: flows_made_by(time_stack, name), timeout=15, what="the scheduled flow")
    assert made == f"{name} at {wire(due.replace(microsecond=0) + timedelta(seconds=1))} by " + (
        f"arn:aws:scheduler:us-east-1:123456789012:schedule/default/{name}"
    )


def test_an_undeliverable_firing_lands_in_the_dead_letter_queue(time_stack: StackClient) -> None:
    sqs = time_stack.aws("sqs")
    queue = sqs.get_queue_url(QueueName="automations-local-SchedulerDeadLetters")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    name = f"doomed-{uuid.uuid4().hex[:8]}"
    missing = {"StateMachineArn": f"arn:aws:states:us-east-1:123456789012:stateMachine:{name}", "Name": name}
    target = {
        "Arn": START_EXECUTION,
        "RoleArn": ROLE,
        "Input": json.dumps(missing),
        "DeadLetterConfig": {"Arn": queue_arn},
    }
    create_schedule(time_stack, name, at_expression(time_stack.clock_now()), target, GroupName=RUN_GROUP)
    time_stack.advance("PT1S")

    def dead_letter() -> dict[str, Any] | None:
        for message in sqs.receive_message(QueueUrl=queue, MessageAttributeNames=["All"], WaitTimeSeconds=0).get(
            "Messages", []
        ):
            if json.loads(message["Body"]).get("Name") == name:
                return message
        return None

    message = wait_for(dead_letter, timeout=15, what="the dead-letter event")
    assert message["MessageAttributes"]["ERROR_CODE"]["StringValue"] == "StateMachineDoesNotExist"
    failures = [f for f in time_stack.scheduler()["failures"] if f["schedule"].endswith(f"/{name}")]
    assert [(f["outcome"], f["deadLetterQueue"]) for f in failures] == [("dead-lettered", queue_arn)]


# --- recurring schedules ------------------------------------------------------------------------------


def last_sunday_of_march(year: int) -> datetime:
    day = datetime(year, 3, 31, tzinfo=UTC)
    return day - timedelta(days=(day.weekday() + 1) % 7)


def test_a_9am_berlin_weekday_cron_fires_at_8z_before_and_7z_after_the_march_change(time_stack, recorder) -> None:
    now = time_stack.clock_now()
    year = now.year
    while last_sunday_of_march(year) - timedelta(days=2, hours=1) <= now:  # Friday 23:00Z before it
        year += 1
    change = last_sunday_of_march(year)  # 2027-03-28 while the machine's clock is before that Friday
    friday, monday = (change - timedelta(days=2)).date(), (change + timedelta(days=1)).date()
    time_stack.set_clock(datetime(friday.year, friday.month, friday.day, 7, 0, tzinfo=UTC))
    name = f"berlin-{uuid.uuid4().hex[:8]}"
    create_schedule(
        time_stack,
        name,
        "cron(0 9 ? * MON-FRI *)",
        start_recorder(recorder, name),
        ScheduleExpressionTimezone="Europe/Berlin",
    )
    passes(time_stack)  # seen on Friday at 07:00Z: its next occurrence is 09:00 in Berlin
    before = datetime(friday.year, friday.month, friday.day, 8, 0, tzinfo=UTC)
    after = datetime(monday.year, monday.month, monday.day, 7, 0, tzinfo=UTC)
    assert before.astimezone(BERLIN).hour == after.astimezone(BERLIN).hour == 9
    time_stack.set_clock(before + timedelta(seconds=30))
    wait_for(lambda: recorded(time_stack, recorder, name), timeout=10, what="Friday's firing")
    time_stack.set_clock(after - timedelta(minutes=1))  # across the weekend and the change
    passes(time_stack)
    assert recorded(time_stack, recorder, name) == [wire(before)]
    time_stack.set_clock(after + timedelta(seconds=30))
    wait_for(lambda: len(recorded(time_stack, recorder, name)) == 2, timeout=10, what="Monday's firing")
    assert recorded(time_stack, recorder, name) == [wire(before), wire(after)]
    time_stack.aws("scheduler").delete_schedule(Name=name)


# --- pause and resume ----------------------------------------------------------------------------------


def test_paused_nothing_fires_and_resumed_what_fell_due_fires_once(time_stack, recorder) -> None:
    once, hourly = f"paused-once-{uuid.uuid4().hex[:6]}", f"paused-hourly-{uuid.uuid4().hex[:6]}"
    due = time_stack.clock_now() + timedelta(minutes=30)
    once_target = start_recorder(recorder, once)
    create_schedule(time_stack, once, at_expression(due), once_target, ActionAfterCompletion="DELETE")
    create_schedule(time_stack, hourly, "rate(1 hour)", start_recorder(recorder, hourly))
    passes(time_stack)  # both seen: the hourly one counts its hours from here
    assert time_stack.pause_scheduler()["paused"] is True
    try:
        moved_to = time_stack.advance("PT3H30M")
        passes(time_stack)
        assert recorded(time_stack, recorder, once) == recorded(time_stack, recorder, hourly) == []
    finally:
        assert time_stack.resume_scheduler()["paused"] is False
    wait_for(
        lambda: recorded(time_stack, recorder, once) and recorded(time_stack, recorder, hourly),
        timeout=10,
        what="what fell due to fire",
    )
    passes(time_stack)
    assert recorded(time_stack, recorder, once) == [wire(due.replace(microsecond=0) + timedelta(seconds=1))]
    (latest,) = recorded(time_stack, recorder, hourly)  # once, for the latest occurrence missed
    assert moved_to - timedelta(hours=1) < clock.parse_iso(latest) <= moved_to
    time_stack.aws("scheduler").delete_schedule(Name=hourly)


# --- Wait states ------------------------------------------------------------------------------------------


def test_a_delay_of_a_day_completes_when_the_clock_is_advanced_a_day(time_stack: StackClient) -> None:
    flow = time_stack.create_flow(
        [
            {"id": "wait", "type": "delay", "seconds": 24 * 3600},
            {"id": "after", "type": "set", "values": {"woke": "yes"}},
        ],
        name="a day's delay",
    )
    run_id = time_stack.trigger(flow, {"n": 1})

    def waiting() -> str | None:
        steps = {s["nodeId"]: s for s in time_stack.run(run_id)["steps"]}
        return steps.get("wait", {}).get("wakeAt")

    wake_at = clock.parse_iso(wait_for(waiting, timeout=30, what="the delay to start waiting"))
    assert wake_at - time_stack.clock_now() > timedelta(hours=23)
    passes(time_stack)
    assert time_stack.run(run_id)["status"] == "running"
    time_stack.advance("P1D")
    run = time_stack.wait_for_run(run_id, timeout=15)
    assert run["status"] == "completed", run
    wait = step_of(run, "wait")
    assert clock.parse_iso(wait["output"]["wokeAt"]) >= wake_at
    assert step_of(run, "after")["output"] == {"woke": "yes"}


# --- a restart -----------------------------------------------------------------------------------------


def test_the_clock_schedules_and_what_they_did_survive_a_restart(tmp_path: Path) -> None:
    fired, later, missed = (f"{what}-{uuid.uuid4().hex[:6]}" for what in ("fired", "later", "missed"))
    with local_stack_process(tmp_path, label="first stack") as first:
        stack = first.client
        moved = stack.advance("P2D")
        # fired before the stop, and kept: it must not fire again after the restart
        create_schedule(stack, fired, at_expression(moved), flow_creating_target(stack, fired))
        wait_for(lambda: flows_made_by(stack, fired), timeout=15, what="the first firing")
        # falls due while the dispatcher is paused: fires only after the restart, then is deleted
        due = moved + timedelta(hours=1)
        target = flow_creating_target(stack, later)
        create_schedule(stack, later, at_expression(due), target, ActionAfterCompletion="DELETE")
        # hourly; its hours pass while paused, so one falls due that only the kept progress knows of
        create_schedule(stack, missed, "rate(1 hour)", flow_creating_target(stack, missed))
        passes(stack)
        stack.pause_scheduler()
        stopped_at = stack.advance("PT1H30M")
        passes(stack)
        assert flows_made_by(stack, missed) == []
        assert first.stop() == 0
    with local_stack_process(tmp_path, label="restarted stack") as second:
        stack = second.client
        assert stack.clock_now() >= stopped_at
        assert stack.scheduler()["paused"] is False  # a new start fires again
        wait_for(lambda: flows_made_by(stack, missed), timeout=15, what="the hour missed before the stop")
        wait_for(lambda: not schedule_exists(stack, later), timeout=15, what="the one-time schedule to fire")
        assert len(flows_made_by(stack, later)) == 1
        passes(stack)
        assert len(flows_made_by(stack, fired)) == 1
        assert len(flows_made_by(stack, missed)) == 1
