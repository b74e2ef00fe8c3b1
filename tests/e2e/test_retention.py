"""History retention on the local stack: DynamoDB's TTL, which the stack enforces by its own clock
(``devstack/ttl.py``; moto keeps the setting but deletes nothing), takes a finished run once the
retention period has passed, and never a run still due (``tests/integration/test_retention.py``
pins each item's expiry).

These tests move the clock by months, so they run on a stack of their own (module-scoped).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest

from automations.domain import clock
from tests.support.stack_client import StackClient, running_local_stack, wait_for
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def months_stack() -> Iterator[StackClient]:
    """A local stack whose clock these tests move by months."""
    with running_local_stack() as stack:
        yield stack


def manual_run(stack: StackClient, flow: dict, data: dict, at: str | None = None) -> str:
    body = {"data": data, **({"at": at} if at else {})}
    response = stack.request("POST", f"/flows/{flow['flowId']}/runs", json=body)
    assert response.status_code == 202, response.text
    (run_id,) = response.json()["runIds"]
    return run_id


def test_a_finished_run_expires_after_the_retention_period_and_a_run_due_later_still_runs_then(
    months_stack: StackClient, target: TargetServer
) -> None:
    stack, path = months_stack, f"/kept-{uuid.uuid4().hex[:8]}"
    call = {"id": "remind", "type": "http_request", "method": "POST", "url": target.url(path)}
    flow = stack.create_flow([{**call, "body": {"n": "{{ trigger.body.n }}"}}], name="kept")
    # Given a run that completed now, and one due in 120 days (past the 90-day retention)
    done_id = manual_run(stack, flow, {"n": 1})
    assert stack.wait_for_run(done_id)["status"] == "completed"
    later_id = manual_run(stack, flow, {"n": 2}, at=clock.iso(stack.clock_now() + timedelta(days=120)))
    wait_for(lambda: stack.run_schedule_exists(later_id), timeout=30, what="the stream to schedule the run")
    # When 100 days pass
    stack.advance("P100D")
    # Then the finished run is gone, as DynamoDB's TTL deletes it, and the one due later waits
    wait_for(
        lambda: stack.request("GET", f"/runs/{done_id}").status_code == 404,
        timeout=30,
        what="the finished run to expire",
    )
    assert stack.run(later_id)["status"] == "scheduled"
    assert stack.request("GET", "/_local/ttl").json()["deleted"] >= 1
    # When its day comes Then it runs, with what its trigger carried
    stack.advance("P20DT1M")
    assert stack.wait_for_run(later_id)["status"] == "completed"
    assert [c["body"] for c in target.calls(path)] == [b'{"n": 1}', b'{"n": 2}']
