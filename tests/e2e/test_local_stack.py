"""The local stack as a product: it never stalls, and it behaves as the AWS services it stands in for."""

from __future__ import annotations

import pytest

from tests.statemachine.test_interpreter_runs import sfn
from tests.support.stack_client import StackClient

pytestmark = pytest.mark.e2e


def execution_names(stack: StackClient) -> set[str]:
    """Of both machines' executions (the local stack lists Express ones too; AWS does not)."""
    client = sfn(stack)
    names = set()
    for machine in client.list_state_machines()["stateMachines"]:
        pages = client.get_paginator("list_executions").paginate(stateMachineArn=machine["stateMachineArn"])
        names |= {e["name"] for page in pages for e in page["executions"]}
    return names


def test_a_retried_webhook_cancels_its_transaction_and_delivery_goes_on(stack: StackClient, target) -> None:
    # Given a flow, and the executions that exist so far
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script("/stall/ok", 200)}])
    before = execution_names(stack)
    # When a manual run is retried with the same Idempotency-Key (its second recording is a cancelled
    # transaction), and a webhook too, once with the same body and once with another
    manual = [
        stack.request(
            "POST", f"/flows/{flow['flowId']}/runs", json={"data": {"n": 1}}, headers={"Idempotency-Key": "m1"}
        )
        for _ in range(2)
    ]
    assert [a.status_code for a in manual] == [202, 202]
    hooks = [
        stack.call_webhook(flow, body, **{"Idempotency-Key": "retried-once"}) for body in ({"n": 1}, {"n": 1}, {"n": 2})
    ]
    assert [a.status_code for a in hooks] == [202, 202, 422]  # the same key with another body is refused
    (manual_run,) = {tuple(a.json()["runIds"]) for a in manual}
    (hook_run,) = {tuple(a.json()["runIds"]) for a in hooks[:2]}
    first_run = [*manual_run, *hook_run]
    # And 50 more webhooks follow
    run_ids = [*first_run, *(stack.trigger(flow, {"i": i}) for i in range(50))]
    # Then every run completes: nothing stalled behind the cancelled transactions
    for run_id in run_ids:
        assert stack.wait_for_run(run_id, timeout=60)["status"] == "completed", run_id
    # And exactly one execution started per recorded run: none for a transaction that was cancelled
    assert execution_names(stack) - before == set(run_ids)
