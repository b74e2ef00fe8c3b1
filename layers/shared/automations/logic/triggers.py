"""Recording trigger events. The API only records: runs start from the table's stream."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from automations import clock, ids, signing
from automations.errors import MalformedJson, NotFound, PayloadTooLarge
from automations.models.run import Run, StatusChange, TriggerEvent
from automations.models.status import RunStatus
from automations.redaction import redact_headers
from automations.repository.interfaces import DuplicateTrigger, FlowStore, TriggerStore

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


@dataclass(frozen=True)
class TriggerAccepted:
    trigger_id: str
    run_ids: list[str]
    replayed: bool = False


def _trigger_id(scope: str, idempotency_key: str | None) -> str:
    """With an Idempotency-Key the id is derived from it, so a replay finds the first recording."""
    if not idempotency_key:
        return ids.new_id("trg")
    digest = hashlib.sha256(f"{scope}\n{idempotency_key}".encode()).hexdigest()[:32]
    return f"trg_{digest}"


def parse_json_body(raw: bytes) -> Any:
    if not raw.strip():
        return {}
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedJson(f"request body is not valid JSON: {error}") from error


def receive_webhook(
    flows: FlowStore,
    triggers: TriggerStore,
    *,
    flow_id: str,
    raw_body: bytes,
    headers: dict[str, str],
    tolerance_seconds: int,
) -> TriggerAccepted:
    """Verify the signature, then record the trigger and its run in one transaction."""
    if len(raw_body) > MAX_TRIGGER_BODY_BYTES:
        raise PayloadTooLarge(f"request body exceeds {MAX_TRIGGER_BODY_BYTES} bytes")
    flow = flows.get_flow(flow_id)
    if flow is None or flow.trigger.type != "webhook":
        raise NotFound(f"no webhook flow '{flow_id}'")
    lowered = {k.lower(): v for k, v in headers.items()}
    now = clock.now()
    signing.verify(
        flow.webhook_secret,
        lowered.get(signing.SIGNATURE_HEADER.lower()),
        raw_body,
        int(now.timestamp()),
        tolerance_seconds,
    )
    body = parse_json_body(raw_body)
    idempotency_key = lowered.get("idempotency-key")
    received_at = clock.iso(now)
    trigger_id = _trigger_id(f"webhook:{flow_id}", idempotency_key)
    run = Run(
        run_id=ids.new_id("run"),
        account_id=flow.account_id,
        flow_id=flow_id,
        flow_version=flow.version,
        trigger_id=trigger_id,
        status=RunStatus.SCHEDULED,
        created_at=received_at,
        scheduled_for=received_at,
        history=[StatusChange(status=RunStatus.SCHEDULED, at=received_at)],
    )
    trigger = TriggerEvent(
        trigger_id=trigger_id,
        account_id=flow.account_id,
        kind="webhook",
        flow_id=flow_id,
        received_at=received_at,
        body=body,
        headers=redact_headers({k: v for k, v in lowered.items() if not k.startswith(_TRANSPORT_HEADERS)}),
        idempotency_key=idempotency_key,
        run_ids=[run.run_id],
    )
    try:
        triggers.record_trigger(trigger, [run])
    except DuplicateTrigger:
        first = triggers.get_trigger(trigger_id)
        assert first is not None, "a duplicate trigger exists by definition"
        return TriggerAccepted(first.trigger_id, first.run_ids, replayed=True)
    return TriggerAccepted(trigger_id, [run.run_id])
