"""Saving flows through the API: every invalid flow is a 422 naming the problem, and stores nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.conftest import api_event, table_items


def flow(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {"name": "f", "trigger": {"type": "webhook"}, "nodes": list(nodes)}


def http(node_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http_request", "url": "https://crm.example.com/x", **fields}


INVALID = {
    "unknown node type": (flow(http("a"), {"id": "b", "type": "fax"}), "node 'b': unknown type 'fax'"),
    "duplicate ids": (flow(http("a"), http("a")), "duplicate node id 'a'"),
    "dangling next": (flow(http("a", next="nowhere"), http("b")), "next 'nowhere' is not a node of this flow"),
    "cycle": (flow(http("a"), http("b", next="a")), "nodes a -> b -> a form a cycle"),
    "unreachable": (flow(http("a", next="c"), http("b"), http("c")), "node 'b' can never run"),
    "too many nodes": (flow(*[http(f"n{i}") for i in range(51)]), "nodes: List should have at most 50 items"),
    "node too big": (flow(http("a", body={"blob": "x" * 17_000})), "node 'a' is"),
    "malformed template": (flow(http("a", url="https://x.io/{{ trigger.body.id")), "node 'a', url:"),
    "unknown root": (flow(http("a", url="https://x.io/{{ secrets.key }}")), "unknown root 'secrets'"),
    "step not before": (
        flow(http("a", url="https://x.io/{{ steps.b.output.body.id }}"), http("b")),
        "steps.b: node 'b' does not run before 'a'",
    ),
    "variable never set": (flow(http("a", body={"n": "{{ vars.total }}"})), "vars.total is not set by any set node"),
    "bad condition": (
        flow({"id": "c", "type": "condition", "if": "trigger.body.x ===", "then": "a", "else": "a"}, http("a")),
        "node 'c', if:",
    ),
    "delay with both": (
        flow({"id": "d", "type": "delay", "seconds": 1, "until": "2026-01-01T00:00:00Z"}),
        "exactly one",
    ),
    "email without body": (flow({"id": "e", "type": "send_email", "to": "a@b.io", "subject": "s"}), "'text' or 'html'"),
}


@pytest.mark.parametrize("definition, problem", list(INVALID.values()), ids=list(INVALID))
def test_an_invalid_flow_is_refused_naming_the_problem_and_nothing_is_stored(api, definition, problem) -> None:
    # Given the table as it is, When an invalid flow is saved
    before = table_items()
    status, body = api(api_event("api_create_flow.json", body=definition))
    # Then it is a 422 whose message names the problem, and nothing was written
    assert status == 422, body
    assert body["error"]["type"] in ("FlowValidationError", "ValidationFailed")
    assert problem in body["error"]["message"], body["error"]["message"]
    assert table_items() == before


def test_graph_and_placeholder_problems_come_with_node_and_field(api) -> None:
    definition = flow(http("a", headers={"X-Id": "{{ steps.zz.output }}"}, next="gone"))
    status, body = api(api_event("api_create_flow.json", body=definition))
    assert status == 422 and body["error"]["type"] == "FlowValidationError"
    assert {(d["node"], d["field"]) for d in body["error"]["details"]} == {("a", "next"), ("a", "headers.X-Id")}


def test_publishing_creates_a_new_version_and_keeps_the_old_one(api, webhook_flow) -> None:
    flow_id = webhook_flow["flowId"]
    # the sample event is a POST /flows; publishing is a PUT to the flow
    event = api_event("api_create_flow.json", path=f"/flows/{flow_id}", body=flow(http("v2")))
    event["httpMethod"] = event["requestContext"]["httpMethod"] = "PUT"
    status, published = api(event)
    assert status == 200 and published["version"] == 2
    assert [n["id"] for n in published["definition"]["nodes"]] == ["v2"]
    invalid = dict(event, body=json.dumps(flow({"id": "a", "type": "set", "values": {"x": "{{ vars.y }}"}})))
    status, body = api(invalid)
    assert status == 422 and body["error"]["type"] == "FlowValidationError"
    status, read = api(api_event("api_get_flow.json", path=f"/flows/{flow_id}"))
    assert read["version"] == 2  # the refused version was not stored
