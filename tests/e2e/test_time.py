"""Time through the local stack: event triggers scheduled relative to their data, withdrawal and
reschedule, recurring flows across a daylight-saving change, an outage caught up from the Overdue
index, delays and manual runs, all on the stack's clock (issue #8, "What it must show").

The stack and its clock are shared by the whole session, and the clock only moves forward: every
time here is computed from ``stack.clock_now()``, and moves use absolute times (``set_clock``)
wherever a boundary matters, so the real seconds a test takes never shift what it expects.
Event types carry a per-test tag, so one test's events reach only its own flows.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from automations.domain import clock
from devstack.stack import STACK
from devstack.template import Resolver, load_template
from tests.support.stack_client import TERMINAL, StackClient, statuses, step_of, wait_for

pytestmark = pytest.mark.e2e

# The one-time schedules that start runs live in the template's RunSchedules group.
SCHEDULE_GROUP = Resolver(load_template(), pseudo={"AWS::StackName": STACK}).resolve(
    load_template()["Resources"]["RunSchedules"]["Properties"]["Name"]
)


# --- helpers --------------------------------------------------------------------------------


def tag() -> str:
    return uuid.uuid4().hex[:10]


def now(stack: StackClient) -> datetime:
    """The stack's clock, to the whole second (so the times built from it print without fractions)."""
    return stack.clock_now().astimezone(UTC).replace(microsecond=0)


def move_clock_to(stack: StackClient, moment: datetime) -> None:
    """Forward to ``moment`` (no move if the clock is there already: it never goes back)."""
    if moment > now(stack):
        stack.set_clock(moment)


def z(moment: datetime) -> str:
    return clock.iso(moment)


def at(text: str) -> datetime:
    return clock.parse_iso(text)


