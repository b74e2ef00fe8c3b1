"""The REST API through ApiFunction's real handler (events/*.json) on a moto table."""

from __future__ import annotations

import time

import pytest

from tests.integration.conftest import OTHER_KEY, api_event, signed_webhook, table_items


def test_creating_a_flow_answers_201_with_id_version_and_secret(api) -> None:
    # When an account saves the flow from events/api_create_flow.json
    status, flow = api(api_event("api_create_flow.json"))
    # Then it is version 1 with a webhook secret shown once
    assert status == 201
    assert flow["flowId"].startswith("flow_") and flow["version"] == 1
    assert flow["webhookSecret"].startswith("whsec_")
    assert flow["webhookPath"] == f"/hooks/{flow['flowId']}"
    assert flow["definition"]["nodes"][0]["id"] == "notify"


def test_a_flow_is_listed_and_read_by_its_account_only(api, webhook_flow) -> None:
    flow_id = webhook_flow["flowId"]
    status, page = api(api_event("api_list_flows.json"))
    assert status == 200 and [f["flowId"] for f in page["items"]] == [flow_id]
    status, read = api(api_event("api_get_flow.json", path=f"/flows/{flow_id}"))
    assert status == 200 and read["definition"]["name"] == "Notify CRM of new sign-ups"
    assert "webhookSecret" not in read
    # Another account sees nothing: 404, not 403
    assert api(api_event("api_get_flow.json", path=f"/flows/{flow_id}", key=OTHER_KEY))[0] == 404
    assert api(api_event("api_list_flows.json", key=OTHER_KEY))[1]["items"] == []


def test_a_signed_webhook_records_trigger_and_run_and_answers_202(api, webhook_flow) -> None:
    # Given a saved webhook flow, When its webhook is called with a valid signature
    status, body = api(signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"email": "a@b.c"}))
    # Then the API answers at once with the trigger and the run it recorded
    assert status == 202
    assert body["triggerId"].startswith("trg_") and len(body["runIds"]) == 1
    status, run = api(api_event("api_get_run.json", path=f"/runs/{body['runIds'][0]}"))
    assert status == 200
    assert run["status"] == "scheduled"
    # and the step of its first node is queued: run history shows what the run will do next
    assert [(s["nodeId"], s["status"], s["stepNumber"]) for s in run["steps"]] == [("notify", "scheduled", 1)]
    (execution,) = run["executions"]  # requested with the run; the table's stream starts it
    assert execution["name"] == run["runId"] and execution.get("startedAt") is None
    assert run["trigger"]["body"] == {"email": "a@b.c"}
    assert run["trigger"]["headers"]["x-signature"] == "[REDACTED]"  # kept for history, never in clear
    assert run["trigger"]["headers"]["user-agent"] == "curl/8.5.0" and "host" not in run["trigger"]["headers"]
    # And the scheduled run sits in the sparse Overdue index until it starts
    run_item = next(i for i in table_items() if i["sk"]["S"] == "RUN")
    assert run_item["overduePk"]["S"].startswith("OVERDUE#")


def test_an_idempotency_key_replay_returns_the_first_recording(api, webhook_flow) -> None:
    first = api(
        signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **{"Idempotency-Key": "k1"})
    )
    again = api(
        signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **{"Idempotency-Key": "k1"})
    )
    assert first == again
    assert sum(1 for i in table_items() if i["sk"]["S"] == "RUN") == 1
    # (recording the run requests its first execution: that has no item of its own until it starts)
    assert sum(1 for i in table_items() if i["sk"]["S"].startswith("EXECUTION#")) == 0


