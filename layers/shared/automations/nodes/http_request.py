"""The ``http_request`` node: one HTTP call, classified into the engine's error taxonomy.

| outcome                               | error                 | retried by      |
|---------------------------------------|-----------------------|-----------------|
| network error, timeout, 408, 5xx      | TransientError        | transient       |
| 429 (Retry-After recorded)            | RateLimited           | rate-limit      |
| 401, 403                              | AuthenticationError   | never           |
| other 4xx                             | ExternalApiError      | never           |
| bad URL, refused target               | ConfigurationError    | never           |

Every call goes through ``nodes.outbound.fetch``: the host is resolved once, every address is
checked against the outbound guard, and the connection goes to the checked address only.
``timeoutSeconds`` is a total deadline per attempt (connect, TLS, headers and body); reading
stops past the output cap plus a margin, and the body is marked truncated. Redirects are not
followed (a redirect could lead to a refused address); a 3xx is output.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

from pydantic import Field

from automations.domain.redaction import redact_headers, redact_url
from automations.domain.runs import HttpExchange
from automations.errors import (
    AuthenticationError,
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

if TYPE_CHECKING:
    from automations.nodes.outbound import Answer

# What later nodes can read as steps.<id>.output.body; larger bodies are cut (and flagged).
MAX_OUTPUT_BODY_BYTES = 128 * 1024
USER_AGENT = "automations-engine/1"
# Reading stops this far past the largest cap (output or recorded): enough to know the body went on.
READ_MARGIN_BYTES = 4096


class HttpRequestNode(NodeBase):
    """Call an HTTP endpoint; the output is ``{status, headers, body}``."""

    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    type: Literal["http_request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: Annotated[str, Field(min_length=1, max_length=10_000)]
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10


def _cap(text: str, limit: int) -> tuple[str, bool]:
    raw = text.encode()
    if len(raw) <= limit:
        return text, False
    return raw[:limit].decode(errors="ignore"), True


def _parse_body(answer: Answer) -> tuple[Any, bool]:
    text, truncated = _cap(answer.text, MAX_OUTPUT_BODY_BYTES)
    truncated = truncated or answer.truncated
    if not truncated and "json" in answer.response.headers.get("content-type", ""):
        try:
            return json.loads(answer.text), False
        except ValueError:
            pass
    return text, truncated


def recorded_response(answer: Answer, cap: int) -> dict[str, Any]:
    """What run history keeps of an answer: status, redacted headers, a capped body."""
    recorded: dict[str, Any] = {
        "status": answer.response.status_code,
        "headers": redact_headers(dict(answer.response.headers)),
        "body": _cap(answer.text, cap)[0],
        "elapsedMs": int(answer.elapsed_seconds * 1000),
    }
    if answer.truncated:
        recorded["bodyTruncated"] = True  # the answer went on past what was read
    return recorded


def classify(method: str, url: str, answer: Answer) -> NodeError | None:
    response = answer.response
    status = response.status_code
    if status < 400:
        return None
    snippet = _cap(answer.text.strip(), 300)[0]
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


def send(node: HttpRequestNode, params: dict[str, Any], settings: NodeSettings) -> NodeOutcome:
    """Make the call the resolved parameters describe; classify and record the answer.

    A refused target raises ``ConfigurationError`` (a host that does not resolve, ``TransientError``)
    before anything is sent; the host is resolved here, once, and the call goes to that address.
    """
    # (the outbound guard brings in requests: imported by the functions that call out, when they do)
    from automations.nodes.outbound import check_url, fetch, policy_of

    url = str(params["url"])
    target = check_url(url, policy_of(settings))
    headers = {str(k): str(v) for k, v in (params.get("headers") or {}).items()}
    headers.setdefault("User-Agent", USER_AGENT)
    body = params.get("body")
    data: str | None = None
    if body is not None and not isinstance(body, str):
        data = json.dumps(body)
        headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body
    cap = settings.max_recorded_body_bytes
    exchange = HttpExchange(
        request={
            "method": node.method,
            "url": redact_url(url),
            "headers": redact_headers(headers),
            "body": _cap(data, cap)[0] if data is not None else None,
        }
    )
    try:
        answer = fetch(
            node.method,
            url,
            target=target,
            timeout_seconds=node.timeout_seconds,
            max_bytes=max(MAX_OUTPUT_BODY_BYTES, cap) + READ_MARGIN_BYTES,
            headers=headers,
            data=data,
        )
    except NodeError as error:
        # refused (ConfigurationError), or a network error or the deadline (TransientError)
        return NodeOutcome(http=exchange, error=error)
    body_out, truncated = _parse_body(answer)
    exchange.response = recorded_response(answer, cap)
    output: dict[str, Any] = {
        "status": answer.response.status_code,
        "headers": redact_headers(dict(answer.response.headers)),
        "body": body_out,
    }
    if truncated:
        output["bodyTruncated"] = True
    return NodeOutcome(output=output, http=exchange, error=classify(node.method, url, answer))


class HttpRequest(NodeType[HttpRequestNode]):
    model = HttpRequestNode
    task = "HttpRequest"
    function = "HttpRequestFunction"

    def execute(
        self, node: HttpRequestNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        return send(node, params, services.settings)

    def is_empty(self, output: Any) -> bool:
        """An HTTP result is empty when its body is."""
        return is_empty_value(output.get("body") if isinstance(output, dict) else output)


REGISTRY.register(HttpRequest())
