"""Issue #10: "a step item can pass 400 KB", end to end on the local stack: a webhook near the
intake's 256 KB, a set node copying its big field and an http_request posting it to a target that
answers ~128 KB. Every item stays under DynamoDB's limit, what was cut is marked, the call goes
out once, and reading a value cut from an output fails the reading node, clearly."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.dynamodb_size import DYNAMODB_ITEM_LIMIT, item_bytes
from tests.support.stack_client import StackClient, step_of

pytestmark = pytest.mark.e2e

BIG = "b" * 250_000
ANSWER = {"data": "a" * 130_000}


def stored_run(stack: StackClient, run_id: str) -> dict[str, dict[str, Any]]:
    """The run's partition as the stack's DynamoDB stores it, by sort key."""
    dynamodb = stack.aws("dynamodb")
    table = dynamodb.list_tables()["TableNames"][0]
    items = dynamodb.query(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": f"RUN#{run_id}"}}
    )["Items"]
    return {item["sk"]["S"]: item for item in items}


def marks(item: dict[str, Any]) -> list[str]:
    return [p["S"] for p in item.get("truncated", {}).get("L", [])]


def test_a_big_webhook_field_copied_and_posted_completes_with_every_item_under_the_limit(
    stack: StackClient, target
) -> None:
    # Given the flow of the row
    url = target.script("/e2e-large/echo", (200, ANSWER))
    flow = stack.create_flow(
        [
            {"id": "copy", "type": "set", "values": {"big": "{{ trigger.body.big }}", "note": "kept"}},
            {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": {"payload": "{{ vars.big }}"}},
            {"id": "after", "type": "set", "values": {"size": "{{ vars.big | length }}"}},
        ],
        name="large values",
    )
    # When a webhook brings a 250 KB field
    run = stack.wait_for_run(stack.trigger(flow, {"big": BIG}))
    # Then the run completes, and the node after read the whole value
    assert run["status"] == "completed", json.dumps(run)[:2000]
    assert step_of(run, "after")["output"] == {"size": 250_000}
    # And every item of the run is under DynamoDB's limit, measured on what the table holds
    items = stored_run(stack, run["runId"])
    assert max(item_bytes(item) for item in items.values()) < DYNAMODB_ITEM_LIMIT
    # And the recorded inputs are cut and marked, in the item and in run history
    assert marks(items["STEP#copy"]) == ["/input/values/big"]
    assert marks(items["STEP#send"]) == ["/input/body/payload"]
    copy = step_of(run, "copy")
    assert copy["truncated"] == ["/input/values/big"]  # what run history shows of the marks
    assert copy["input"]["values"]["big"] == {"truncated": True, "bytes": 250_000, "preview": "b" * 200}
    assert copy["output"] == {"big": BIG, "note": "kept"}
    assert step_of(run, "send")["output"]["body"] == ANSWER
    # And the call went out once, with the whole value
    (sent,) = target.calls("/e2e-large/echo")
    assert json.loads(sent["body"]) == {"payload": BIG}


def test_a_value_cut_from_an_output_fails_the_node_reading_it_with_output_truncated(stack: StackClient, target) -> None:
    # Given a set node whose output alone is over the budget (two copies, the second one larger)
    url = target.script("/e2e-large/never", 200)
    flow = stack.create_flow(
        [
            {"id": "copy", "type": "set", "values": {"a": "{{ trigger.body.big }}", "b": "{{ trigger.body.big }}!"}},
            {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": {"b": "{{ vars.b }}"}},
        ],
        name="cut output",
    )
    # When it runs
    run = stack.wait_for_run(stack.trigger(flow, {"big": BIG}))
    # Then the node reading the cut copy fails at once, naming it, and nothing is sent
    assert run["status"] == "failed"
    assert step_of(run, "copy")["status"] == "completed"
    send = step_of(run, "send")
    assert send["error"]["type"] == "OutputTruncated" and send["error"]["retryable"] is False
    assert "'/output/b' of step 'copy'" in send["error"]["message"] and len(send["attempts"]) == 1
    assert run["failedStep"]["errorType"] == "OutputTruncated"
    assert target.calls("/e2e-large/never") == []
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in stored_run(stack, run["runId"]).values())
