"""HTTP details clients rely on, through ApiFunction's real handler: Location on 201,
WWW-Authenticate on 401, 405 with Allow, 400 for an unknown query parameter, JSON objects only,
percent-encoded path parameters, sealed paging cursors, and the OpenAPI document that says so."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from automations.adapters.dynamo.cursors import Cursors
from tests.integration.conftest import api_event, signed_webhook


@pytest.fixture
def call(handler_of, lambda_context, accounts) -> Callable[..., tuple[int, dict[str, str], Any]]:
    """Invoke ApiFunction; answer (status, headers, parsed body)."""
    handler = handler_of("ApiFunction")

    def invoke(event: dict[str, Any], method: str | None = None) -> tuple[int, dict[str, str], Any]:
        if method is not None:
            event["httpMethod"] = event["requestContext"]["httpMethod"] = method
        response = handler(event, lambda_context)
        body = response.get("body")
        headers = dict(response.get("headers") or {})  # API Gateway answers with both kinds merged
        headers.update({name: ", ".join(values) for name, values in (response.get("multiValueHeaders") or {}).items()})
        return response["statusCode"], headers, json.loads(body) if body else None

    return invoke


def test_a_created_flow_and_key_answer_201_with_their_location(call) -> None:
    # When a flow is created through the deployed stage (events/api_create_flow.json: stage v1)
    status, headers, flow = call(api_event("api_create_flow.json"))
    # Then Location names it under the API's base path, and that path reads it
    assert status == 201 and headers["Location"] == f"/v1/flows/{flow['flowId']}"
    assert call(api_event("api_get_flow.json", path=headers["Location"].removeprefix("/v1")))[0] == 200
    # And a new API key's Location names the key
    status, headers, key = call(api_event("api_create_flow.json", path="/keys", body={"name": "ci"}))
    assert status == 201 and headers["Location"] == f"/v1/keys/{key['keyId']}"


def test_a_401_names_the_scheme_that_would_work(call, webhook_flow) -> None:
    # Given no API key: the bearer challenge
    status, headers, body = call(api_event("api_list_flows.json", key=None))
    assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="automations"'
    assert body["error"]["type"] == "Unauthorized"
    # Given a webhook with a bad signature: the signature's challenge, not the bearer one
    event = signed_webhook(webhook_flow["flowId"], "whsec_not_the_secret", {"n": 1})
    status, headers, body = call(event)
    assert status == 401 and headers["WWW-Authenticate"].startswith("Signature ")
    assert body["error"]["type"] == "InvalidSignature"


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/flows", "GET, POST"),
        ("POST", "/flows/flow_x", "DELETE, GET, PUT"),
        # a fixed route is not the pattern beside it: /runs/retrigger is not run "retrigger"
        ("DELETE", "/runs/retrigger", "POST"),
        ("TRACE", "/keys", "GET, POST"),
    ],
)
def test_a_method_a_route_lacks_answers_405_with_allow(call, method: str, path: str, allow: str) -> None:
    status, headers, body = call(api_event("api_get_flow.json", path=path), method=method)
    assert status == 405 and headers["Allow"] == allow
    assert body["error"]["type"] == "MethodNotAllowed" and method in body["error"]["message"]


def test_a_path_no_route_has_is_still_404(call) -> None:
    status, headers, body = call(api_event("api_get_flow.json", path="/nowhere"), method="GET")
    assert status == 404 and "Allow" not in headers and body["error"]["type"] == "NotFound"


def test_an_unknown_query_parameter_answers_400_naming_it(call) -> None:
    # When a filter is misspelt, the listing is not silently unfiltered
    query = {"stauts": "failed", "limit": "5"}
    status, _, body = call(api_event("api_list_flows.json", path="/runs", query=query))
    assert status == 400 and body["error"]["type"] == "UnknownQueryParameter"
    assert "stauts" in body["error"]["message"] and "status" in body["error"]["message"]
    # while the route's own parameters are accepted
    assert call(api_event("api_list_flows.json", path="/runs", query={"status": "failed", "limit": "5"}))[0] == 200


@pytest.mark.parametrize(
    ("content_type", "body", "status", "error_type"),
    [
        ("application/json", [{"name": "a"}, 5], 422, "ValidationFailed"),  # not the list's first element
        ("application/json", "[null, null]", 422, "ValidationFailed"),
        ("multipart/form-data", '{"name": "a"}', 415, "UnsupportedMediaType"),  # no boundary: not a 500
        ("application/x-www-form-urlencoded", "name=a", 415, "UnsupportedMediaType"),
    ],
)
def test_a_json_route_takes_a_json_object_only(
    call, content_type: str, body: Any, status: int, error_type: str
) -> None:
    event = api_event("api_create_flow.json", path="/keys", body=body, headers={"Content-Type": content_type})
    answer = call(event)
    assert (answer[0], answer[2]["error"]["type"]) == (status, error_type)
    assert len(call(api_event("api_get_flow.json", path="/keys"))[2]["items"]) == 1  # no key was made


def test_a_percent_encoded_path_parameter_is_decoded(call) -> None:
    # Given a second key (ids hold a colon: apikey:<hex>)
    _, _, key = call(api_event("api_create_flow.json", path="/keys", body={"name": "old"}))
    # When a client that percent-encodes the colon revokes it
    encoded = key["keyId"].replace(":", "%3A")
    status, _, revoked = call(api_event("api_get_flow.json", path=f"/keys/{encoded}"), method="DELETE")
    # Then that key is revoked
    assert status == 200 and revoked["keyId"] == key["keyId"] and revoked["revokedAt"]


@pytest.mark.parametrize(("name", "value"), [("to", "0.5"), ("from", "1732500000")])
def test_a_moment_is_iso_text_not_a_number_read_as_unix_time(call, name: str, value: str) -> None:
    status, _, body = call(api_event("api_list_flows.json", path="/runs", query={name: value}))
    assert status == 422 and "ISO 8601" in body["error"]["message"]


def test_a_paging_cursor_is_sealed_and_carries_no_table_key(call, webhook_flow) -> None:
    # Given three runs of a flow, listed one per page
    flow_id, secret = webhook_flow["flowId"], webhook_flow["webhookSecret"]
    for n in range(3):
        call(signed_webhook(flow_id, secret, {"n": n}))
    path = f"/flows/{flow_id}/runs"
    _, _, page = call(api_event("api_list_runs.json", path=path, query={"limit": "1"}))
    cursor = page["nextCursor"]
    # Then the cursor shows none of the table's keys, names or values
    raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    # (quoted names: two bare letters turn up in random ciphertext about once in 300 cursors)
    assert not re.search(rb'RUN#|FLOW#|ACCOUNT#|"pk"|"sk"|run_', raw)
    # and it works, once, as handed out
    status, _, second = call(api_event("api_list_runs.json", path=path, query={"limit": "1", "cursor": cursor}))
    assert status == 200 and second["items"][0]["runId"] != page["items"][0]["runId"]
    # When it is altered in any character, or sealed with another secret, it is refused
    altered = cursor[:40] + ("A" if cursor[40] != "A" else "B") + cursor[41:]
    foreign = Cursors(lambda: "another-secret").seal({"pk": {"S": "RUN#x"}})
    for bad in (altered, foreign, "not-a-cursor"):
        status, _, body = call(api_event("api_list_runs.json", path=path, query={"cursor": bad}))
        assert status == 400 and body["error"]["type"] == "InvalidCursor"


# --- the OpenAPI document ---------------------------------------------------------------------


@pytest.fixture
def document(call) -> dict[str, Any]:
    status, _, doc = call(api_event("api_get_flow.json", path="/openapi.json", key=None))
    assert status == 200
    return doc


def operations(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {op["operationId"]: op for item in document["paths"].values() for op in item.values()}


def test_every_operation_has_a_readable_unique_id(document) -> None:
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == 22
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]+)*", op_id) for op_id in ids), ids
    assert {"createFlow", "callWebhook", "listRuns", "cancelRun", "revokeKey"} <= set(ids)


def test_errors_are_documented_with_the_one_error_shape(document) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["type", "message"]
    assert "HTTPValidationError" not in document["components"]["schemas"]  # Powertools' shape is not ours
    ops = operations(document)
    for op_id, op in ops.items():
        for status in ("400", "401", "422"):
            assert op["responses"][status]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"
            }, (op_id, status)
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    assert {"404", "409", "413", "415"} <= set(ops["publishFlowVersion"]["responses"])
    assert "404" not in ops["listFlows"]["responses"] and "409" not in ops["listFlows"]["responses"]
    assert "Location" in ops["createFlow"]["responses"]["201"]["headers"]


def test_the_bearer_scheme_is_declared_and_the_webhook_is_signed_instead(document) -> None:
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["apiKey"]["description"],
    }
    assert document["security"] == [{"apiKey": []}]
    webhook = operations(document)["callWebhook"]
    assert webhook["security"] == []
    headers = {p["name"].lower() for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == {"x-signature", "idempotency-key"}
    assert "application/json" in webhook["requestBody"]["content"]


def test_the_document_serves_the_base_path_it_was_asked_on(document) -> None:
    assert document["servers"] == [{"url": "/v1"}]


def test_swagger_ui_serves_the_same_document(handler_of, lambda_context, accounts) -> None:
    # Swagger's page embeds the document, its server the stage, and the bearer scheme for Authorize
    response = handler_of("ApiFunction")(api_event("api_get_flow.json", path="/swagger", key=None), lambda_context)
    assert response["statusCode"] == 200 and "SwaggerUIBundle" in response["body"]
    assert '"servers": [{"url": "/v1"}]' in response["body"] and '"scheme": "bearer"' in response["body"]
