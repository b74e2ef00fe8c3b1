"""Time, piece by piece on moto: event intake, withdrawal and reschedule, the stream's schedules,
the sweeper, deleted flows, recurring occurrences and the overdue view, through the API handler
and the stream's reactions (the end-to-end versions run on the local stack: tests/e2e/test_time.py).
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.attributes import from_item
from automations.domain import clock
from automations.domain.interpreter import LifecycleTask
from automations.flows.definition import FlowDefinition
from automations.logic import events, flows, lifecycle
from automations.logic.change_router import TableChange
from automations.logic.flows import MAX_FLOWS_PER_EVENT
from automations.logic.reactions import ROUTER, ReactionDeps
from automations.logic.sweeper import sweep
from devstack import demo
from tests.conftest import SCHEDULE_GROUP, TABLE
from tests.integration.conftest import api_event, table_items

DAY = timedelta(days=1)


@pytest.fixture
def stream(deps: ReactionDeps):
    """Deliver what the table's stream would for a change we made: (event, new image, old image)."""

    def deliver(event: str, new: dict[str, Any] | None, old: dict[str, Any] | None = None) -> list[str]:
        return ROUTER.route(TableChange(event=event, new=new, old=old), deps)

    return deliver


def item(key: dict[str, str]) -> dict[str, Any] | None:
    raw = boto3.client("dynamodb").get_item(TableName=TABLE, Key={k: {"S": v} for k, v in key.items()})
    return from_item(raw["Item"]) if "Item" in raw else None


def schedules() -> dict[str, dict[str, Any]]:
    client = boto3.client("scheduler")
    names = [s["Name"] for s in client.list_schedules(GroupName=SCHEDULE_GROUP)["Schedules"]]
    return {name: client.get_schedule(Name=name, GroupName=SCHEDULE_GROUP) for name in names}


REMINDER = {
    "name": "Appointment reminder",
    "trigger": {
        "type": "event",
        "event": "appointment.created",
        "at": "{{ trigger.data.start | add_days(-1) }}",
        "key": "{{ trigger.data.id }}",
        "cancelOn": ["appointment.deleted"],
        "rescheduleOn": ["appointment.updated"],
        "deadline": "PT2H",
    },
    "nodes": [{"id": "remind", "type": "http_request", "method": "POST", "url": "http://127.0.0.1:9/remind"}],
}


@pytest.fixture
def reminder_flow(api) -> dict[str, Any]:
    status, flow = api(api_event("api_create_flow.json", body=REMINDER))
    assert status == 201, flow
    return flow


def post_event(api, event_id: str, event_type: str, data: dict[str, Any]) -> tuple[int, Any]:
    return api(
        api_event("api_create_flow.json", path="/events", body={"id": event_id, "type": event_type, "data": data})
    )


def get_run(api, run_id: str) -> dict[str, Any]:
    status, run = api(api_event("api_get_run.json", path=f"/runs/{run_id}"))
    assert status == 200, run
    return run


def in_days(days: float) -> str:
    return clock.iso(clock.now() + timedelta(days=days))


def test_an_event_schedules_a_run_a_day_before_its_start_and_a_redelivery_records_nothing(api, reminder_flow) -> None:
    # Given a reminder flow, When an appointment three days out is created
    start = in_days(3)
    status, answer = post_event(api, "evt-1", "appointment.created", {"id": "apt-1", "start": start})
    # Then one run waits, due a day before, with its key, deadline and first step queued
    assert status == 202 and answer["eventId"] == "evt-1" and answer["cancelled"] == answer["rescheduled"] == []
    (run_id,) = answer["runIds"]
    run = get_run(api, run_id)
    due = clock.parse_iso(start) - DAY
    assert (run["status"], clock.parse_iso(run["scheduledFor"])) == ("scheduled", due)
    assert clock.parse_iso(run["deadline"]) == due + timedelta(hours=2)
    assert (run["correlationKey"], run["triggerKind"], run["overdue"]) == ("apt-1", "event", False)
    assert [(s["nodeId"], s["status"]) for s in run["steps"]] == [("remind", "scheduled")]
    assert run["trigger"]["data"] == {"id": "apt-1", "start": start}
    # When the same event is delivered again Then the answer is the same and nothing new is recorded
    assert post_event(api, "evt-1", "appointment.created", {"id": "apt-1", "start": start}) == (202, answer)
    status, page = api(api_event("api_list_runs.json", path=f"/flows/{reminder_flow['flowId']}/runs", query=None))
    assert [r["runId"] for r in page["items"]] == [run_id]