@pytest.mark.parametrize(
    ("event", "status", "error_type"),
    [
        (lambda f: api_event("api_create_flow.json", body='{"name": "x", '), 400, "MalformedJson"),
        (
            lambda f: api_event(
                "api_create_flow.json", body={"name": "x", "trigger": {"type": "webhook"}, "nodes": [], "color": 1}
            ),
            422,
            "ValidationFailed",
        ),
        (
            lambda f: api_event(
                "api_create_flow.json",
                body={
                    "name": "x",
                    "trigger": {"type": "webhook"},
                    "nodes": [{"id": "a", "type": "http_request", "url": "http://x", "retries": 3}],
                },
            ),
            422,
            "ValidationFailed",
        ),
        (lambda f: api_event("api_create_flow.json", key=None), 401, "Unauthorized"),
        (lambda f: api_event("api_create_flow.json", key="wrong"), 401, "Unauthorized"),
        (lambda f: signed_webhook(f["flowId"], "whsec_wrong", {"a": 1}), 401, "InvalidSignature"),
        (
            lambda f: signed_webhook(f["flowId"], f["webhookSecret"], {"a": 1}, at=int(time.time()) - 301),
            401,
            "InvalidSignature",
        ),
        (lambda f: signed_webhook("flow_doesnotexist", f["webhookSecret"], {"a": 1}), 404, "NotFound"),
        (lambda f: signed_webhook(f["flowId"], f["webhookSecret"], "{not json"), 400, "MalformedJson"),
        (
            lambda f: api_event("api_list_runs.json", path=f"/flows/{f['flowId']}/runs", query={"status": "lost"}),
            422,
            "ValidationFailed",
        ),
        (
            lambda f: api_event("api_list_runs.json", path=f"/flows/{f['flowId']}/runs", query={"cursor": "Zm9v"}),
            400,
            "InvalidCursor",
        ),
        (lambda f: api_event("api_get_run.json", path="/runs/run_nope"), 404, "NotFound"),
        (lambda f: api_event("api_get_run.json", path="/nowhere"), 404, "NotFound"),
    ],
    ids=[
        "malformed-json",
        "unknown-top-level-field",
        "unknown-node-field",
        "no-api-key",
        "wrong-api-key",
        "bad-signature",
        "stale-signature",
        "unknown-flow",
        "webhook-body-not-json",
        "unknown-status-filter",
        "forged-cursor",
        "unknown-run",
        "unknown-route",
    ],
)
def test_bad_input_gets_a_clear_4xx_and_writes_nothing(api, webhook_flow, event, status, error_type) -> None:
    # Given the table as it is after saving one flow
    before = table_items()
    # When a bad request arrives
    answered, body = api(event(webhook_flow))
    # Then it is refused with the documented error shape, and nothing changed
    assert answered == status, body
    assert body["error"]["type"] == error_type
    assert body["error"]["message"]
    assert table_items() == before


def test_validation_errors_name_the_offending_field(api) -> None:
    bad = {
        "name": "x",
        "trigger": {"type": "webhook"},
        "nodes": [{"id": "a", "type": "http_request", "url": "http://x", "timeoutSeconds": 99}],
    }
    status, body = api(api_event("api_create_flow.json", body=bad))
    assert status == 422
    assert "nodes[0].http_request.timeoutSeconds" in body["error"]["message"]


def test_run_history_is_newest_first_filterable_and_paged(api, webhook_flow) -> None:
    flow_id, secret = webhook_flow["flowId"], webhook_flow["webhookSecret"]
    run_ids = [api(signed_webhook(flow_id, secret, {"n": n}))[1]["runIds"][0] for n in range(5)]
    path = f"/flows/{flow_id}/runs"
    status, first = api(api_event("api_list_runs.json", path=path, query={"limit": "2"}))
    assert status == 200
    assert [r["runId"] for r in first["items"]] == run_ids[::-1][:2]
    _, second = api(api_event("api_list_runs.json", path=path, query={"limit": "2", "cursor": first["nextCursor"]}))
    _, third = api(api_event("api_list_runs.json", path=path, query={"limit": "2", "cursor": second["nextCursor"]}))
    assert [r["runId"] for r in second["items"] + third["items"]] == run_ids[::-1][2:]
    assert third["nextCursor"] is None
    _, scheduled = api(api_event("api_list_runs.json", path=path, query={"status": "scheduled"}))
    _, failed = api(api_event("api_list_runs.json", path=path, query={"status": "failed"}))
    assert len(scheduled["items"]) == 5 and failed["items"] == []
    # another account cannot read this history
    assert api(api_event("api_list_runs.json", path=path, key=OTHER_KEY, query=None))[0] == 404


def test_a_cursor_from_one_flow_is_refused_on_another(api, webhook_flow) -> None:
    flow_id, secret = webhook_flow["flowId"], webhook_flow["webhookSecret"]
    for n in range(3):
        api(signed_webhook(flow_id, secret, {"n": n}))
    _, page = api(api_event("api_list_runs.json", path=f"/flows/{flow_id}/runs", query={"limit": "1"}))
    _, other = api(api_event("api_create_flow.json"))
    status, body = api(
        api_event("api_list_runs.json", path=f"/flows/{other['flowId']}/runs", query={"cursor": page["nextCursor"]})
    )
    assert status == 400 and body["error"]["type"] == "InvalidCursor"


def test_the_openapi_spec_documents_the_routes(api) -> None:
    status, spec = api(api_event("api_get_flow.json", path="/openapi.json", key=None))
    assert status == 200
    assert {"/flows", "/flows/{flowId}", "/hooks/{flowId}", "/flows/{flowId}/runs", "/runs/{runId}"} <= set(
        spec["paths"]
    )
