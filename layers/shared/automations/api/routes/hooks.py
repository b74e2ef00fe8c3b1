"""/hooks/{flowId}: the signed webhook trigger. Records the event and answers 202 at once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AppSettings, Repository
from automations.api.schemas import TriggerAcceptedResponse
from automations.domain import json_body
from automations.domain.signing import SIGNATURE_HEADER
from automations.logic.webhooks import receive_webhook

router = APIGatewayRouter()
SIGNATURE_FORMAT = 't=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>, within 5 minutes'


@router.post(
    "/hooks/<flowId>",
    operation_id="callWebhook",
    status_code=202,
    summary="Trigger a webhook flow",
    description=f"Body: any JSON (available to nodes as trigger.body). Header {SIGNATURE_HEADER}: {SIGNATURE_FORMAT}. "
    "A signature is accepted once: the same one again answers 409 (SignatureReplayed). An Idempotency-Key "
    "header makes retries of the same call (the same body, signed again or not) return the first recording; "
    "the same key with another body answers 422 (IdempotencyKeyReused). The body must be JSON that the "
    "table can store (nested at most 24 deep, numbers of at most 38 digits, no NaN/Infinity): 400 otherwise.",
    tags=["triggers"],
    # signed, not called with the API key; the raw body is what is signed, so it is read as bytes
    openapi_extensions={
        "security": [],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"description": "Any JSON: the trigger's body"}}},
        },
    },
)
def webhook(
    flow_id: Annotated[str, Path(alias="flowId")],
    request: Request,
    repo: Repository,
    settings: AppSettings,
    # declared for the document; receive_webhook reads them from the headers it is given
    x_signature: Annotated[str | None, Header(alias=SIGNATURE_HEADER, description=SIGNATURE_FORMAT)] = None,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
) -> TriggerAcceptedResponse:
    # this request's own event: a module-level router's `current_event` is that of the resolver that
    # included it last, which is another one when several resolvers share a process (the local stack)
    event = request.resolved_event
    raw_body = json_body.raw_bytes(event.body, base64_encoded=bool(event.is_base64_encoded))
    accepted = receive_webhook(
        repo,
        flow_id=flow_id,
        raw_body=raw_body,
        headers=dict(event.headers or {}),
        tolerance_seconds=settings.webhook_tolerance_seconds,
    )
    return TriggerAcceptedResponse(trigger_id=accepted.trigger_id, run_ids=accepted.run_ids)