def test_an_event_id_used_again_with_other_content_answers_422_and_changes_nothing(api, reminder_flow) -> None:
    # Given an event recorded with its run
    start = in_days(3)
    _, first = post_event(api, "evt-r", "appointment.created", {"id": "apt-r", "start": start})
    # When the same id comes with other data (or another type)
    changed = post_event(api, "evt-r", "appointment.created", {"id": "apt-r", "start": in_days(4)})
    retyped = post_event(api, "evt-r", "appointment.deleted", {"id": "apt-r"})
    # Then both are refused, naming the id, and the first run is untouched
    for status, body in (changed, retyped):
        assert status == 422 and body["error"]["type"] == "IdempotencyKeyReused" and "evt-r" in body["error"]["message"]
    run = get_run(api, first["runIds"][0])
    assert run["status"] == "scheduled" and run["trigger"]["data"]["start"] == start
    # while the same event again still answers the first recording
    assert post_event(api, "evt-r", "appointment.created", {"id": "apt-r", "start": start}) == (202, first)


def test_an_event_type_no_flow_subscribes_to_records_no_run(api, reminder_flow) -> None:
    status, answer = post_event(api, "evt-x", "invoice.paid", {"id": 1})
    assert (status, answer["runIds"], answer["cancelled"]) == (202, [], [])


def test_an_at_that_gives_no_time_fails_that_run_saying_why(api, reminder_flow) -> None:
    # When the event lacks the field `at` reads, or has a non-time in it
    _, missing = post_event(api, "evt-m", "appointment.created", {"id": "apt-m"})
    _, garbage = post_event(api, "evt-g", "appointment.created", {"id": "apt-g", "start": "next tuesday"})
    # Then each run is recorded failed with the permanent error that explains it (never a 5xx)
    assert get_run(api, missing["runIds"][0])["error"]["type"] == "MissingVariable"
    failed = get_run(api, garbage["runIds"][0])
    assert (failed["status"], failed["error"]["type"]) == ("failed", "ConfigurationError")
    assert failed["steps"] == [] and failed["history"][-1]["cause"].startswith("trigger 'at'")


def test_a_run_due_later_gets_a_one_time_schedule_that_a_withdrawal_removes(api, reminder_flow, repo, stream) -> None:
    # Given a waiting reminder whose recording (which requests its first execution) reached the stream
    _, answer = post_event(api, "evt-2", "appointment.created", {"id": "apt-2", "start": in_days(2)})
    (run_id,) = answer["runIds"]
    assert stream("INSERT", item(keys.run(run_id))) == ["start_first_execution: scheduled"]
    # Then a one-time schedule named after the run starts that execution at its time, then deletes itself
    schedule = schedules()[run_id]
    due = clock.parse_iso(get_run(api, run_id)["scheduledFor"])
    never_early = (due + timedelta(microseconds=999_999)).replace(microsecond=0)  # whole seconds, rounded up
    assert schedule["ScheduleExpression"] == f"at({never_early.strftime('%Y-%m-%dT%H:%M:%S')})"
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sfn:startExecution"
    assert json.loads(schedule["Target"]["Input"])["Name"] == run_id
    # When the appointment is deleted
    before = item(keys.run(run_id))
    _, withdrawn = post_event(api, "evt-3", "appointment.deleted", {"id": "apt-2"})
    # Then the run is cancelled with the cause in its history, and its schedule goes and no step is next in line
    assert withdrawn["cancelled"] == [run_id]
    run = get_run(api, run_id)
    assert run["status"] == "cancelled" and "appointment.deleted" in run["history"][-1]["cause"]
    done = stream("MODIFY", item(keys.run(run_id)), before)
    assert done == ["follow_run_leaving_waiting: schedule deleted"]
    assert run_id not in schedules() and get_run(api, run_id)["steps"] == []
    # and a second withdrawal finds nothing left to cancel
    assert post_event(api, "evt-4", "appointment.deleted", {"id": "apt-2"})[1]["cancelled"] == []


