"""Issue #10: "a step item can pass 400 KB". Large values through the node tasks (their handlers on
moto): every step and attempt item stays under DynamoDB's item limit, cuts are marked, the call
goes out once, and a later node never reads a cut value as if it were whole."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.api.response_size import LAMBDA_RESPONSE_LIMIT_BYTES, RESPONSE_BUDGET_BYTES, sent_size
from automations.domain import clock
from automations.domain.runs import Run
from automations.settings import get_settings
from tests.conftest import TABLE
from tests.integration.conftest import DEMO_RUN_ID, api_event, seed_demo_run
from tests.support.dynamodb_size import DYNAMODB_ITEM_LIMIT, item_bytes

RUN_ID = DEMO_RUN_ID
BIG = "b" * 250_000  # a webhook field near the 256 KB the intake accepts
ANSWER = {"data": "a" * 130_000}  # an answer just under the 128 KiB an http_request output keeps


def run_items() -> list[dict[str, Any]]:
    """The run's partition as stored (typed attribute values)."""
    response = boto3.client("dynamodb").query(
        TableName=TABLE,
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": f"RUN#{RUN_ID}"}},
    )
    return response["Items"]


def stored(sk: str) -> dict[str, Any]:
    return next(item for item in run_items() if item["sk"]["S"] == sk)


def start(repo: DynamoRepository, nodes: list[dict[str, Any]], body: Any) -> Run:
    run = seed_demo_run(repo, nodes, body)
    now = clock.iso(clock.now())
    repo.start_execution(run_id=RUN_ID, name=RUN_ID, arn=None, at=now, check_after=now)
    return run


def attempt_items() -> list[dict[str, Any]]:
    return [item for item in run_items() if item["sk"]["S"].startswith("ATTEMPT#")]


def task(node_id: str, step_number: int) -> dict[str, Any]:
    return {"runId": RUN_ID, "stepNumber": step_number, "nodeId": node_id}


