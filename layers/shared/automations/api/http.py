"""HTTP details the routes share."""

from __future__ import annotations

from typing import TypeVar, cast

from aws_lambda_powertools.event_handler import Request, Response, content_types
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from pydantic import BaseModel

Body = TypeVar("Body", bound=BaseModel)


def base_path(request: Request) -> str:
    """The stage prefix of the request's URL (``/v1`` deployed on execute-api; none behind a custom
    domain or on the local stack): for Location headers and the OpenAPI document's server."""
    context = cast(APIGatewayProxyEvent, request.resolved_event).request_context  # the REST API's event
    stage = context.stage
    if stage and stage != "$default" and (context.path or "").startswith(f"/{stage}"):
        return f"/{stage}"
    return ""


def created(request: Request, body: Body, path: str) -> Response[Body]:
    """201 with the new resource's ``Location`` (``path`` under the API's base path)."""
    return Response(
        status_code=201,
        content_type=content_types.APPLICATION_JSON,
        body=body,
        headers={"Location": base_path(request) + path},
    )
