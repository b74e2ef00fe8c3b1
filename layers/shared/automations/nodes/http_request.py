"""The ``http_request`` node: one HTTP call, classified into the engine's error taxonomy.

| outcome                               | error                 | retried by      |
|---------------------------------------|-----------------------|-----------------|
| network error, timeout, 408, 5xx      | TransientError        | transient       |
| 429 (Retry-After recorded)            | RateLimited           | rate-limit      |
| 401, 403                              | AuthenticationError   | never           |
| other 4xx                             | ExternalApiError      | never           |
| bad URL, blocked target               | ConfigurationError    | never           |

Redirects are not followed (a redirect could lead to a blocked address); a 3xx is output.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from typing import Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

import requests
from pydantic import Field

from automations.domain.redaction import redact_headers, redact_url
from automations.domain.runs import HttpExchange
from automations.errors import (
    AuthenticationError,
    ConfigurationError,
    ExternalApiError,
    NodeError,
    RateLimited,
    TransientError,
)
from automations.nodes.base import (
    REGISTRY,
    NodeBase,
    NodeContext,
    NodeOutcome,
    NodeServices,
    NodeSettings,
    NodeType,
    TemplateText,
    is_empty_value,
)

# What later nodes can read as steps.<id>.output.body; larger bodies are cut (and flagged).
MAX_OUTPUT_BODY_BYTES = 128 * 1024
USER_AGENT = "automations-engine/1"


class HttpRequestNode(NodeBase):
    """Call an HTTP endpoint; the output is ``{status, headers, body}``."""

    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    type: Literal["http_request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: Annotated[str, Field(min_length=1, max_length=10_000)]
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10


def _check_target(url: str, allow_private: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"url must be an absolute http(s) URL, got '{redact_url(url)}'")
    if allow_private:
        return
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, parts.port or 443)}
    except socket.gaierror as error:
        raise TransientError(f"cannot resolve host '{parts.hostname}': {error}") from error
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%", 1)[0])
        if not ip.is_global:
            raise ConfigurationError(f"target '{parts.hostname}' resolves to a non-public address ({ip})")


def _cap(text: str, limit: int) -> tuple[str, bool]:
    raw = text.encode()
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode(errors="ignore"), True


def _parse_body(response: requests.Response) -> tuple[Any, bool]:
    text, truncated = _cap(response.text, MAX_OUTPUT_BODY_BYTES)
    if not truncated and "json" in response.headers.get("content-type", ""):
        try:
            return response.json(), False
        except ValueError:
            pass
    return text, truncated


def recorded_response(response: requests.Response, cap: int) -> dict[str, Any]:
    """What run history keeps of an answer: status, redacted headers, a capped body."""
    return {
        "status": response.status_code,
        "headers": redact_headers(dict(response.headers)),
        "body": _cap(response.text, cap)[0],
        "elapsedMs": int(response.elapsed.total_seconds() * 1000),
    }


def classify(method: str, url: str, response: requests.Response) -> NodeError | None:
    status = response.status_code
    if status < 400:
        return None
    snippet = _cap(response.text.strip(), 300)[0]
    message = f"{method} {redact_url(url)} answered {status} {response.reason or ''}".strip()
    if snippet:
        message += f": {snippet}"
    if status == 429:
        retry_after = response.headers.get("retry-after")
        seconds = float(retry_after) if retry_after and retry_after.strip().isdigit() else None
        return RateLimited(message, retry_after_seconds=seconds)
    if status in (408,) or status >= 500:
        return TransientError(message)
    if status in (401, 403):
        return AuthenticationError(message)
    return ExternalApiError(message)


def send(node: HttpRequestNode, params: dict[str, Any], session: requests.Session, policy: NodeSettings) -> NodeOutcome:
    """Make the call the resolved parameters describe; classify and record the answer."""
    url = str(params["url"])
    _check_target(url, policy.allow_private_targets)
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    headers.setdefault("User-Agent", USER_AGENT)
    body = params.get("body")
    data: str | None = None
    if body is not None and not isinstance(body, str):
        data = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body
    cap = policy.max_recorded_body_bytes
    exchange = HttpExchange(
        request={
            "method": node.method,
            "url": redact_url(url),
            "headers": redact_headers(headers),
            "body": _cap(data, cap)[0] if data is not None else None,
        }
    )
    try:
        response = session.request(
            node.method, url, headers=headers, data=data, timeout=node.timeout_seconds, allow_redirects=False
        )
    except requests.Timeout as error:
        return NodeOutcome(http=exchange, error=TransientError(f"no answer within {node.timeout_seconds:g}s: {error}"))
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
        # a connection refused, reset, or cut off in the middle of the answer: worth another try
        return NodeOutcome(http=exchange, error=TransientError(f"network error: {error}"))
    except requests.RequestException as error:  # invalid URL, bad header value, ...
        return NodeOutcome(http=exchange, error=ConfigurationError(f"request could not be sent: {error}"))
    body_out, truncated = _parse_body(response)
    exchange.response = recorded_response(response, cap)
    output: dict[str, Any] = {
        "status": response.status_code,
        "headers": redact_headers(dict(response.headers)),
        "body": body_out,
    }
    if truncated:
        output["bodyTruncated"] = True
    return NodeOutcome(output=output, http=exchange, error=classify(node.method, url, response))


class HttpRequest(NodeType[HttpRequestNode]):
    model = HttpRequestNode
    task = "HttpRequest"
    function = "HttpRequestFunction"

    def execute(
        self, node: HttpRequestNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        return send(node, params, services.session, services.settings)

    def is_empty(self, output: Any) -> bool:
        """An HTTP result is empty when its body is."""
        return is_empty_value(output.get("body") if isinstance(output, dict) else output)


REGISTRY.register(HttpRequest())
