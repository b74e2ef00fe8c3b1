"""History retention (DynamoDB TTL, ``expiresAt``) never takes what a run still needs: a run due
later, a run rescheduled later and a run that waits long keep their items (and their trigger)
for the retention period after they may last need them, not after they were written."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.attributes import from_item
from automations.domain import clock
from automations.domain.interpreter import LifecycleTask
from automations.logic import lifecycle
from automations.settings import get_settings
from tests.conftest import TABLE
from tests.integration.conftest import api_event
from tests.integration.test_time_engine import REMINDER, item, post_event

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=clock.UTC)
DAY = timedelta(days=1)


@pytest.fixture(autouse=True)
def frozen() -> Iterator[None]:
    """The engine's clock stands still at ``NOW``, so every expiry is exact."""
    clock.use_source(lambda: NOW)
    yield
    clock.use_source(None)


@pytest.fixture
def retention() -> timedelta:
    return timedelta(days=get_settings().history_retention_days)


def expiry(moment: datetime) -> int:
    return int(moment.timestamp())


def create_flow(api, nodes: list[dict[str, Any]]) -> str:
    body = {"name": "kept", "trigger": {"type": "webhook"}, "nodes": nodes}
    status, flow = api(api_event("api_create_flow.json", body=body))
    assert status == 201, flow
    return flow["flowId"]


def manual_run(api, flow_id: str, at: datetime | None = None) -> str:
    body = {"data": {"n": 1}, **({"at": clock.iso(at)} if at else {})}
    status, answer = api(api_event("api_create_flow.json", path=f"/flows/{flow_id}/runs", body=body))
    assert status == 202, answer
    return answer["runIds"][0]


def run_expiries(run_id: str) -> dict[str, int]:
    """Every item of the run's partition (sort key -> expiresAt), and its trigger's (``trigger``)."""
    client = boto3.client("dynamodb")
    raw = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.run(run_id)["pk"]}},
    )["Items"]
    items = {i["sk"]: i["expiresAt"] for i in map(from_item, raw)}
    run = item(keys.run(run_id))
    assert run is not None
    trigger = item(keys.trigger(run["triggerId"]))
    assert trigger is not None
    return {**items, "trigger": trigger["expiresAt"]}


CALL = {"id": "call", "type": "http_request", "method": "POST", "url": "http://127.0.0.1:9/call"}
SET = {"id": "note", "type": "set", "values": {"seen": True}}


def test_a_run_due_now_is_kept_for_the_retention_period_and_one_due_later_for_that_long_after_it_is_due(
    api, retention
) -> None:
    # Given a flow that never waits
    flow_id = create_flow(api, [CALL])
    # When one run is due now and another in 200 days
    now_id, later_id = manual_run(api, flow_id), manual_run(api, flow_id, at=NOW + 200 * DAY)
    # Then the first and its trigger are kept the retention period from now
    assert run_expiries(now_id) == {"RUN": expiry(NOW + retention), "trigger": expiry(NOW + retention)}
    # and the later one from when it is due: DynamoDB deletes neither before it has run
    due = NOW + 200 * DAY
    assert run_expiries(later_id) == {"RUN": expiry(due + retention), "trigger": expiry(due + retention)}


@pytest.mark.parametrize(
    ("delay", "longest"),
    [({"seconds": 100 * 86400}, 100 * DAY), ({"until": "{{ trigger.body.until }}"}, timedelta(days=365))],
    ids=["seconds", "until"],
)
def test_a_run_of_a_flow_that_may_wait_keeps_what_it_reads_of_its_trigger_until_after_its_longest_wait(
    api, retention, delay: dict[str, Any], longest: timedelta
) -> None:
    # Given a flow with a delay (of 100 days; or until a time, which may be a year away)
    flow_id = create_flow(api, [{"id": "wait", "type": "delay", **delay}, CALL])
    # When it runs now
    run_id = manual_run(api, flow_id)
    # Then its trigger (and the run) are kept the retention period after its longest wait
    kept = expiry(NOW + longest + retention)
    assert run_expiries(run_id) == {"RUN": kept, "trigger": kept}


def test_a_reschedule_keeps_the_run_its_new_execution_and_its_new_trigger_until_after_the_new_time(
    api, retention
) -> None:
    # Given a reminder due in 9 days
    status, flow = api(api_event("api_create_flow.json", body=REMINDER))
    assert status == 201, flow
    _, answer = post_event(api, "keep-1", "appointment.created", {"id": "apt-k", "start": clock.iso(NOW + 10 * DAY)})
    (run_id,) = answer["runIds"]
    # When the appointment moves 300 days out (its reminder: 299 days from now)
    _, moved = post_event(api, "keep-2", "appointment.updated", {"id": "apt-k", "start": clock.iso(NOW + 300 * DAY)})
    assert moved["rescheduled"] == [run_id]
    # Then the run, the execution that will start it and the event it now runs with are all kept
    # the retention period after the new due time (the replaced execution's item: after the old one)
    kept = expiry(NOW + 299 * DAY + retention)
    assert run_expiries(run_id) == {
        "RUN": kept,
        f"EXECUTION#{run_id}": expiry(NOW + 9 * DAY + retention),
        f"EXECUTION#{run_id}-r1": kept,
        "trigger": kept,
    }


def start_and_reach_the_delay(handler_of, lambda_context, repo, run_id: str) -> dict[str, Any]:
    """StartRun (the inline `set` step runs there), then the delay's Task: the state it answers."""
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))
    assert state.node.type == "delay", state
    task = {"runId": run_id, "stepNumber": state.step_number, "nodeId": state.node.id}
    return handler_of("ComputeNodeFunction")(task, lambda_context)


def test_a_wait_that_outlasts_the_retention_period_keeps_every_item_of_the_run_until_after_it(
    api, handler_of, lambda_context, repo, retention
) -> None:
    # Given a run that sets a variable, then waits 120 days (past the 90-day retention), then calls out
    flow_id = create_flow(api, [SET, {"id": "wait", "type": "delay", "seconds": 120 * 86400}, CALL])
    run_id = manual_run(api, flow_id)
    # When it reaches the delay
    state = start_and_reach_the_delay(handler_of, lambda_context, repo, run_id)
    wake = clock.parse_iso(state["wait"]["until"])
    assert wake == NOW + 120 * DAY
    # Then every item it wrote before the wait (the steps the call after it reads) is kept the
    # retention period after the wake-up: none would be gone when the run goes on
    kept = run_expiries(run_id)
    assert set(kept) == {"RUN", "STEP#note", "STEP#wait", "trigger"}
    assert kept == dict.fromkeys(kept, expiry(wake + retention))


def test_a_short_wait_keeps_nothing_longer(api, handler_of, lambda_context, repo, retention) -> None:
    # Given a run that waits an hour
    flow_id = create_flow(api, [SET, {"id": "wait", "type": "delay", "seconds": 3600}, CALL])
    run_id = manual_run(api, flow_id)
    # When it reaches the delay
    start_and_reach_the_delay(handler_of, lambda_context, repo, run_id)
    # Then its items keep the expiry of their writes: the retention period outlasts the wait
    kept = expiry(NOW + 3600 * timedelta(seconds=1) + retention)
    assert run_expiries(run_id) == {
        "RUN": kept,
        "STEP#note": expiry(NOW + retention),
        "STEP#wait": expiry(NOW + retention),
        "trigger": kept,
    }