def test_a_reschedule_moves_the_run_with_the_new_data_and_the_old_execution_cannot_start_it(
    api, reminder_flow, repo, stream
) -> None:
    _, answer = post_event(api, "evt-5", "appointment.created", {"id": "apt-5", "start": in_days(2)})
    (run_id,) = answer["runIds"]
    before = item(keys.run(run_id))
    # When the appointment moves two days later
    new_start = in_days(4)
    _, moved = post_event(api, "evt-6", "appointment.updated", {"id": "apt-5", "start": new_start})
    # Then the run is due a day before the new start and runs with the new event's data
    assert moved["rescheduled"] == [run_id]
    run = get_run(api, run_id)
    assert clock.parse_iso(run["scheduledFor"]) == clock.parse_iso(new_start) - DAY
    assert run["status"] == "scheduled" and run["trigger"]["data"]["start"] == new_start
    assert [e["name"] for e in run["executions"]] == [run_id, f"{run_id}-r1"]
    # and the stream moves the schedule: the replaced execution's goes, the new one's comes; the
    # replaced one's item, written by the reschedule, starts nothing
    assert run["executions"][0]["replacedBy"] == f"{run_id}-r1"
    stream("INSERT", before)
    assert stream("MODIFY", item(keys.run(run_id)), before) == ["follow_run_leaving_waiting: schedule deleted"]
    assert stream("INSERT", item(keys.execution(run_id, run_id))) == []
    stream("INSERT", item(keys.execution(run_id, f"{run_id}-r1")))
    assert set(schedules()) == {f"{run_id}-r1"}
    # When the replaced execution fires anyway (it was already on its way) Then it does not start the run
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))
    assert state.node.id is None and get_run(api, run_id)["status"] == "scheduled"
    # and the redelivered update changes nothing more
    assert post_event(api, "evt-6", "appointment.updated", {"id": "apt-5", "start": new_start})[1] == moved


def test_the_sweeper_starts_overdue_runs_and_expires_those_past_their_deadline(
    api, reminder_flow, repo, workflows, monkeypatch
) -> None:
    # Given two reminders, one due in 1 hour (deadline 3 h), one due in 2 days
    _, soon = post_event(api, "evt-7", "appointment.created", {"id": "apt-7", "start": in_days(1 + 1 / 24)})
    _, later = post_event(api, "evt-8", "appointment.created", {"id": "apt-8", "start": in_days(3)})
    now = clock.now()
    # When the engine was down for 2 hours, then 4 hours
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=2))
    assert [r.run_id for r in repo.overdue_runs(due_before=clock.iso(clock.now()), limit=10)] == soon["runIds"]
    first = sweep(repo, workflows)
    # Then the overdue one is started under its execution's name; the other is left waiting
    assert (first.overdue, first.started, first.ended) == (1, 1, 0) and workflows.started == soon["runIds"]
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=4))
    second = sweep(repo, workflows)
    run = get_run(api, soon["runIds"][0])
    assert (second.ended, run["status"], run["error"]["type"]) == (1, "failed", "Expired")
    assert get_run(api, later["runIds"][0])["status"] == "scheduled"


def test_a_withdrawal_the_keys_index_did_not_show_yet_still_keeps_the_run_from_starting(
    api, reminder_flow, repo, workflows, monkeypatch
) -> None:
    # Given a reminder due in a day, and the key's index not showing it yet (DynamoDB reads an index
    # eventually consistently: a run recorded a moment before may be missing)
    _, created = post_event(api, "evt-w1", "appointment.created", {"id": "apt-w", "start": in_days(2)})
    (run_id,) = created["runIds"]
    monkeypatch.setattr(repo, "scheduled_run_ids_by_key", lambda flow_id, key: [])
    # When the appointment is deleted Then the deletion finds no run to cancel now
    _, deleted = post_event(api, "evt-w2", "appointment.deleted", {"id": "apt-w"})
    assert deleted["cancelled"] == [] and get_run(api, run_id)["status"] == "scheduled"
    # and when the appointment is booked again, the new reminder is not withdrawn by the old deletion
    _, again = post_event(api, "evt-w3", "appointment.created", {"id": "apt-w", "start": in_days(2.01)})
    # When both fall due (within their two hours' deadline) and the sweeper finds them
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(days=1, hours=1))
    result = sweep(repo, workflows)
    # Then the withdrawn one is cancelled instead of started, saying which event withdrew it
    assert (result.overdue, result.started, result.ended) == (2, 1, 1) and workflows.started == again["runIds"]
    run = get_run(api, run_id)
    assert run["status"] == "cancelled"
    assert run["history"][-1]["cause"] == "withdrawn by event 'appointment.deleted' (evt-w2)"
    # and so is it if its execution starts anyway (the scheduler fired it): StartRun runs nothing
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))
    assert state.node.id is None and get_run(api, run_id)["status"] == "cancelled"


