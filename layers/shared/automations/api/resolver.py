"""Builds the REST resolver: routes, OpenAPI, and the one mapping of errors to HTTP answers."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)

from automations.api.routes import events, flows, hooks, keys, ops, runs
from automations.domain import json_body
from automations.errors import AutomationError, MalformedJson, NotFound, UnsupportedMediaType, ValidationFailed
from automations.observability import logger

API_TITLE = "Automations engine API"
API_VERSION = "1.0.0"


def error_response(error: AutomationError) -> Response:
    return Response(
        status_code=error.http_status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": error.to_dict()},
    )


def _location(loc: tuple[Any, ...]) -> str:
    """('body', 'nodes', 0, 'url') -> 'nodes[0].url' (the request part is implied)."""
    parts: list[str] = []
    for item in loc[1:] if loc and loc[0] in ("body", "query", "path", "header") else loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or str(loc[0] if loc else "body")


def validation_error(error: RequestValidationError) -> AutomationError:
    problems = error.errors()
    if any(p.get("type") == "json_invalid" for p in problems):
        return MalformedJson("request body is not valid JSON")
    details = [{"field": _location(tuple(p.get("loc", ()))), "message": p.get("msg", p.get("type"))} for p in problems]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return ValidationFailed(f"invalid request: {summary}", details=details)


def build_resolver() -> APIGatewayRestResolver:
    # every JSON body is parsed once, by the strict parser: limits on size, depth and numbers
    # (``domain.json_body``); its errors are AutomationErrors, answered below like any other
    app = APIGatewayRestResolver(enable_validation=True, json_body_deserializer=json_body.parse)
    for group in (flows, hooks, events, runs, ops, keys):
        app.include_router(group.router)

    app.enable_swagger(path="/swagger", title=API_TITLE, version=API_VERSION)

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json():
        return Response(
            200, content_types.APPLICATION_JSON, app.get_openapi_json_schema(title=API_TITLE, version=API_VERSION)
        )

    @app.exception_handler(AutomationError)
    def handle_domain_error(error: AutomationError) -> Response:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    def handle_validation_error(error: RequestValidationError) -> Response:
        return error_response(validation_error(error))

    @app.exception_handler(RequestUnsupportedContentType)
    def handle_unsupported_content_type(_: RequestUnsupportedContentType) -> Response:
        content_type = app.current_event.headers.get("content-type", "")
        return error_response(UnsupportedMediaType(f"send JSON (Content-Type: application/json), not {content_type!r}"))

    @app.exception_handler(UnicodeDecodeError)
    def handle_undecodable_body(error: UnicodeDecodeError) -> Response:
        # Powertools decodes a base64 body to text before our parser sees it; any other decode
        # error is ours, and stays a 500 with its cause in the logs
        if not app.current_event.is_base64_encoded:
            return handle_unexpected(error)
        return error_response(MalformedJson(f"request body is not UTF-8 text (invalid byte at offset {error.start})"))

    @app.not_found
    def handle_not_found(_: Exception) -> Response:
        return error_response(NotFound(f"no route for {app.current_event.http_method} {app.current_event.path}"))

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        # the cause goes to the logs with the request id; the caller gets no internals
        logger.exception("unhandled error")
        body = {"error": {"type": "InternalError", "message": "internal error; the request id is in the logs"}}
        return Response(500, content_types.APPLICATION_JSON, body)

    return app
