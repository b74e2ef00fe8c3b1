"""The OpenAPI document and the Swagger UI page.

Powertools generates the document from the routes; this module adds what the routes cannot say:
the one error shape (``{"error": {"type", "message", "details"}}``) on every error status an
operation can answer, the bearer security scheme (the webhook is signed instead), the ``Location``
header of a 201, and the API's base path (the stage, deployed) as its server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

TITLE = "Automations engine API"
VERSION = "1.0.0"
SECURITY_SCHEME = "apiKey"

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string", "description": "The error's name, e.g. NotFound, ValidationFailed"},
                "message": {"type": "string"},
                "details": {"description": "Where the error is, when known (e.g. a list of field problems)"},
            },
        }
    },
}
ERROR_STATUSES = {
    400: "Bad request: malformed JSON, a bad cursor or an unknown query parameter",
    401: "No valid credentials: a missing, unknown or revoked API key (a webhook: a bad signature)",
    404: "No such resource in this account",
    409: "Conflicts with the resource's state",
    413: "Request body too large",
    415: "Request body is not JSON",
    422: "The request is well-formed JSON but not valid",
}
# what every operation can answer; a body adds 413/415, a path parameter 404
COMMON_ERRORS = (400, 401, 422)
# operations that can meet a state they refuse (409)
CONFLICTS = {
    "createFlow",  # (and publishFlowVersion) a flow on an event that MAX_FLOWS_PER_EVENT flows start on
    "postEvent",
    "publishFlowVersion",
    "deleteFlow",
    "rotateWebhookSecret",
    "callWebhook",
    "runFlow",
    "retriggerRun",
    "cancelRun",
    "resumeRun",
    "createKey",
    "revokeKey",
}
# operations that name a resource outside their path (a flowId filter or field): 404 when it is not there
NAMES_A_RESOURCE = {"listOverdueRuns", "retriggerRuns"}
# requests whose authentication is a signature, not the API key
SIGNED_OPERATIONS = {"callWebhook"}
BEARER_CHALLENGE = 'Bearer realm="automations"'
SIGNATURE_CHALLENGE = 'Signature realm="webhooks", header="X-Signature"'


def document(app: APIGatewayRestResolver, base_path: str = "") -> dict[str, Any]:
    """The API's OpenAPI document, its server being ``base_path`` (the deployed stage, or none)."""
    doc = copy.deepcopy(_document(app))
    doc["servers"] = [{"url": base_path or "/"}]
    return doc


_documents: dict[int, dict[str, Any]] = {}


def _document(app: APIGatewayRestResolver) -> dict[str, Any]:
    # generated once per resolver (a cold start): the routes do not change
    if id(app) not in _documents:
        doc = json.loads(app.get_openapi_json_schema(title=TITLE, version=VERSION))
        _documents[id(app)] = _complete(doc)
    return _documents[id(app)]


def _complete(doc: dict[str, Any]) -> dict[str, Any]:
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):  # Powertools' 422 shape; ours is Error
        schemas.pop(unused, None)
    schemas["Error"] = ERROR_SCHEMA
    doc["components"]["securitySchemes"] = {
        SECURITY_SCHEME: {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key of the account: Authorization: Bearer <key> (POST /keys makes more)",
        }
    }
    doc["security"] = [{SECURITY_SCHEME: []}]
    for path, operations in doc["paths"].items():
        for operation in operations.values():
            _complete_operation(path, operation)
    return doc


def _complete_operation(path: str, operation: dict[str, Any]) -> None:
    statuses = set(COMMON_ERRORS)
    if "requestBody" in operation:
        statuses |= {413, 415}
    if "{" in path or operation.get("operationId") in NAMES_A_RESOURCE:
        statuses.add(404)
    if operation.get("operationId") in CONFLICTS:
        statuses.add(409)
    responses = operation["responses"]
    for status in sorted(statuses):
        responses[str(status)] = {
            "description": ERROR_STATUSES[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    challenge = SIGNATURE_CHALLENGE if operation.get("operationId") in SIGNED_OPERATIONS else BEARER_CHALLENGE
    responses["401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "example": challenge}}}
    if "201" in responses:
        responses["201"]["headers"] = {
            "Location": {"description": "The created resource", "schema": {"type": "string", "format": "uri-reference"}}
        }


def swagger_page(app: APIGatewayRestResolver, base_path: str) -> str:
    """Swagger UI for the same document (its Authorize button takes the API key)."""
    # imported here: Powertools' Swagger module pulls in its OpenAPI models, which no cold start needs
    from aws_lambda_powertools.event_handler.openapi import swagger_ui
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    assets = Path(swagger_ui.__file__).parent
    spec = json.dumps(document(app, base_path)).replace("</", "<\\/")  # stays inside its <script>
    return generate_swagger_html(
        spec,
        (assets / "swagger-ui-bundle.min.js").read_text(encoding="utf-8"),
        (assets / "swagger-ui.min.css").read_text(encoding="utf-8"),
        swagger_base_url="",
        oauth2_config=None,
        persist_authorization=True,
    )