def test_a_reschedule_the_keys_index_did_not_show_yet_moves_the_run_when_it_would_start(
    api, reminder_flow, repo, workflows, monkeypatch
) -> None:
    # Given a reminder due in a day, and the key's index not showing it yet
    _, created = post_event(api, "evt-r1", "appointment.created", {"id": "apt-r", "start": in_days(2)})
    (run_id,) = created["runIds"]
    monkeypatch.setattr(repo, "scheduled_run_ids_by_key", lambda flow_id, key: [])
    # When the appointment moves three days later Then the move finds no run now
    new_start = in_days(5)
    _, moved = post_event(api, "evt-r2", "appointment.updated", {"id": "apt-r", "start": new_start})
    assert moved["rescheduled"] == []
    # When the engine finds it overdue past its old deadline (two hours after its old time)
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(days=1, hours=3))
    result = sweep(repo, workflows)
    # Then the sweeper does not expire it by that deadline: it starts its execution, as for any due run
    assert (result.started, result.ended, workflows.started) == (1, 0, [run_id])
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))
    # and its start runs nothing: the run waits again, a day before the new start, with the moving
    # event's data, under a new execution due then
    assert state.node.id is None
    run = get_run(api, run_id)
    assert (run["status"], run["scheduledFor"]) == ("scheduled", clock.iso(clock.parse_iso(new_start) - DAY))
    assert run["trigger"]["data"]["start"] == new_start
    assert run["history"][-1]["cause"] == "rescheduled by event 'appointment.updated' (evt-r2)"
    assert repo.get_execution(run_id, f"{run_id}-r1").due_at == run["scheduledFor"]
    # When that one starts Then the run starts
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(days=4, minutes=1))
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=f"{run_id}-r1"))
    assert state.node.id == "remind" and get_run(api, run_id)["status"] == "running"


def test_a_deleted_flow_takes_no_triggers_and_its_waiting_runs_are_cancelled(api, reminder_flow, stream) -> None:
    flow_id = reminder_flow["flowId"]
    _, answer = post_event(api, "evt-9", "appointment.created", {"id": "apt-9", "start": in_days(2)})
    before = item(keys.flow(flow_id))
    status, deleted = api(api_event("api_get_flow.json", path=f"/flows/{flow_id}") | {"httpMethod": "DELETE"})
    assert status == 200 and deleted["deletedAt"]
    assert stream("MODIFY", item(keys.flow(flow_id)), before) == ["follow_flow: 1 waiting runs cancelled"]
    run = get_run(api, answer["runIds"][0])
    assert run["status"] == "cancelled" and run["history"][-1]["cause"] == "its flow was deleted"
    # its history stays readable; it takes no events and no manual runs
    assert api(api_event("api_get_flow.json", path=f"/flows/{flow_id}"))[0] == 200
    assert post_event(api, "evt-10", "appointment.created", {"id": "apt-10", "start": in_days(2)})[1]["runIds"] == []
    manual = api(api_event("api_create_flow.json", path=f"/flows/{flow_id}/runs", body={"data": {}}))
    assert manual[0] == 409


def test_a_manual_run_later_waits_and_gives_its_data_as_the_webhook_body(api, webhook_flow) -> None:
    at = in_days(1)
    body = {"data": {"email": "a@b.c"}, "at": at}
    status, answer = api(api_event("api_create_flow.json", path=f"/flows/{webhook_flow['flowId']}/runs", body=body))
    assert status == 202
    run = get_run(api, answer["runIds"][0])
    assert (run["status"], run["scheduledFor"], run["triggerKind"]) == ("scheduled", at, "manual")
    assert run["trigger"]["body"] == {"email": "a@b.c"}


RECURRING = {
    "name": "Weekday digest",
    "trigger": {"type": "schedule", "expression": "cron(0 9 ? * MON-FRI *)", "timezone": "Europe/Berlin"},
    "nodes": [{"id": "digest", "type": "set", "values": {"at": "{{ trigger.firedAt }}"}}],
}


