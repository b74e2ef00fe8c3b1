"""The ``send_email`` node: SendGrid's v3 mail-send API, with the account's connection key.

The key is read from the account's connection (a SecureString parameter) at send time; it
is sent only in the Authorization header, which run history records redacted. SendGrid's
answers are classified like any HTTP call (429 rate-limited, 5xx transient, 401/403 auth).
The call goes through the outbound guard (``nodes.outbound``) like an ``http_request``'s: a
base URL pointing at a refused address fails with ``ConfigurationError``.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from automations.domain.redaction import redact_headers
from automations.domain.runs import HttpExchange
from automations.errors import ConfigurationError, TransientError
from automations.nodes.base import (
    REGISTRY,
    NodeBase,
    NodeContext,
    NodeOutcome,
    NodeServices,
    NodeSettings,
    NodeType,
    TemplateText,
)
from automations.nodes.http_request import READ_MARGIN_BYTES, classify, recorded_response

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
TIMEOUT_SECONDS = 15


ConnectionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class SendEmailNode(NodeBase):
    """Send an email through SendGrid's v3 mail-send API with the account's connection key."""

    template_fields: ClassVar[tuple[str, ...]] = ("to", "subject", "text", "html", "from")

    type: Literal["send_email"]
    to: TemplateText | Annotated[list[TemplateText], Field(min_length=1, max_length=50)]
    subject: TemplateText
    text: TemplateText | None = None
    html: TemplateText | None = None
    from_: TemplateText | None = Field(default=None, alias="from")
    connection: ConnectionName = Field(
        default="sendgrid", description="Name of the account's SendGrid connection (a SecureString parameter)"
    )

    @model_validator(mode="after")
    def _has_content(self) -> SendEmailNode:
        if not (self.text or self.html):
            raise ValueError("send_email needs 'text' or 'html'")
        return self


def connection_parameter(prefix: str, account_id: str, connection: str) -> str:
    """Where an account's connection key lives: ``<prefix><accountId>/<connection>``."""
    return f"{prefix}{account_id}/{connection}"


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


class SendEmail(NodeType[SendEmailNode]):
    model = SendEmailNode
    task = "SendEmail"
    function = "SendEmailFunction"

    def execute(
        self, node: SendEmailNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        settings = services.settings
        payload = mail_send_payload(params, settings.email_default_from)
        parameter = connection_parameter(settings.connections_parameter_prefix, context.account_id, node.connection)
        api_key = services.secrets.get(parameter)
        if not api_key:
            raise ConfigurationError(
                f"connection '{node.connection}' is not set up: no SecureString parameter {parameter}"
            )
        return post_mail(payload, api_key, settings)


def post_mail(payload: dict[str, Any], api_key: str, settings: NodeSettings) -> NodeOutcome:
    """POST to SendGrid's mail-send API through the outbound guard (the base URL is checked too)."""
    # (the outbound guard brings in requests: imported when a mail is sent)
    from automations.nodes.outbound import check_url, fetch, policy_of

    url = settings.sendgrid_base_url.rstrip("/") + "/v3/mail/send"
    target = check_url(url, policy_of(settings))
    headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    exchange = HttpExchange(request={"method": "POST", "url": url, "headers": redact_headers(headers), "body": payload})
    try:
        answer = fetch(
            "POST",
            url,
            target=target,
            timeout_seconds=TIMEOUT_SECONDS,
            max_bytes=settings.max_recorded_body_bytes + READ_MARGIN_BYTES,
            headers=headers,
            data=json.dumps(payload),
        )
    except TransientError as error:
        return NodeOutcome(http=exchange, error=TransientError(f"reaching SendGrid: {error.message}"))
    exchange.response = recorded_response(answer, settings.max_recorded_body_bytes)
    output = {
        "status": answer.response.status_code,
        "messageId": answer.response.headers.get("X-Message-Id"),
        "to": payload["personalizations"][0]["to"],
    }
    return NodeOutcome(output=output, http=exchange, error=classify("POST", url, answer))


REGISTRY.register(SendEmail())
