"""The webhook trigger: verify the signature, then record the event and its run.

Replay-proof: a signature is accepted once. A call without an ``Idempotency-Key`` is recorded
under a trigger id derived from its signature (per flow), so its trigger is what remembers the
signature: the same signature again finds it and answers 409 ``SignatureReplayed``, recording
nothing. A call with a key is recorded under the key's id, and the signature's mark takes the
id the call would have had without it (until the window has passed): either way round, a
signature used once is refused the second time. A retry that carries the same key is a
different case: it finds the first recording and gets its answer (the same signature and body
included), and with another body it answers 422 ``IdempotencyKeyReused``. So the key is looked
up before the signature is remembered, and again when remembering finds it taken (a retry
racing its first call).
"""

from __future__ import annotations

from typing import Any

from automations.domain import clock, json_body, signing
from automations.domain.redaction import redact_headers
from automations.domain.triggers import TriggerEvent
from automations.errors import NotFound, PayloadTooLarge, SignatureReplayed
from automations.logic.recording import Recorded, RunPlan, record_runs, replayed, request_hash, trigger_id_for
from automations.ports import AcceptedSignature, SignatureTaken, Store

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
MAX_TRIGGER_BODY_BYTES = json_body.MAX_BODY_BYTES


def parse_json_body(raw: bytes) -> Any:
    """An empty body is ``{}``; anything else must be JSON the table can store (``json_body``)."""
    if not raw.strip():
        return {}
    return json_body.parse(raw)


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
    signature = signing.verify(
        flow.webhook_secrets(clock.iso(clock.wall_now())),
        lowered.get(signing.SIGNATURE_HEADER.lower()),
        raw_body,
        int(clock.wall_now().timestamp()),  # the caller signed with its real clock
        tolerance_seconds,
    )
    idempotency_key = lowered.get("idempotency-key")
    body = parse_json_body(raw_body)  # before the signature is remembered: a bad body uses nothing up
    signed_id = trigger_id_for(f"webhook-signature:{flow_id}", signature.digest)
    trigger = TriggerEvent(
        trigger_id=trigger_id_for(f"webhook:{flow_id}", idempotency_key) if idempotency_key else signed_id,
        account_id=flow.account_id,
        kind="webhook",
        flow_id=flow_id,
        received_at=clock.iso(clock.now()),
        body=body,
        headers=redact_headers({k: v for k, v in lowered.items() if not k.startswith(_TRANSPORT_HEADERS)}),
        idempotency_key=idempotency_key,
        request_hash=request_hash(raw_body),
    )
    if (first := _first_recording(store, trigger)) is not None:
        return first  # a retry of a recorded call: its answer, whatever its signature
    # the signature is remembered with the recording, in one transaction (without a key, by the
    # trigger itself): a write that fails uses it up no more than it records the call, so the
    # sender's verbatim retry still lands
    accepted = None
    if idempotency_key:
        accepted = AcceptedSignature(flow_id, signed_id, signature.replay_until(tolerance_seconds))
    try:
        recorded = record_runs(store, trigger, [RunPlan(flow=flow)], accepted)
    except SignatureTaken:
        if (first := _first_recording(store, trigger)) is not None:
            return first  # the same call with its key, recorded by a concurrent retry
        raise _replayed() from None
    if recorded.replayed and not idempotency_key:  # its trigger is its signature's: recorded before
        raise _replayed()
    return recorded


def _replayed() -> SignatureReplayed:
    return SignatureReplayed(
        "this signature was accepted before: a signed request is accepted once (sign each new "
        "call anew; a retry with the first call's Idempotency-Key gets the first answer)"
    )


def _first_recording(store: Store, trigger: TriggerEvent) -> Recorded | None:
    """With an Idempotency-Key: the first recording's answer if it exists (422 for another body)."""
    if trigger.idempotency_key is None:
        return None
    first = store.get_trigger(trigger.trigger_id)
    return replayed(first, trigger.request_hash) if first is not None else None