def test_a_recurring_flow_keeps_its_next_occurrence_waiting_and_a_new_version_replaces_it(
    api, repo, stream, monkeypatch
) -> None:
    # Given a Friday in winter (Berlin is UTC+1)
    friday = clock.parse_iso("2031-01-10T12:00:00Z")
    monkeypatch.setattr(clock, "now", lambda: friday)
    status, flow = api(api_event("api_create_flow.json", body=RECURRING))
    assert status == 201, flow
    # When the stream sees the new flow Then Monday's 09:00 Berlin occurrence waits as a run
    (done,) = stream("INSERT", item(keys.flow(flow["flowId"])))
    first_id = done.rsplit(" ", 1)[-1]
    first = get_run(api, first_id)
    assert (first["scheduledFor"], first["trigger"]["firedAt"]) == ("2031-01-13T08:00:00.000Z",) * 2
    # When that occurrence starts Then Tuesday's is recorded, counted from Monday's time
    before = item(keys.run(first_id))
    repo.start_execution(run_id=first_id, name=first_id, arn=None, at=clock.iso(friday), check_after=clock.iso(friday))
    (done,) = stream("MODIFY", item(keys.run(first_id)), before)
    second_id = done.rsplit(" ", 1)[-1]
    assert get_run(api, second_id)["scheduledFor"] == "2031-01-14T08:00:00.000Z"
    # When a new version is published Then the waiting occurrence is replaced by one of the new version
    before = item(keys.flow(flow["flowId"]))
    changed = {**RECURRING, "trigger": {**RECURRING["trigger"], "expression": "cron(30 7 ? * * *)"}}
    path = f"/flows/{flow['flowId']}"
    status, _ = api(api_event("api_create_flow.json", path=path, body=changed) | {"httpMethod": "PUT"})
    assert status == 200
    (done,) = stream("MODIFY", item(keys.flow(flow["flowId"])), before)
    assert done.startswith("follow_flow: 1 occurrences replaced")
    replaced = get_run(api, second_id)
    assert replaced["status"] == "cancelled" and "version 2" in replaced["history"][-1]["cause"]
    third = get_run(api, done.rsplit(" ", 1)[-1])
    assert (third["flowVersion"], third["scheduledFor"]) == (2, "2031-01-11T06:30:00.000Z")


def test_overdue_is_counted_per_flow_for_its_account_only(api, reminder_flow, monkeypatch, accounts) -> None:
    for n in range(3):
        post_event(api, f"evt-o{n}", "appointment.created", {"id": f"apt-o{n}", "start": in_days(1 + n / 24)})
    now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(hours=2, minutes=30))
    status, overdue = api(api_event("api_list_flows.json", path="/ops/overdue", query={"limit": "2"}))
    assert status == 200 and overdue["count"] == 3
    assert overdue["byFlow"] == [
        {"flowId": reminder_flow["flowId"], "count": 3, "oldest": overdue["items"][0]["scheduledFor"]}
    ]
    assert len(overdue["items"]) == 2 and all(r["overdue"] for r in overdue["items"])
    rest = api(
        api_event("api_list_flows.json", path="/ops/overdue", query={"limit": "2", "cursor": overdue["nextCursor"]})
    )[1]
    assert len(rest["items"]) == 1 and rest["nextCursor"] is None
    other = api(api_event("api_list_flows.json", path="/ops/overdue", key=accounts["other"]))[1]
    assert (other["count"], other["items"]) == (0, [])


@pytest.mark.parametrize(
    ("trigger", "field", "words"),
    [
        ({"type": "schedule", "expression": "cron(0 9 * * *)"}, "trigger.schedule.expression", "6 fields"),
        (
            {"type": "schedule", "expression": "rate(1 hour)", "timezone": "Mars/Olympus"},
            "trigger.schedule.timezone",
            "zone",
        ),
        ({"type": "event", "event": "a.b", "deadline": "soon"}, "trigger.event.deadline", "duration"),
        ({"type": "event", "event": "a.b", "at": "{{ steps.x.output }}"}, "trigger.at", "only trigger.*"),
        ({"type": "event", "event": "a.b", "at": "{{ trigger.body.x }}"}, "trigger.at", "trigger.data"),
    ],
)
def test_a_bad_schedule_zone_duration_or_at_is_a_422_naming_the_field(api, trigger, field, words) -> None:
    flow = {"name": "bad", "trigger": trigger, "nodes": [{"id": "a", "type": "set", "values": {"x": "1"}}]}
    status, body = api(api_event("api_create_flow.json", body=flow))
    assert status == 422, body
    fields = [d.get("field") for d in body["error"].get("details") or []]
    assert field in fields and words in body["error"]["message"], body


