"""The webhook trigger: verify the signature, then record the event and its run."""

from __future__ import annotations

import json
from typing import Any

from automations.domain import clock, signing
from automations.domain.redaction import redact_headers
from automations.domain.triggers import TriggerEvent
from automations.errors import MalformedJson, NotFound, PayloadTooLarge
from automations.logic.recording import Recorded, RunPlan, record_runs, trigger_id_for
from automations.ports import Store

# Transport noise that API Gateway and CloudFront add: not worth keeping with the event.
_TRANSPORT_HEADERS = (
    "host",
    "content-length",
    "connection",
    "accept-encoding",
    "via",
    "cloudfront-",
    "x-amz",
    "x-forwarded-",
)
# The trigger is stored verbatim in one item, and a DynamoDB item holds at most 400 KB.
MAX_TRIGGER_BODY_BYTES = 256 * 1024


def parse_json_body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedJson(f"request body is not valid JSON: {error}") from error


def receive_webhook(
    store: Store, *, flow_id: str, raw_body: bytes, headers: dict[str, str], tolerance_seconds: int
) -> Recorded:
    """Verify the signature, then record the trigger and its run in one transaction."""
    if len(raw_body) > MAX_TRIGGER_BODY_BYTES:
        raise PayloadTooLarge(f"request body exceeds {MAX_TRIGGER_BODY_BYTES} bytes")
    flow = store.get_flow(flow_id)
    if flow is None or flow.trigger.type != "webhook" or flow.deleted_at is not None:
        raise NotFound(f"no webhook flow '{flow_id}'")
    lowered = {k.lower(): v for k, v in headers.items()}
    signing.verify(
        flow.webhook_secret,
        lowered.get(signing.SIGNATURE_HEADER.lower()),
        raw_body,
        int(clock.wall_now().timestamp()),  # the caller signed with its real clock
        tolerance_seconds,
    )
    idempotency_key = lowered.get("idempotency-key")
    trigger = TriggerEvent(
        trigger_id=trigger_id_for(f"webhook:{flow_id}", idempotency_key),
        account_id=flow.account_id,
        kind="webhook",
        flow_id=flow_id,
        received_at=clock.iso(clock.now()),
        body=parse_json_body(raw_body),
        headers=redact_headers({k: v for k, v in lowered.items() if not k.startswith(_TRANSPORT_HEADERS)}),
        idempotency_key=idempotency_key,
    )
    return record_runs(store, trigger, [RunPlan(flow=flow)])