def test_a_copied_webhook_field_and_a_large_answer_are_recorded_under_the_item_limit(
    handler_of, lambda_context, repo, target
) -> None:
    # Given a flow that copies a 250 KB webhook field (set) and posts it to a target answering ~128 KB
    url = target.script("/large/echo", (200, ANSWER))
    nodes = [
        {"id": "copy", "type": "set", "values": {"big": "{{ trigger.body.big }}", "note": "kept"}},
        {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": {"payload": "{{ vars.big }}"}},
        {
            "id": "after",
            "type": "set",
            "values": {"size": "{{ vars.big | length }}", "got": "{{ steps.send.output.status }}"},
        },
    ]
    start(repo, nodes, {"big": BIG})
    calls_before = len(target.calls("/large/echo"))
    # When the three nodes run: the first set as its task, the second inline after the request
    compute, http = handler_of("ComputeNodeFunction"), handler_of("HttpRequestFunction")
    assert compute(task("copy", 1), lambda_context)["node"]["id"] == "send"
    assert http(task("send", 2), lambda_context)["node"]["task"] == "EndRun"
    # Then every item of the run is under DynamoDB's limit, measured on what was stored
    sizes = {item["sk"]["S"]: item_bytes(item) for item in run_items()}
    assert max(sizes.values()) < DYNAMODB_ITEM_LIMIT, sizes
    # And the input copies were cut and marked, the outputs kept whole for later nodes
    copy_item, send_item = stored("STEP#copy"), stored("STEP#send")
    assert [p["S"] for p in copy_item["truncated"]["L"]] == ["/input/values/big"]
    assert [p["S"] for p in send_item["truncated"]["L"]] == ["/input/body/payload"]
    steps = {s.node_id: s for s in repo.get_run_detail(RUN_ID).steps}
    assert steps["copy"].input["values"]["big"] == {"truncated": True, "bytes": 250_000, "preview": "b" * 200}
    assert steps["copy"].output == {"big": BIG, "note": "kept"}
    assert steps["send"].output["body"] == ANSWER and "truncated" not in send_item.get("output", {}).get("M", {})
    assert steps["after"].output == {"size": 250_000, "got": 200} and steps["after"].truncated is None
    assert [s.status for s in steps.values()] == ["completed"] * 3
    # And the call went out once, with the whole value
    (sent,) = target.calls("/large/echo")[calls_before:]
    assert json.loads(sent["body"]) == {"payload": BIG}


def test_a_value_cut_from_an_output_fails_the_node_that_reads_it_at_once(
    handler_of, lambda_context, repo, target
) -> None:
    # Given a set node whose output (two copies of a 250 KB field) is over the budget on its own
    url = target.script("/large/never", 200)
    nodes = [
        {"id": "copy", "type": "set", "values": {"a": "{{ trigger.body.big }}", "b": "{{ trigger.body.big }}!"}},
        {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": {"b": "{{ vars.b }}"}},
    ]
    start(repo, nodes, {"big": BIG})
    compute, http = handler_of("ComputeNodeFunction"), handler_of("HttpRequestFunction")
    # When it runs, its step completes with its input and the larger copy (b) cut from what it recorded
    compute(task("copy", 1), lambda_context)
    copy_step = repo.get_run_detail(RUN_ID).steps[0]
    assert copy_step.status == "completed" and copy_step.truncated == ["/input", "/output/b"]
    assert copy_step.output["a"] == BIG and copy_step.output["b"]["truncated"] is True
    # And the node that reads the cut copy fails permanently, naming it, and calls nothing
    with pytest.raises(Exception) as raised:
        http(task("send", 2), lambda_context)
    assert type(raised.value).__name__ == "OutputTruncated"
    send_step = next(s for s in repo.get_run_detail(RUN_ID).steps if s.node_id == "send")
    assert send_step.status == "failed" and send_step.error.type == "OutputTruncated"
    assert send_step.error.retryable is False and "'/output/b' of step 'copy'" in send_step.error.message
    assert "'vars.b'" in send_step.error.message
    assert target.calls("/large/never") == []
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in run_items())


def test_a_call_whose_resolved_input_is_over_the_limit_goes_out_once_and_is_recorded(
    handler_of, lambda_context, repo, target
) -> None:
    # Given an http_request whose body carries a 250 KB field twice (500 KB resolved, sent whole)
    url = target.script("/large/twice", (200, ANSWER))
    body = {"first": "{{ trigger.body.big }}", "second": "{{ trigger.body.big }}"}
    start(repo, [{"id": "send", "type": "http_request", "method": "POST", "url": url, "body": body}], {"big": BIG})
    calls_before = len(target.calls("/large/twice"))
    # When it runs
    state = handler_of("HttpRequestFunction")(task("send", 1), lambda_context)
    # Then the step completes (its write cannot fail for size after the call went out) ...
    assert state["node"]["task"] == "EndRun"
    (step,) = repo.get_run_detail(RUN_ID).steps
    assert step.status == "completed" and step.output["body"] == ANSWER
    assert step.truncated == ["/input/body/first", "/input/body/second"]
    assert step.input["body"]["first"] == {"truncated": True, "bytes": 250_000, "preview": "b" * 200}
    # ... the exchange its attempt keeps is capped as before (recorded bodies are 16 KB at most)
    (attempt,) = repo.get_run_detail(RUN_ID).attempts
    assert attempt.status == "completed" and attempt.truncated is None
    assert len(attempt.http.request["body"]) == 16_384
    # ... on its step, in the write that completed it (step and exchange fit one item's budget)
    assert "lastAttempt" in stored("STEP#send") and not attempt_items()
    # (holding no second copy of what the step holds: its run and node ids, the request's URL and
    # the response's headers, which history reads back from the step)
    on_step = stored("STEP#send")["lastAttempt"]["M"]
    assert not {"runId", "nodeId"} & set(on_step)
    exchange = on_step["http"]["M"]
    assert "url" not in exchange["request"]["M"] and "headers" not in exchange["response"]["M"]
    assert (attempt.run_id, attempt.node_id) == (RUN_ID, "send")
    assert attempt.http.request["url"] == step.input["url"] == url
    assert attempt.http.response["headers"] == step.output["headers"] and "Content-Type" in step.output["headers"]
    # ... the call went out once, whole, and every item is under the limit
    (sent,) = target.calls("/large/twice")[calls_before:]
    assert json.loads(sent["body"]) == {"first": BIG, "second": BIG}
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in run_items())


def test_recorded_exchanges_stay_under_the_limit_whatever_body_cap_is_configured(
    handler_of, lambda_context, repo, target, monkeypatch
) -> None:
    # Given a deployment that records HTTP bodies up to 1 MB, and a call sending 500 KB
    monkeypatch.setenv("MAX_RECORDED_BODY_BYTES", "1000000")
    get_settings.cache_clear()
    url = target.script("/large/recorded", (200, ANSWER))
    body = {"first": "{{ trigger.body.big }}", "second": "{{ trigger.body.big }}"}
    start(repo, [{"id": "send", "type": "http_request", "method": "POST", "url": url, "body": body}], {"big": BIG})
    # When it runs
    handler_of("HttpRequestFunction")(task("send", 1), lambda_context)
    # Then its attempt keeps the answer, and the request body is cut and marked
    (attempt,) = repo.get_run_detail(RUN_ID).attempts
    assert attempt.status == "completed" and attempt.truncated == ["/http/request/body"]
    assert attempt.http.request["body"]["truncated"] is True and attempt.http.request["body"]["bytes"] > 500_000
    assert json.loads(attempt.http.response["body"]) == ANSWER
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in run_items())