def on_event(event_type: str, name: str = "fan-out") -> dict[str, Any]:
    return {
        "name": name,
        "trigger": {"type": "event", "event": event_type},
        "nodes": [{"id": "note", "type": "set", "values": {"seen": True}}],
    }


def seed_flows_on(repo, event_type: str, count: int) -> None:
    """``count`` flows on the event, saved as if each passed the check alone (as saves at one moment could)."""
    with pytest.MonkeyPatch.context() as unchecked:
        unchecked.setattr(flows, "_check_room_on_event", lambda *args, **kwargs: None)
        for n in range(count):
            flows.create_flow(
                repo, demo.ACCOUNT_ID, FlowDefinition.model_validate(on_event(event_type, f"fan-out {n}"))
            )


def put_flow(api, flow_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    event = api_event("api_create_flow.json", path=f"/flows/{flow_id}", body=body)
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "PUT"
    return api(event)


def test_a_flow_on_an_event_that_as_many_flows_as_allowed_start_on_is_refused_on_save(
    api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given as many flows on one event as may start on it (a small limit here; the real one: below)
    monkeypatch.setattr(flows, "MAX_FLOWS_PER_EVENT", 3)
    saved = [api(api_event("api_create_flow.json", body=on_event("order.paid", f"fan-out {n}"))) for n in range(3)]
    assert [status for status, _ in saved] == [201, 201, 201]
    # When one more is saved on the event, Then it is refused, saying why, and nothing is stored
    status, refused = api(api_event("api_create_flow.json", body=on_event("order.paid", "one too many")))
    assert status == 409 and refused["error"]["type"] == "Conflict"
    assert "3 flows start on event 'order.paid' already, and at most 3" in refused["error"]["message"]
    assert sum(1 for i in table_items() if i["sk"]["S"] == "FLOW") == 3
    # and a flow on another event is saved, but not moved onto it by a new version
    status, other = api(api_event("api_create_flow.json", body=on_event("order.shipped")))
    assert status == 201
    assert put_flow(api, other["flowId"], on_event("order.paid"))[0] == 409
    # while a flow on the event still takes new versions of itself
    assert put_flow(api, saved[0][1]["flowId"], on_event("order.paid", "renamed"))[0] == 200
    # When one of them is deleted, Then the other flow may move onto the event
    delete = api_event("api_get_flow.json", path=f"/flows/{saved[1][1]['flowId']}")
    delete["httpMethod"] = delete["requestContext"]["httpMethod"] = "DELETE"
    assert api(delete)[0] in (200, 204)
    assert put_flow(api, other["flowId"], on_event("order.paid"))[0] == 200


def test_an_event_records_a_run_of_every_flow_allowed_on_it_in_one_transaction(api, repo) -> None:
    # Given as many flows on one event as may start on it
    seed_flows_on(repo, "order.paid", MAX_FLOWS_PER_EVENT)
    # When the event comes, Then it starts a run of each, all recorded at once (DynamoDB's and
    # moto's transaction cap of 100 writes holds the trigger and every run)
    status, answer = post_event(api, "evt-paid", "order.paid", {"order": 1})
    assert status == 202, answer
    assert len(answer["runIds"]) == MAX_FLOWS_PER_EVENT
    assert sum(1 for i in table_items() if i["sk"]["S"] == "RUN") == MAX_FLOWS_PER_EVENT


def test_an_event_more_flows_start_on_than_one_transaction_holds_records_nothing_and_says_why(
    api, repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one flow more on an event than may start on it (a small limit here): two saves at one
    # moment each passed the check
    monkeypatch.setattr(events, "MAX_FLOWS_PER_EVENT", 2)
    seed_flows_on(repo, "order.paid", 3)
    # When the event comes, Then it is refused with the reason (not a 500), and nothing is recorded
    status, refused = post_event(api, "evt-paid", "order.paid", {"order": 1})
    assert status == 409 and "3 flows start on event 'order.paid', and at most 2" in refused["error"]["message"]
    assert not [i for i in table_items() if i["sk"]["S"] in ("RUN", "TRIGGER")]
