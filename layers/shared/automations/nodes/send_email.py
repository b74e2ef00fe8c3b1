"""The ``send_email`` node: SendGrid's v3 mail-send API, with the account's connection key.

The key is read from the account's connection (a SecureString parameter) at send time; it
is sent only in the Authorization header, which run history records redacted. SendGrid's
answers are classified like any HTTP call (429 rate-limited, 5xx transient, 401/403 auth).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests

from automations.errors import ConfigurationError, TransientError
from automations.logic.node_runner import NodeOutcome
from automations.logic.run_context import RunContext
from automations.models.flow import Node, SendEmailNode
from automations.models.run import HttpExchange
from automations.nodes.http_request import classify, recorded_response
from automations.redaction import redact_headers
from automations.secrets import SecretStore, connection_parameter

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIMEOUT_SECONDS = 15


@dataclass(frozen=True)
class EmailSettings:
    base_url: str
    default_from: str
    max_recorded_body_bytes: int


def _addresses(value: Any, field: str) -> list[str]:
    items = value if isinstance(value, list) else str(value).split(",")
    addresses = [str(a).strip() for a in items if str(a).strip()]
    bad = [a for a in addresses if not _EMAIL.match(a)]
    if not addresses or bad:
        raise ConfigurationError(f"'{field}' must be email addresses, got {bad or value!r}")
    return addresses


def mail_send_payload(params: dict[str, Any], default_from: str) -> dict[str, Any]:
    content = [{"type": "text/plain", "value": str(params["text"])}] if params.get("text") else []
    if params.get("html"):
        content.append({"type": "text/html", "value": str(params["html"])})
    return {
        "personalizations": [{"to": [{"email": a} for a in _addresses(params["to"], "to")]}],
        "from": {"email": _addresses(params.get("from") or default_from, "from")[0]},
        "subject": str(params["subject"]),
        "content": content,
    }


def execute(
    node: Node,
    params: dict[str, Any],
    context: RunContext,
    *,
    session: requests.Session,
    secrets: SecretStore,
    settings: EmailSettings,
) -> NodeOutcome:
    assert isinstance(node, SendEmailNode)
    payload = mail_send_payload(params, settings.default_from)
    parameter = connection_parameter(context.run.account_id, node.connection)
    api_key = secrets.get(parameter)
    if not api_key:
        raise ConfigurationError(f"connection '{node.connection}' is not set up: no SecureString parameter {parameter}")
    url = settings.base_url.rstrip("/") + "/v3/mail/send"
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    exchange = HttpExchange(request={"method": "POST", "url": url, "headers": redact_headers(headers), "body": payload})
    try:
        response = session.post(url, json=payload, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.Timeout as error:
        return NodeOutcome(
            http=exchange, error=TransientError(f"SendGrid did not answer within {TIMEOUT_SECONDS}s: {error}")
        )
    except requests.ConnectionError as error:
        return NodeOutcome(http=exchange, error=TransientError(f"network error reaching SendGrid: {error}"))
    exchange.response = recorded_response(response, settings.max_recorded_body_bytes)
    output = {
        "status": response.status_code,
        "messageId": response.headers.get("X-Message-Id"),
        "to": payload["personalizations"][0]["to"],
    }
    return NodeOutcome(output=output, http=exchange, error=classify("POST", url, response))