def test_an_output_cut_whole_makes_each_of_its_variables_unreadable(handler_of, lambda_context, repo, target) -> None:
    # Given a set node with twenty copies of a 250 KB field: too many parts to cut one by one
    values = {f"k{i}": "{{ trigger.body.big }}" for i in range(20)}
    url = target.script("/large/never-whole", 200)
    nodes = [
        {"id": "copy", "type": "set", "values": values},
        {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": {"k3": "{{ vars.k3 }}"}},
    ]
    start(repo, nodes, {"big": BIG})
    # When it runs, its whole output is recorded as one marker
    handler_of("ComputeNodeFunction")(task("copy", 1), lambda_context)
    copy_step = repo.get_run_detail(RUN_ID).steps[0]
    assert copy_step.truncated == ["/input", "/output"] and copy_step.output["truncated"] is True
    # Then a node reading one of its variables fails with OutputTruncated (not MissingVariable)
    with pytest.raises(Exception) as raised:
        handler_of("HttpRequestFunction")(task("send", 2), lambda_context)
    assert type(raised.value).__name__ == "OutputTruncated"
    assert "'vars.k3' cannot be read" in str(raised.value) and target.calls("/large/never-whole") == []
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in run_items())


def test_an_exchange_too_large_to_share_its_steps_item_is_recorded_in_an_item_of_its_own(
    handler_of, lambda_context, repo, target, monkeypatch
) -> None:
    # Given bodies recorded up to 1 MB, and a call sending 150 KB and answering 130 KB: the step
    # (its input and output) and the exchange each fit one item's budget, both together do not
    monkeypatch.setenv("MAX_RECORDED_BODY_BYTES", "1000000")
    get_settings.cache_clear()
    url = target.script("/large/apart", (200, ANSWER))
    body = {"part": "{{ trigger.body.part }}"}
    node = {"id": "send", "type": "http_request", "method": "POST", "url": url, "body": body}
    start(repo, [node], {"part": "p" * 150_000})
    # When it runs
    handler_of("HttpRequestFunction")(task("send", 1), lambda_context)
    # Then the attempt is an item of its own, whole, beside its completed step, and both read back
    assert [item["sk"]["S"] for item in attempt_items()] == ["ATTEMPT#send#0001"]
    assert "lastAttempt" not in stored("STEP#send")
    detail = repo.get_run_detail(RUN_ID)
    (attempt,) = detail.attempts
    assert attempt.status == "completed" and attempt.truncated is None
    assert json.loads(attempt.http.request["body"]) == {"part": "p" * 150_000}
    assert detail.steps[0].status == "completed" and detail.steps[0].truncated is None
    assert all(item_bytes(item) < DYNAMODB_ITEM_LIMIT for item in run_items())


def test_a_runs_history_too_large_for_one_answer_leaves_out_its_largest_values_and_each_step_reads_whole(
    handler_of, lambda_context, repo, accounts
) -> None:
    # Given a run of 28 steps each keeping a 250 KB webhook field as its output: more than Lambda
    # may answer at once (6 MB, the body a JSON string in it)
    nodes = [{"id": f"copy{n}", "type": "set", "values": {"big": "{{ trigger.body.big }}"}} for n in range(28)]
    start(repo, nodes, {"big": BIG})
    compute, api = handler_of("ComputeNodeFunction"), handler_of("ApiFunction")
    assert compute(task("copy0", 1), lambda_context)["node"]["task"] == "EndRun"  # (the rest ran inline)
    # When its history is read
    response = api(api_event("api_get_run.json", path=f"/runs/{RUN_ID}"), lambda_context)
    # Then it is answered, within the limit, the fewest largest values left out, each marked and listed
    assert response["statusCode"] == 200
    assert len(json.dumps(response)) <= LAMBDA_RESPONSE_LIMIT_BYTES
    run = json.loads(response["body"])
    assert run["omitted"] and all(re.fullmatch(r"/steps/\d+/output", p) for p in run["omitted"])
    left_out = [int(pointer.split("/")[2]) for pointer in run["omitted"]]
    # (as few as fit: one value fewer left out, and the answer would not)
    assert sent_size(run) <= RESPONSE_BUDGET_BYTES < sent_size(run) + len(BIG)
    for n, step in enumerate(run["steps"]):
        if n in left_out:
            assert step["output"]["truncated"] is True and step["output"]["bytes"] > 250_000
        else:
            assert step["output"] == {"big": BIG}
    assert run["trigger"]["body"] == {"big": BIG}
    # And a step it left out answers whole on its own
    node_id = run["steps"][left_out[0]]["nodeId"]
    status, step = invoke(api, api_event("api_get_run.json", path=f"/runs/{RUN_ID}/steps/{node_id}"), lambda_context)
    assert (status, step["omitted"], step["output"]) == (200, None, {"big": BIG})
    # and a node the run has no step at is a 404
    assert invoke(api, api_event("api_get_run.json", path=f"/runs/{RUN_ID}/steps/nowhere"), lambda_context)[0] == 404


def invoke(api, event: dict[str, Any], context) -> tuple[int, Any]:
    response = api(event, context)
    return response["statusCode"], json.loads(response["body"])