def scheduler(stack: StackClient) -> Any:
    return boto3.client(
        "scheduler",
        endpoint_url=stack.moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def schedule_names(stack: StackClient) -> set[str]:
    pages = scheduler(stack).get_paginator("list_schedules").paginate(GroupName=SCHEDULE_GROUP)
    return {s["Name"] for page in pages for s in page["Schedules"]}


def schedules_of(stack: StackClient, run_id: str) -> set[str]:
    """The run's schedules: named after its executions (the run id, then ``<run id>-r<n>``)."""
    return {name for name in schedule_names(stack) if name == run_id or name.startswith(f"{run_id}-")}


def dispatcher_passes(stack: StackClient) -> int:
    return int(stack.scheduler()["passes"])


def let_the_dispatcher_look(stack: StackClient, passes: int = 3) -> None:
    """Wait until the dispatcher has looked at every schedule ``passes`` more times (to show a negative)."""
    start = dispatcher_passes(stack)
    wait_for(lambda: dispatcher_passes(stack) >= start + passes, timeout=10, what=f"{passes} dispatcher passes")


def create_flow(stack: StackClient, trigger: dict[str, Any], nodes: list[dict[str, Any]], name: str = "e2e time"):
    response = stack.request("POST", "/flows", json={"name": name, "trigger": trigger, "nodes": nodes})
    assert response.status_code == 201, response.text
    return response.json()


def calls_with_fired_at(target, path: str) -> list[dict[str, Any]]:
    """One node: POST the occurrence's time (trigger.firedAt) to the target at ``path``."""
    url = target.script(path, 200)
    return [
        {
            "id": "call",
            "type": "http_request",
            "method": "POST",
            "url": url,
            "body": {"firedAt": "{{ trigger.firedAt }}"},
        }
    ]


def post_event(stack: StackClient, event_type: str, data: Any, event_id: str | None = None) -> dict[str, Any]:
    response = stack.request(
        "POST", "/events", json={"id": event_id or f"evt-{tag()}", "type": event_type, "data": data}
    )
    assert response.status_code == 202, response.text
    return response.json()


def run_manually(stack: StackClient, flow_id: str, data: Any, when: datetime | None = None, **headers: str):
    body: dict[str, Any] = {"data": data, **({"at": z(when)} if when is not None else {})}
    response = stack.request("POST", f"/flows/{flow_id}/runs", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()


def runs_of_flow(stack: StackClient, flow_id: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        response = stack.request("GET", f"/flows/{flow_id}/runs", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        runs += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return runs


def overdue(stack: StackClient, **params: Any) -> dict[str, Any]:
    response = stack.request("GET", "/ops/overdue", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def all_overdue_items(stack: StackClient, **params: Any) -> list[dict[str, Any]]:
    """Every page of ``GET /ops/overdue``, following ``nextCursor``."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = overdue(stack, limit=100, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["nextCursor"]
        if not cursor:
            return items


def reminder_nodes(url: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "remind",
            "type": "http_request",
            "method": "POST",
            "url": url,
            "body": {"appointment": "{{ trigger.data.id }}", "start": "{{ trigger.data.start }}"},
        }
    ]


def bodies(target: Any, path: str) -> list[Any]:
    return [json.loads(call["body"]) for call in target.calls(path)]


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    return wait_for(check, timeout=timeout, interval=0.2, what=what)


# --- a reminder a day before -----------------------------------------------------------------


def test_a_reminder_a_day_before_waits_scheduled_then_fires_when_the_clock_reaches_it(
    stack: StackClient, target
) -> None:
    # Given a reminder flow "1 day before data.start"
    t = tag()
    path = f"/time/reminder/{t}"
    create_flow(
        stack,
        {"type": "event", "event": f"appointment.created.{t}", "at": "{{ trigger.data.start | add_days(-1) }}"},
        reminder_nodes(target.script(path, 200)),
    )
    start = now(stack) + timedelta(days=1, hours=1)
    due = start - timedelta(days=1)
    # When an appointment is created for a day and an hour from now
    answer = post_event(stack, f"appointment.created.{t}", {"id": f"apt-{t}", "start": z(start)})
    # Then one run waits, `scheduled` for an hour from now, not overdue
    (run_id,) = answer["runIds"]
    assert answer["cancelled"] == [] and answer["rescheduled"] == []
    run = stack.run(run_id)
    assert run["status"] == "scheduled" and at(run["scheduledFor"]) == due
    assert run["overdue"] is False and run["triggerKind"] == "event"
    assert (run["trigger"]["eventType"], run["trigger"]["data"]["id"]) == (f"appointment.created.{t}", f"apt-{t}")
    # And its history shows what it will do next: the first node's step, queued
    (queued,) = run["steps"]
    assert (queued["nodeId"], queued["status"], queued["stepNumber"]) == ("remind", "scheduled", 1)
    assert queued["queuedAt"]
    # And a one-time schedule named after the run will start it
    wait_until(lambda: schedules_of(stack, run_id) == {run_id}, f"the schedule of {run_id}")
    described = scheduler(stack).get_schedule(Name=run_id, GroupName=SCHEDULE_GROUP)
    assert described["ScheduleExpression"] == f"at({due.strftime('%Y-%m-%dT%H:%M:%S')})"

    # When the clock comes to a minute before it is due
    move_clock_to(stack, due - timedelta(minutes=1))
    let_the_dispatcher_look(stack)
    # Then nothing fired early
    assert stack.run(run_id)["status"] == "scheduled" and target.calls(path) == []

    # When the clock reaches its time
    move_clock_to(stack, due + timedelta(seconds=1))
    # Then it runs and completes, having called the target once, not before it was due
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", run
    assert statuses(run["history"]) == ["scheduled", "running", "completed"]
    assert at(run["startedAt"]) >= due
    assert statuses(step_of(run, "remind")["history"]) == ["scheduled", "running", "completed"]
    assert bodies(target, path) == [{"appointment": f"apt-{t}", "start": z(start)}]
    # And its schedule is gone (deleted once it fired)
    wait_until(lambda: schedules_of(stack, run_id) == set(), f"the schedule of {run_id} to go")
    let_the_dispatcher_look(stack)
    assert len(target.calls(path)) == 1


# --- withdrawal, reschedule, deletion -------------------------------------------------------


def test_an_appointment_deleted_before_its_reminder_cancels_that_run_and_its_schedule(
    stack: StackClient, target
) -> None:
    # Given a reminder flow withdrawn by `appointment.deleted`, and two appointments with reminders
    t = tag()
    path = f"/time/withdrawn/{t}"
    create_flow(
        stack,
        {
            "type": "event",
            "event": f"appointment.created.{t}",
            "at": "{{ trigger.data.start | add_days(-1) }}",
            "key": "{{ trigger.data.id }}",
            "cancelOn": [f"appointment.deleted.{t}"],
        },
        reminder_nodes(target.script(path, 200)),
    )
    start = now(stack) + timedelta(days=1, hours=2)
    (kept,) = post_event(stack, f"appointment.created.{t}", {"id": f"kept-{t}", "start": z(start)})["runIds"]
    (dropped,) = post_event(stack, f"appointment.created.{t}", {"id": f"gone-{t}", "start": z(start)})["runIds"]
    assert stack.run(dropped)["correlationKey"] == f"gone-{t}"
    wait_until(lambda: schedules_of(stack, dropped) == {dropped}, f"the schedule of {dropped}")

    # When one appointment is deleted before its reminder
    deleted_event = f"deleted-{t}"
    answer = post_event(stack, f"appointment.deleted.{t}", {"id": f"gone-{t}"}, event_id=deleted_event)
    # Then that run is withdrawn, and only that one
    assert answer == {"eventId": deleted_event, "runIds": [], "cancelled": [dropped], "rescheduled": []}
    run = stack.run(dropped)
    assert run["status"] == "cancelled"
    assert statuses(run["history"]) == ["scheduled", "cancelled"]
    cause = run["history"][-1].get("cause") or ""
    assert f"appointment.deleted.{t}" in cause and deleted_event in cause, run["history"]
    assert stack.run(kept)["status"] == "scheduled"
    # And its schedule is gone, and it keeps no queued step
    wait_until(lambda: schedules_of(stack, dropped) == set(), f"the schedule of {dropped} to go")
    wait_until(lambda: stack.run(dropped)["steps"] == [], f"the queued step of {dropped} to go")
    assert schedules_of(stack, kept) == {kept}
    # And the same deletion delivered again answers the same
    assert post_event(stack, f"appointment.deleted.{t}", {"id": f"gone-{t}"}, event_id=deleted_event) == answer

    # When the reminders' time comes
    move_clock_to(stack, start - timedelta(days=1) + timedelta(seconds=1))
    # Then the kept one fires, the withdrawn one never does
    assert stack.wait_for_run(kept)["status"] == "completed"
    let_the_dispatcher_look(stack)
    assert [b["appointment"] for b in bodies(target, path)] == [f"kept-{t}"]
    assert stack.run(dropped)["status"] == "cancelled"


def test_an_appointment_update_moves_the_reminder_and_it_runs_with_the_new_data(stack: StackClient, target) -> None:
    # Given a reminder flow moved by `appointment.updated`, and a reminder due in an hour
    t = tag()
    path = f"/time/moved/{t}"
    create_flow(
        stack,
        {
            "type": "event",
            "event": f"appointment.created.{t}",
            "at": "{{ trigger.data.start | add_days(-1) }}",
            "key": "{{ trigger.data.id }}",
            "rescheduleOn": [f"appointment.updated.{t}"],
            "deadline": "PT2H",
        },
        [
            {
                "id": "remind",
                "type": "http_request",
                "method": "POST",
                "url": target.script(path, 200),
                "body": {"start": "{{ trigger.data.start }}", "room": "{{ trigger.data.room }}"},
            }
        ],
    )
    first_start = now(stack) + timedelta(days=1, hours=1)
    new_start = first_start + timedelta(hours=3)
    data = {"id": f"apt-{t}", "start": z(first_start), "room": "old room"}
    (run_id,) = post_event(stack, f"appointment.created.{t}", data)["runIds"]
    first_due = first_start - timedelta(days=1)
    assert at(stack.run(run_id)["scheduledFor"]) == first_due
    wait_until(lambda: schedules_of(stack, run_id) == {run_id}, f"the schedule of {run_id}")

    # When the appointment moves three hours later, to another room
    answer = post_event(stack, f"appointment.updated.{t}", {**data, "start": z(new_start), "room": "new room"})
    # Then the same run is moved: its due time and deadline follow, it carries the new data
    assert answer["rescheduled"] == [run_id] and answer["runIds"] == [] and answer["cancelled"] == []
    run = stack.run(run_id)
    new_due = new_start - timedelta(days=1)
    assert run["status"] == "scheduled" and at(run["scheduledFor"]) == new_due
    assert at(run["deadline"]) == new_due + timedelta(hours=2)
    assert run["trigger"]["data"]["room"] == "new room"
    assert statuses(run["history"]) == ["scheduled", "scheduled"]
    assert f"appointment.updated.{t}" in (run["history"][-1].get("cause") or ""), run["history"]

    # And only a schedule for the new time is left
    def moved_schedule() -> str | None:
        names = schedules_of(stack, run_id)
        return names.pop() if len(names) == 1 and run_id not in names else None

    new_schedule = wait_until(moved_schedule, f"{run_id}'s schedule to be replaced")
    described = scheduler(stack).get_schedule(Name=new_schedule, GroupName=SCHEDULE_GROUP)
    assert described["ScheduleExpression"] == f"at({new_due.strftime('%Y-%m-%dT%H:%M:%S')})"

    # When the clock passes the old time
    move_clock_to(stack, first_due + timedelta(minutes=1))
    let_the_dispatcher_look(stack)
    # Then nothing fires
    assert stack.run(run_id)["status"] == "scheduled" and target.calls(path) == []

    # When it reaches the new time
    move_clock_to(stack, new_due + timedelta(seconds=1))
    # Then the run completes once, with the new data
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", run
    assert at(run["startedAt"]) >= new_due
    assert bodies(target, path) == [{"start": z(new_start), "room": "new room"}]


def test_deleting_a_flow_cancels_its_scheduled_runs_and_it_takes_no_more_triggers(stack: StackClient, target) -> None:
    # Given a webhook flow with a run scheduled for later
    t = tag()
    path = f"/time/deleted/{t}"
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script(path, 200)}])
    later = now(stack) + timedelta(hours=3)
    (run_id,) = run_manually(stack, flow["flowId"], {"n": 1}, later)["runIds"]
    wait_until(lambda: schedules_of(stack, run_id) == {run_id}, f"the schedule of {run_id}")

    # When the flow is deleted
    response = stack.request("DELETE", f"/flows/{flow['flowId']}")
    # Then it answers with the flow, marked deleted
    assert response.status_code == 200, response.text
    assert response.json()["flowId"] == flow["flowId"] and response.json()["deletedAt"]
    # And its waiting run is cancelled, saying why, and its schedule is gone
    run = stack.wait_for_run(run_id, ("cancelled",))
    assert statuses(run["history"]) == ["scheduled", "cancelled"]
    assert "deleted" in (run["history"][-1].get("cause") or ""), run["history"]
    wait_until(lambda: schedules_of(stack, run_id) == set(), f"the schedule of {run_id} to go")
    # And it takes no webhook and no manual run; its history stays readable
    assert stack.call_webhook(flow, {"n": 2}).status_code == 404
    refused = stack.request("POST", f"/flows/{flow['flowId']}/runs", json={"data": {"n": 3}})
    assert refused.status_code == 409, refused.text
    assert [r["runId"] for r in runs_of_flow(stack, flow["flowId"])] == [run_id]
    # And when its time comes, nothing runs
    move_clock_to(stack, later + timedelta(seconds=1))
    let_the_dispatcher_look(stack)
    assert stack.run(run_id)["status"] == "cancelled" and target.calls(path) == []


# --- outage and catch-up ----------------------------------------------------------------------


def test_an_outage_piles_up_overdue_runs_and_recovery_ends_every_one_exactly(stack: StackClient, target) -> None:
    # Given two flows: event reminders that expire two hours after they are due, and a webhook
    # flow without a deadline (run manually at set times)
    t = tag()
    path_a, path_b = f"/time/outage/{t}/a", f"/time/outage/{t}/b"
    event_type = f"outage.{t}"
    flow_a = create_flow(
        stack,
        {"type": "event", "event": event_type, "at": "{{ trigger.data.at }}", "deadline": "PT2H"},
        [
            {
                "id": "call",
                "type": "http_request",
                "method": "POST",
                "url": target.script(path_a, 200),
                "body": {"i": "{{ trigger.data.i }}"},
            }
        ],
    )["flowId"]
    flow_b = stack.create_flow(
        [
            {
                "id": "call",
                "type": "http_request",
                "method": "POST",
                "url": target.script(path_b, 200),
                "body": {"i": "{{ trigger.body.i }}"},
            }
        ]
    )["flowId"]
    t0 = now(stack)
    # run i is due 10 + 7·i minutes from now: 200 runs over a day (the last at 23h23m)
    due = {i: t0 + timedelta(minutes=10 + 7 * i) for i in range(200)}

    stack.pause_scheduler()
    try:
        # When, with the dispatcher and the sweeper stopped, 200 runs are recorded across the day
        def record(i: int) -> tuple[str, int]:
            if i % 2 == 0:
                (run_id,) = post_event(stack, event_type, {"i": i, "at": z(due[i])}, event_id=f"{t}-{i}")["runIds"]
            else:
                (run_id,) = run_manually(stack, flow_b, {"i": i}, due[i])["runIds"]
            return run_id, i

        with ThreadPoolExecutor(max_workers=8) as pool:
            index = dict(pool.map(record, range(200)))
        assert len(index) == 200
        # (each got its one-time schedule before the clock moves: they are due later, not now)
        wait_until(lambda: set(index) <= schedule_names(stack), "200 schedules", timeout=60)
        assert all(r["status"] == "scheduled" and not r["overdue"] for r in runs_of_flow(stack, flow_a))

        # When half a day passes (the boundary falls between run 101, at 717 min, and run 102, at 724)
        move_clock_to(stack, t0 + timedelta(hours=12, minutes=3, seconds=30))
        # Then the runs due so far pile up as overdue, still `scheduled`
        half = {flow_a: 51, flow_b: 51}
        for flow_id, expected in half.items():
            assert overdue(stack, flowId=flow_id)["count"] == expected
        first = stack.run(next(r for r, i in index.items() if i == 0))
        assert first["status"] == "scheduled" and first["overdue"] is True
        assert stack.run(next(r for r, i in index.items() if i == 199))["overdue"] is False

        # When the whole day has passed
        move_clock_to(stack, t0 + timedelta(days=1))
        # Then every one of the 200 is overdue: per flow, in the account's view, and in its pages
        for flow_id, oldest in ((flow_a, due[0]), (flow_b, due[1])):
            view = overdue(stack, flowId=flow_id, limit=100)
            assert view["count"] == 100
            assert view["byFlow"] == [{"flowId": flow_id, "count": 100, "oldest": z(oldest)}]
            assert len(view["items"]) == 100 and view["nextCursor"] is None
            assert all(item["status"] == "scheduled" and item["overdue"] for item in view["items"])
            shown = [(at(item["scheduledFor"]), item["runId"]) for item in view["items"]]
            assert shown == sorted(shown), shown  # oldest first
            assert {r for _, r in shown} == {r for r, i in index.items() if (i % 2 == 0) == (flow_id == flow_a)}
            assert all(when == due[index[r]] for when, r in shown)
        account = overdue(stack, limit=7)
        mine = {f["flowId"]: f["count"] for f in account["byFlow"] if f["flowId"] in (flow_a, flow_b)}
        assert mine == {flow_a: 100, flow_b: 100}
        assert account["count"] == sum(f["count"] for f in account["byFlow"]) >= 200
        paged = [item["runId"] for item in all_overdue_items(stack)]
        assert len(paged) == len(set(paged)) == account["count"]
        assert set(index) <= set(paged)
        assert target.calls(path_a) == [] and target.calls(path_b) == []
    finally:
        # When the engine comes back
        stack.resume_scheduler()
    resumed = now(stack)

    # Then every run ends: none stays scheduled
    def settled() -> list[dict[str, Any]] | None:
        runs = [r for flow_id in (flow_a, flow_b) for r in runs_of_flow(stack, flow_id)]
        return runs if all(r["status"] in TERMINAL for r in runs) else None

    runs = wait_until(settled, "the 200 overdue runs to end", timeout=150)
    assert sorted(r["runId"] for r in runs) == sorted(index)
    # And exactly the reminders past their deadline when the engine came back expired; all else completed
    expired = {r for r, i in index.items() if i % 2 == 0 and due[i] + timedelta(hours=2) <= resumed}
    assert len(expired) == 94  # runs 0, 2, ... 186: due at least two hours before the day ended
    by_status: dict[str, set[str]] = {}
    for r in runs:
        by_status.setdefault(r["status"], set()).add(r["runId"])
    assert by_status == {"failed": expired, "completed": set(index) - expired}
    assert {r["error"]["type"] for r in runs if r["status"] == "failed"} == {"Expired"}
    # And each completed run called its target exactly once; no expired one did
    assert sorted(b["i"] for b in bodies(target, path_a)) == sorted(
        index[r] for r in set(index) - expired if index[r] % 2 == 0
    )
    assert sorted(b["i"] for b in bodies(target, path_b)) == list(range(1, 200, 2))
    # And nothing is overdue any more, nor has a schedule left
    assert overdue(stack, flowId=flow_a)["count"] == overdue(stack, flowId=flow_b)["count"] == 0
    wait_until(lambda: not set(index) & schedule_names(stack), "the fired schedules to go", timeout=30)
    example = stack.run(next(iter(expired)))
    assert statuses(example["history"]) == ["scheduled", "failed"]
    assert example["steps"] == []


# --- recurring flows --------------------------------------------------------------------------


def next_march_change_after(moment: datetime) -> datetime:
    """The next last Sunday of March (Europe's change to summer time) whose Friday is still ahead."""
    for year in range(moment.year, moment.year + 3):
        sunday = datetime(year, 3, 31, tzinfo=UTC)
        sunday -= timedelta(days=(sunday.weekday() - 6) % 7)
        if sunday - timedelta(days=2) > moment + timedelta(hours=1):
            return sunday
    raise AssertionError("no March change ahead within three years")


def test_a_cron_flow_at_nine_berlin_fires_at_eight_utc_before_and_seven_utc_after_the_march_change(
    stack: StackClient, target
) -> None:
    # Given the clock early on the Friday before the change to summer time
    sunday = next_march_change_after(now(stack))
    friday, monday = sunday - timedelta(days=2), sunday + timedelta(days=1)
    move_clock_to(stack, friday.replace(hour=6))
    # And a flow at 09:00 Berlin time on weekdays
    t = tag()
    path = f"/time/cron/{t}"
    flow = create_flow(
        stack,
        {"type": "schedule", "expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Berlin"},
        calls_with_fired_at(target, path),
    )
    try:

        def waiting_occurrence() -> dict[str, Any] | None:
            return next((r for r in runs_of_flow(stack, flow["flowId"]) if r["status"] == "scheduled"), None)

        # Then its next occurrence waits as a run: Friday 09:00 CET, 08:00Z
        friday_run = wait_until(waiting_occurrence, "the first occurrence to be recorded")
        assert at(friday_run["scheduledFor"]) == friday.replace(hour=8)
        assert friday_run["triggerKind"] == "schedule"
        assert at(stack.run(friday_run["runId"])["trigger"]["firedAt"]) == friday.replace(hour=8)
        assert overdue(stack, flowId=flow["flowId"])["count"] == 0

        # When the clock reaches it, it fires and completes
        move_clock_to(stack, friday.replace(hour=8, second=1))
        assert stack.wait_for_run(friday_run["runId"])["status"] == "completed"
        # And the next occurrence, after the change, is Monday 09:00 CEST: 07:00Z
        monday_run = wait_until(waiting_occurrence, "the next occurrence to be recorded")
        assert at(monday_run["scheduledFor"]) == monday.replace(hour=7)

        # When the clock reaches it
        move_clock_to(stack, monday.replace(hour=7, second=1))
        assert stack.wait_for_run(monday_run["runId"])["status"] == "completed"
        # Then the target heard of both occurrences, each once, at their UTC times
        assert [at(b["firedAt"]) for b in bodies(target, path)] == [friday.replace(hour=8), monday.replace(hour=7)]
        tuesday_run = wait_until(waiting_occurrence, "Tuesday's occurrence to be recorded")
        assert at(tuesday_run["scheduledFor"]) == monday.replace(hour=7) + timedelta(days=1)
    finally:
        # (deleting the flow stops its chain of occurrences for the rest of the session)
        deleted = stack.request("DELETE", f"/flows/{flow['flowId']}")
    assert deleted.status_code == 200, deleted.text
    # And deleting the flow cancels the occurrence still waiting
    assert stack.wait_for_run(tuesday_run["runId"], ("cancelled",))["status"] == "cancelled"


def next_hour_after(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)


def test_occurrences_missed_in_an_outage_run_or_expire_on_recovery_one_after_another(
    stack: StackClient, target
) -> None:
    # Given an hourly flow whose occurrences expire half an hour after their time
    t = tag()
    path = f"/time/hourly/{t}"
    if next_hour_after(now(stack)) - now(stack) < timedelta(minutes=5):  # (not a boundary in the next seconds)
        move_clock_to(stack, next_hour_after(now(stack)) + timedelta(minutes=1))
    first = next_hour_after(now(stack))
    flow_id = create_flow(
        stack,
        {"type": "schedule", "expression": "cron(0 * ? * * *)", "deadline": "PT30M"},
        calls_with_fired_at(target, path),
    )["flowId"]
    try:
        wait_until(
            lambda: [at(r["scheduledFor"]) for r in runs_of_flow(stack, flow_id)] == [first],
            "the first occurrence to be recorded",
        )
        # When the engine is down for three occurrences (and ten minutes after the third)
        stack.pause_scheduler()
        try:
            move_clock_to(stack, first + timedelta(hours=2, minutes=10))
            # Then the first missed occurrence shows as overdue (the others follow it, one at a time)
            view = overdue(stack, flowId=flow_id)
            assert (view["count"], view["byFlow"]) == (1, [{"flowId": flow_id, "count": 1, "oldest": z(first)}])
        finally:
            stack.resume_scheduler()

        # When it comes back, the missed occurrences are settled in order: the two past their
        # deadline expire, the third runs, and the next one waits for its time
        expected = {
            first: "failed",
            first + timedelta(hours=1): "failed",
            first + timedelta(hours=2): "completed",
            first + timedelta(hours=3): "scheduled",
        }

        def occurrences() -> dict[datetime, str] | None:
            found = {at(r["scheduledFor"]): r["status"] for r in runs_of_flow(stack, flow_id)}
            return found if found == expected else None

        wait_until(occurrences, f"the occurrences to be {expected}", timeout=60)
        runs = runs_of_flow(stack, flow_id)
        assert {r["error"]["type"] for r in runs if r["status"] == "failed"} == {"Expired"}
        assert {r["triggerKind"] for r in runs} == {"schedule"}
        assert [at(b["firedAt"]) for b in bodies(target, path)] == [first + timedelta(hours=2)]
    finally:
        stack.request("DELETE", f"/flows/{flow_id}")


def test_publishing_a_new_version_of_a_recurring_flow_replaces_its_waiting_occurrence(
    stack: StackClient, target
) -> None:
    # Given a flow every day at 09:00 UTC, its next occurrence waiting
    t = tag()
    path = f"/time/republished/{t}"
    nodes = calls_with_fired_at(target, path)
    flow_id = create_flow(stack, {"type": "schedule", "expression": "cron(0 9 * * ? *)"}, nodes)["flowId"]
    try:
        (old,) = wait_until(lambda: runs_of_flow(stack, flow_id), "the first occurrence to be recorded")
        assert (old["status"], old["flowVersion"]) == ("scheduled", 1)
        assert at(old["scheduledFor"]).hour == 9
        wait_until(lambda: schedules_of(stack, old["runId"]) == {old["runId"]}, "its schedule")
        # When version 2 moves it to 10:30
        published = stack.request(
            "PUT",
            f"/flows/{flow_id}",
            json={
                "name": "e2e time",
                "trigger": {"type": "schedule", "expression": "cron(30 10 * * ? *)"},
                "nodes": nodes,
            },
        )
        assert published.status_code == 200, published.text
        # Then the waiting occurrence of version 1 is cancelled, saying why, and its schedule goes
        cancelled = stack.wait_for_run(old["runId"], ("cancelled",))
        assert "version 2" in (cancelled["history"][-1].get("cause") or ""), cancelled["history"]
        wait_until(lambda: schedules_of(stack, old["runId"]) == set(), "the old schedule to go")
        # And one occurrence of version 2 waits, at the next 10:30
        new = wait_until(
            lambda: next((r for r in runs_of_flow(stack, flow_id) if r["status"] == "scheduled"), None),
            "the new occurrence to be recorded",
        )
        due = at(new["scheduledFor"])
        assert new["flowVersion"] == 2 and (due.hour, due.minute) == (10, 30)
        assert now(stack) < due <= now(stack) + timedelta(days=1)
        # When its time comes, it runs; the replaced one never does
        move_clock_to(stack, due + timedelta(seconds=1))
        assert stack.wait_for_run(new["runId"])["status"] == "completed"
        let_the_dispatcher_look(stack)
        assert [at(b["firedAt"]) for b in bodies(target, path)] == [due]
    finally:
        stack.request("DELETE", f"/flows/{flow_id}")


# --- duplicate delivery and unknown events -------------------------------------------------


def test_the_same_event_delivered_20_times_concurrently_gives_one_run_per_subscribed_flow(
    stack: StackClient, target
) -> None:
    # Given two flows subscribed to one event type
    t = tag()
    paths = [f"/time/duplicate/{t}/{n}" for n in range(2)]
    flows = [
        create_flow(
            stack,
            {"type": "event", "event": f"order.paid.{t}"},
            [{"id": "call", "type": "http_request", "url": target.script(p, 200)}],
        )["flowId"]
        for p in paths
    ]
    # When the same event is delivered 20 times at once
    barrier = threading.Barrier(20)
    event = {"id": f"evt-{t}", "type": f"order.paid.{t}", "data": {"order": t}}

    def deliver(_: int) -> requests.Response:
        barrier.wait()
        return stack.request("POST", "/events", json=event)

    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(deliver, range(20)))
    # Then every delivery is accepted with the same answer: one run per flow
    assert [a.status_code for a in answers] == [202] * 20, [a.text for a in answers if a.status_code != 202]
    (answer,) = {a.text for a in answers}
    run_ids = json.loads(answer)["runIds"]
    assert len(set(run_ids)) == 2
    # And each flow has exactly that one run, which calls its target once
    for run_id in run_ids:
        assert stack.wait_for_run(run_id)["status"] == "completed"
    assert sorted(r["runId"] for f in flows for r in runs_of_flow(stack, f)) == sorted(run_ids)
    assert [len(target.calls(p)) for p in paths] == [1, 1]


def test_an_event_type_no_flow_subscribes_to_is_accepted_with_no_runs(stack: StackClient) -> None:
    event_id = f"lonely-{tag()}"
    answer = post_event(stack, f"nobody.listens.{tag()}", {"x": 1}, event_id=event_id)
    assert answer == {"eventId": event_id, "runIds": [], "cancelled": [], "rescheduled": []}


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trigger", "field"),
    [
        ({"type": "schedule", "expression": "cron(0 9 * * MON-FRI *)"}, "expression"),
        ({"type": "schedule", "expression": "cron(0 25 ? * MON-FRI *)"}, "expression"),
        ({"type": "schedule", "expression": "every day at nine"}, "expression"),
        ({"type": "schedule", "expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Nowhere"}, "timezone"),
        ({"type": "schedule", "expression": "rate(1 hour)", "deadline": "2 hours"}, "deadline"),
        ({"type": "event", "event": "never.posted", "deadline": "P1X"}, "deadline"),
        ({"type": "event", "event": "never.posted", "at": "{{ trigger.data.start | add_days(-1) "}, "at"),
        ({"type": "event", "event": "never.posted", "at": "{{ trigger.data.start | add_weeks(1) }}"}, "at"),
        ({"type": "event", "event": "never.posted", "at": "{{ steps.call.output.when }}"}, "at"),
        ({"type": "event", "event": "never.posted", "at": "tomorrow"}, "at"),  # no placeholder, and not a time
    ],
    ids=[
        "cron-day-of-month-and-week",
        "cron-hour-25",
        "not-an-expression",
        "unknown-zone",
        "schedule-deadline-not-iso",
        "event-deadline-not-iso",
        "at-unclosed",
        "at-unknown-filter",
        "at-reads-steps",
        "at-constant-not-a-time",
    ],
)
def test_a_bad_cron_zone_duration_or_at_is_refused_on_save_naming_the_field(
    stack: StackClient, trigger: dict[str, Any], field: str
) -> None:
    response = stack.request(
        "POST",
        "/flows",
        json={
            "name": "bad",
            "trigger": trigger,
            "nodes": [{"id": "call", "type": "http_request", "url": "http://127.0.0.1:9/"}],
        },
    )
    if response.status_code == 201:  # (not left subscribed for the rest of the session)
        stack.request("DELETE", f"/flows/{response.json()['flowId']}")
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    fields = [d.get("field") or "" for d in error.get("details") or []]
    assert any(f.split(".")[0] == "trigger" and f.split(".")[-1] == field for f in fields), error


def test_a_manual_run_at_a_time_without_a_zone_is_refused(stack: StackClient, target) -> None:
    flow = stack.create_flow(
        [{"id": "call", "type": "http_request", "url": target.script(f"/time/nozone/{tag()}", 200)}]
    )
    response = stack.request("POST", f"/flows/{flow['flowId']}/runs", json={"data": {}, "at": "2030-01-01T09:00:00"})
    assert response.status_code == 422, response.text
    assert "at" in json.dumps(response.json()["error"])


@pytest.mark.parametrize(
    ("at_template", "data", "error_types"),
    [
        ("{{ trigger.data.start }}", {"id": "x"}, {"MissingVariable"}),
        ("{{ trigger.data.start }}", {"start": "next tuesday"}, {"ConfigurationError"}),
        (
            "{{ trigger.data.start | add_days(-1) }}",
            {"start": "next tuesday"},
            {"ConfigurationError", "MissingVariable"},
        ),
        ("{{ trigger.data.start }}", {"start": 42}, {"ConfigurationError"}),
    ],
    ids=["missing", "not-a-time", "not-a-time-through-a-filter", "a-number"],
)
def test_an_at_that_gives_no_time_fails_that_run_not_the_request(
    stack: StackClient, target, at_template: str, data: dict[str, Any], error_types: set[str]
) -> None:
    # Given a flow scheduled by its event's data
    t = tag()
    path = f"/time/no-time/{t}"
    create_flow(
        stack,
        {"type": "event", "event": f"booked.{t}", "at": at_template},
        [{"id": "call", "type": "http_request", "url": target.script(path, 200)}],
    )
    # When an event arrives whose data gives no time
    answer = post_event(stack, f"booked.{t}", data)
    # Then the event is accepted and its run is failed, saying why; nothing ran
    (run_id,) = answer["runIds"]
    run = stack.wait_for_run(run_id)
    assert run["status"] == "failed" and run["error"]["type"] in error_types, run
    assert "at" in run["error"]["message"]
    assert statuses(run["history"]) == ["scheduled", "failed"]
    let_the_dispatcher_look(stack)
    assert target.calls(path) == []


# --- delays and manual runs --------------------------------------------------------------------


def test_a_delay_of_a_day_wakes_when_the_clock_is_advanced_a_day(stack: StackClient, target) -> None:
    # Given a flow that waits a day, then calls the target
    t = tag()
    path = f"/time/delay/{t}"
    flow = stack.create_flow(
        [
            {"id": "wait", "type": "delay", "seconds": 86_400},
            {"id": "call", "type": "http_request", "url": target.script(path, 200)},
        ]
    )
    # When it runs now
    began = now(stack)
    (run_id,) = run_manually(stack, flow["flowId"], {"n": 1})["runIds"]
    # Then it waits in the delay, due to wake a day later
    waiting = wait_until(
        lambda: (s := step_of(stack.run(run_id), "wait")).get("wakeAt") and s, "the delay to start waiting"
    )
    wake = at(waiting["wakeAt"])
    assert began + timedelta(days=1) <= wake <= began + timedelta(days=1, minutes=1)
    let_the_dispatcher_look(stack)
    run = stack.run(run_id)
    assert run["status"] == "running" and step_of(run, "wait")["status"] == "running"
    assert target.calls(path) == []

    # When the clock is advanced a day
    stack.advance("PT24H")
    move_clock_to(stack, wake + timedelta(seconds=1))  # (and past the wake-up, whatever the real seconds)
    # Then it wakes, goes on and completes
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", run
    assert at(step_of(run, "wait")["output"]["wokeAt"]) >= wake
    assert len(target.calls(path)) == 1
    # And each node's step was queued before it ran: the next one only once the delay was over
    for node in ("wait", "call"):
        assert statuses(step_of(run, node)["history"]) == ["scheduled", "running", "completed"], node
    assert at(step_of(run, "call")["queuedAt"]) >= wake


def test_a_manual_run_now_and_one_at_a_later_time(stack: StackClient, target) -> None:
    # Given a webhook flow
    t = tag()
    path = f"/time/manual/{t}"
    flow = stack.create_flow(
        [
            {
                "id": "call",
                "type": "http_request",
                "method": "POST",
                "url": target.script(path, 200),
                "body": {"who": "{{ trigger.body.who }}"},
            }
        ]
    )
    # When an operator runs it now, its data standing in for the webhook's body
    answer = run_manually(stack, flow["flowId"], {"who": "now"}, **{"Idempotency-Key": f"now-{t}"})
    (now_run,) = answer["runIds"]
    assert answer["triggerId"]
    # Then it runs at once, as a manual run
    run = stack.wait_for_run(now_run)
    assert run["status"] == "completed" and run["triggerKind"] == "manual"
    assert run["trigger"]["kind"] == "manual" and run["trigger"]["body"] == {"who": "now"}
    # And the same call again (same Idempotency-Key) answers the same run
    assert run_manually(stack, flow["flowId"], {"who": "now"}, **{"Idempotency-Key": f"now-{t}"}) == answer

    # When it is run for two hours from now
    later = now(stack) + timedelta(hours=2)
    (later_run,) = run_manually(stack, flow["flowId"], {"who": "later"}, later)["runIds"]
    # Then it waits until then
    run = stack.run(later_run)
    assert run["status"] == "scheduled" and at(run["scheduledFor"]) == later and run["overdue"] is False
    wait_until(lambda: schedules_of(stack, later_run) == {later_run}, f"the schedule of {later_run}")
    assert [b["who"] for b in bodies(target, path)] == ["now"]
    # And runs when the clock gets there
    move_clock_to(stack, later + timedelta(seconds=1))
    run = stack.wait_for_run(later_run)
    assert run["status"] == "completed" and at(run["startedAt"]) >= later
    assert [b["who"] for b in bodies(target, path)] == ["now", "later"]
