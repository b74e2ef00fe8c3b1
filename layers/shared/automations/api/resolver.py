"""Builds the REST resolver: routes, OpenAPI, and the one mapping of errors to HTTP answers."""

from __future__ import annotations

from re import Match
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Request, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.middlewares.openapi_validation import (
    OpenAPIRequestValidationMiddleware,
    OpenAPIResponseValidationMiddleware,
)
from aws_lambda_powertools.event_handler.openapi.dependant import get_flat_params
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.params import Query

from automations.api import console, openapi
from automations.api.http import base_path
from automations.api.routes import events, flows, hooks, keys, ops, runs
from automations.domain import json_body
from automations.errors import (
    AutomationError,
    InvalidSignature,
    MalformedJson,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    UnknownQueryParameter,
    UnsupportedMediaType,
    ValidationFailed,
)
from automations.observability import logger


def error_response(error: AutomationError, headers: dict[str, str] | None = None) -> Response:
    if isinstance(error, Unauthorized):  # RFC 9110: a 401 names the scheme that would work
        challenge = openapi.SIGNATURE_CHALLENGE if isinstance(error, InvalidSignature) else openapi.BEARER_CHALLENGE
        headers = {**(headers or {}), "WWW-Authenticate": challenge}
    return Response(
        status_code=error.http_status,
        content_type=content_types.APPLICATION_JSON,
        body={"error": error.to_dict()},
        headers=headers,
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


class JsonObjectRequestValidation(OpenAPIRequestValidationMiddleware):
    """Powertools' request validation, taking JSON objects only:

    - no form or multipart parsing: a JSON route answers 415 to another type, before any parsing
      (so a multipart type without a boundary is a 415, not a 500);
    - a body that is not an object is refused: Powertools reads a list's first element as the
      value of a field that is not a list (meant for repeated query values), so `[{..}, 5]` would
      pass as `{..}`. Every body of this API is an object."""

    def _get_body(self, app: Any) -> dict[str, Any]:
        content_type = app.current_event.headers.get("content-type", "").strip()
        if content_type and not content_type.lower().startswith(content_types.APPLICATION_JSON):
            raise RequestUnsupportedContentType("Unsupported content type", errors=[])
        body = super()._get_body(app)
        if body is not None and not isinstance(body, dict):
            problem = {"type": "dict_type", "loc": ("body",), "msg": "the body must be a JSON object"}
            raise RequestValidationError([problem])
        return body


class Resolver(APIGatewayRestResolver):
    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        # Powertools makes these on first use unless they exist
        self._request_validation_middleware = JsonObjectRequestValidation()
        self._response_validation_middleware = OpenAPIResponseValidationMiddleware(
            validation_serializer=self._serializer,
            has_response_validation_error=self._has_response_validation_error,
        )

    def _convert_matches_into_route_keys(self, match: Match[str]) -> dict[str, str]:
        # API Gateway (REST) hands the path over still percent-encoded: `/keys/apikey%3Aab12` names
        # the key `apikey:ab12`, so path parameters are decoded before the routes see them
        return {name: unquote(value) for name, value in match.groupdict().items()}


def build_resolver() -> APIGatewayRestResolver:
    # every JSON body is parsed once, by the strict parser: limits on size, depth and numbers
    # (``domain.json_body``); its errors are AutomationErrors, answered below like any other
    app = Resolver(enable_validation=True, json_body_deserializer=json_body.parse)
    for group in (flows, hooks, events, runs, ops, keys, console):
        app.include_router(group.router)
    app.use([log_path_keys, refuse_unknown_query_parameters])

    @app.get("/openapi.json", include_in_schema=False)
    def openapi_json(request: Request):
        return Response(200, content_types.APPLICATION_JSON, openapi.document(app, base_path(request)))

    @app.get("/swagger", include_in_schema=False)
    def swagger(request: Request):
        return Response(200, "text/html", openapi.swagger_page(app, base_path(request)))

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
        method, path = app.current_event.http_method.upper(), app.current_event.path
        allowed = _methods_of(app, path)
        if allowed:
            refused = MethodNotAllowed(f"{path} takes {', '.join(allowed)}, not {method}")
            return error_response(refused, {"Allow": ", ".join(allowed)})
        return error_response(NotFound(f"no route for {method} {path}"))

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response:
        # the cause goes to the logs with the request id; the caller gets no internals
        logger.exception("unhandled error")
        body = {"error": {"type": "InternalError", "message": "internal error; the request id is in the logs"}}
        return Response(500, content_types.APPLICATION_JSON, body)

    return app


def _routes(app: APIGatewayRestResolver) -> list[Any]:
    # Powertools keeps its routes here; tests/integration/test_api.py pins the 405 it makes possible
    return [*app._static_routes, *app._dynamic_routes]


def _methods_of(app: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods ``path`` takes. A fixed route wins over a pattern: ``/runs/retrigger`` is not
    ``/runs/{runId}`` with the id "retrigger", so GET is not among its methods."""
    static = {route.method for route in app._static_routes if route.rule.match(path)}
    return sorted(static or {route.method for route in app._dynamic_routes if route.rule.match(path)})


# a route's path parameters (Powertools names them in snake case) that are log keys of every function
_PATH_LOG_KEYS = ("flow_id", "run_id")


def log_path_keys(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """The flow or run a request is about, on each of its log lines (cleared at the next request)."""
    arguments = app.context.get("_route_args") or {}
    logger.append_keys(**{key: arguments[key] for key in _PATH_LOG_KEYS if arguments.get(key)})
    return next_middleware(app)


def refuse_unknown_query_parameters(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response:
    """400 for a query parameter the route does not take: a misspelt filter (``?stauts=failed``)
    would otherwise be ignored and answer every run."""
    given = set(app.current_event.query_string_parameters or {})
    route = app.context.get("_route")
    # (no route matched: the not-found answer runs as a route of its own, and answers 404 or 405)
    if given and route is not None and any(route is registered for registered in _routes(app)):
        known = {param.alias for param in get_flat_params(route.dependant) if isinstance(param.field_info, Query)}
        if unknown := sorted(given - known):
            takes = ", ".join(sorted(known)) or "none"
            return error_response(
                UnknownQueryParameter(f"unknown query parameter(s): {', '.join(unknown)} (this route takes: {takes})")
            )
    return next_middleware(app)
