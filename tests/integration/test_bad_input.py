"""Issue #10's bad inputs through ApiFunction's real handler: each a clear 4xx, never a 500, nothing recorded;
and replay-proof intake (a signature accepted once; an Idempotency-Key bound to its request body)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.exceptions import ClientError

from automations.adapters.dynamo.repository import get_repository
from automations.domain import clock, json_body, signing
from tests.integration.conftest import api_event, signed_webhook, table_items

Event = dict[str, Any]


def nested(depth: int, kind: str = "array") -> str:
    """JSON text of ``depth`` arrays (or objects) one inside the other."""
    if kind == "array":
        return "[" * depth + "1" + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


def flow_with(body: Any) -> dict[str, Any]:
    """A valid flow definition whose one node sends ``body``."""
    node = {"id": "call", "type": "http_request", "method": "POST", "url": "https://crm.example.com/x", "body": body}
    return {"name": "bad input", "trigger": {"type": "webhook"}, "nodes": [node]}


def flow_json(body_text: str) -> str:
    """A flow definition as JSON text, the node's body spliced in verbatim (text json.dumps cannot write)."""
    return json.dumps(flow_with("BODY")).replace('"BODY"', body_text)


def raw_event(event: Event, raw: bytes) -> Event:
    """The event with a body of raw bytes, as API Gateway delivers a body it does not take for text."""
    return {**event, "body": base64.b64encode(raw).decode(), "isBase64Encoded": True}


def signed_raw(flow: dict[str, Any], raw: bytes, **headers: str) -> Event:
    """A webhook of these exact bytes, signed now."""
    event = raw_event(signed_webhook(flow["flowId"], flow["webhookSecret"], "", **headers), raw)
    signature = signing.sign(flow["webhookSecret"], raw, int(time.time()))
    event["headers"]["X-Signature"] = signature
    event["multiValueHeaders"]["X-Signature"] = [signature]
    return event


def text_plain(event: Event) -> Event:
    headers = {**event["headers"], "Content-Type": "text/plain"}
    return {**event, "headers": headers, "multiValueHeaders": {k: [v] for k, v in headers.items()}}


def hook(flow: dict[str, Any], text: str) -> Event:
    return signed_webhook(flow["flowId"], flow["webhookSecret"], text)


def manual(flow: dict[str, Any], body: Any, **headers: str) -> Event:
    return api_event("api_create_flow.json", path=f"/flows/{flow['flowId']}/runs", body=body, headers=headers)


def as_decimals(value: Any) -> Any:
    """Numbers as the decimal values their JSON spells, so 9.99e125 equals 999 followed by 123 zeros."""
    return json.loads(json.dumps(value), parse_float=Decimal, parse_int=Decimal)


FORTY_DIGITS = "1" + "0" * 39
DEEP = nested(10_000)

# (id, the request built from the saved webhook flow, status, error type)
BAD_INPUTS: list[tuple[str, Callable[[dict[str, Any]], Event], int, str]] = [
    # content types other than JSON on JSON routes
    ("flows-text-plain", lambda f: text_plain(api_event("api_create_flow.json")), 415, "UnsupportedMediaType"),
    ("manual-run-text-plain", lambda f: text_plain(manual(f, {"data": {}})), 415, "UnsupportedMediaType"),
    # nesting: 10,000 deep (arrays, objects), and deeper than DynamoDB stores (40, and one past the limit)
    ("flows-10000-deep-arrays", lambda f: api_event("api_create_flow.json", body=DEEP), 400, "JsonTooDeep"),
    (
        "flows-10000-deep-objects",
        lambda f: api_event("api_create_flow.json", body=nested(10_000, "object")),
        400,
        "JsonTooDeep",
    ),
    ("hooks-10000-deep-arrays", lambda f: hook(f, DEEP), 400, "JsonTooDeep"),
    ("hooks-10000-deep-objects", lambda f: hook(f, nested(10_000, "object")), 400, "JsonTooDeep"),
    ("hooks-40-deep", lambda f: hook(f, nested(40, "object")), 400, "JsonTooDeep"),
    ("hooks-one-past-the-limit", lambda f: hook(f, nested(json_body.MAX_DEPTH + 1)), 400, "JsonTooDeep"),
    ("manual-run-40-deep", lambda f: manual(f, f'{{"data": {nested(40)}}}'), 400, "JsonTooDeep"),
    ("events-10000-deep", lambda f: api_event("api_create_flow.json", path="/events", body=DEEP), 400, "JsonTooDeep"),
    # bytes that are not UTF-8 text
    (
        "flows-not-utf8",
        lambda f: raw_event(api_event("api_create_flow.json"), b'{"name": "\xff\xfe"}'),
        400,
        "MalformedJson",
    ),
    ("hooks-not-utf8", lambda f: signed_raw(f, b'{"name": "\xc3\x28"}'), 400, "MalformedJson"),
    ("hooks-not-base64", lambda f: {**hook(f, "{}"), "body": "###", "isBase64Encoded": True}, 400, "MalformedJson"),
    # a huge index in a placeholder, or number in a filter argument: refused when the flow is saved
    (
        "placeholder-5000-digit-index",
        lambda f: api_event(
            "api_create_flow.json", body=flow_with({"x": "{{ trigger.body.items[" + "9" * 5000 + "] }}"})
        ),
        422,
        "FlowValidationError",
    ),
    (
        "placeholder-5000-digit-dotted-index",
        lambda f: api_event(
            "api_create_flow.json", body=flow_with({"x": "{{ trigger.body.items." + "9" * 5000 + " }}"})
        ),
        422,
        "FlowValidationError",
    ),
    (
        "add-days-5000-digits",
        lambda f: api_event(
            "api_create_flow.json", body=flow_with({"x": "{{ trigger.body.at | add_days(" + "9" * 5000 + ") }}"})
        ),
        422,
        "FlowValidationError",
    ),
    (
        "add-days-beyond-any-date",
        lambda f: api_event(
            "api_create_flow.json", body=flow_with({"x": "{{ trigger.body.at | add_days(" + "9" * 30 + ") }}"})
        ),
        422,
        "FlowValidationError",
    ),
    # numbers DynamoDB cannot store exactly: refused, never rounded
    (
        "flows-40-digit-integer",
        lambda f: api_event("api_create_flow.json", body=flow_json(FORTY_DIGITS)),
        400,
        "NumberOutOfRange",
    ),
    ("hooks-40-digit-integer", lambda f: hook(f, f'{{"n": {FORTY_DIGITS}}}'), 400, "NumberOutOfRange"),
    ("hooks-5000-digit-integer", lambda f: hook(f, f'{{"n": {"9" * 5000}}}'), 400, "NumberOutOfRange"),
    ("manual-run-40-digit-integer", lambda f: manual(f, f'{{"data": {FORTY_DIGITS}}}'), 400, "NumberOutOfRange"),
    ("hooks-1e999", lambda f: hook(f, '{"n": 1e999}'), 400, "NumberOutOfRange"),
    ("hooks-1e126", lambda f: hook(f, '{"n": 1e126}'), 400, "NumberOutOfRange"),
    ("hooks-1e-131", lambda f: hook(f, '{"n": 1e-131}'), 400, "NumberOutOfRange"),
    ("hooks-39-significant-digits", lambda f: hook(f, '{"n": 0.' + "1" * 39 + "}"), 400, "NumberOutOfRange"),
    # values that are not JSON, or not Unicode
    ("hooks-nan", lambda f: hook(f, '{"n": NaN}'), 400, "MalformedJson"),
    ("hooks-infinity", lambda f: hook(f, '{"n": Infinity}'), 400, "MalformedJson"),
    ("hooks-minus-infinity", lambda f: hook(f, '{"n": -Infinity}'), 400, "MalformedJson"),
    (
        "events-nan",
        lambda f: api_event("api_create_flow.json", path="/events", body='{"id": "e1", "type": "t", "data": NaN}'),
        400,
        "MalformedJson",
    ),
    ("hooks-lone-surrogate", lambda f: hook(f, '{"name": "\\ud800"}'), 400, "MalformedJson"),
    (
        "flows-lone-surrogate",
        lambda f: api_event("api_create_flow.json", body=flow_json('"\\udfff"')),
        400,
        "MalformedJson",
    ),
    ("manual-run-lone-surrogate", lambda f: manual(f, '{"data": "\\ud800x"}'), 400, "MalformedJson"),
    # larger than one item can hold
    (
        "flows-too-large",
        lambda f: api_event("api_create_flow.json", body=flow_with("x" * 300_000)),
        413,
        "PayloadTooLarge",
    ),
]


@pytest.mark.parametrize(
    ("event", "status", "error_type"), [row[1:] for row in BAD_INPUTS], ids=[r[0] for r in BAD_INPUTS]
)
def test_each_bad_input_gets_its_4xx_in_the_error_shape_and_records_nothing(
    api, webhook_flow, event, status, error_type
) -> None:
    # Given the table after saving one webhook flow
    before = table_items()
    # When the bad request arrives
    answered, body = api(event(webhook_flow))
    # Then it is refused with its 4xx (never a 500) and the documented error shape
    assert answered == status, body
    assert set(body) == {"error"} and body["error"]["type"] == error_type and body["error"]["message"]
    # And nothing was recorded (not even a remembered signature)
    assert table_items() == before


def test_values_at_the_limits_are_accepted_and_stored_exactly(api, webhook_flow) -> None:
    # Given a webhook body at every limit: 24 deep, 38 digits, 1e125 and 1e-130, non-ASCII text
    body_text = json.dumps(
        {
            "deep": json.loads(nested(json_body.MAX_DEPTH - 1)),
            "big": int("9" * 38),
            "huge": 9.99e125,
            "tiny": 1e-130,
            "text": "Zoë 🚀",
        },
        ensure_ascii=False,
    )
    # When it is sent
    status, answer = api(hook(webhook_flow, body_text))
    # Then it is recorded, and the run's trigger carries exactly what was sent
    assert status == 202, answer
    _, run = api(api_event("api_get_run.json", path=f"/runs/{answer['runIds'][0]}"))
    # (as numbers: the table gives back a float with an integral value, 9.99e125, as an int)
    assert as_decimals(run["trigger"]["body"]) == as_decimals(json.loads(body_text))


def test_webhooks_keep_accepting_any_content_type(api, webhook_flow) -> None:
    # Given a signed JSON body sent as text/plain (webhook senders label bodies loosely)
    event = text_plain(hook(webhook_flow, '{"a": 1}'))
    # When it arrives, Then it is recorded as before
    assert api(event)[0] == 202


# --- a signature is accepted once ---------------------------------------------------------------


def count(prefix: str) -> int:
    return sum(1 for i in table_items() if i["sk"]["S"].startswith(prefix))


def test_the_same_signature_twice_is_refused_409_and_records_nothing(api, webhook_flow) -> None:
    # Given a signed webhook that was accepted
    event = hook(webhook_flow, '{"email": "a@b.c"}')
    assert api(event)[0] == 202
    after_first = table_items()
    # When the very same request (signature and body) is sent again inside the window
    status, body = api(event)
    # Then it is refused as a replay and nothing more is recorded
    assert status == 409 and body["error"]["type"] == "SignatureReplayed", body
    assert table_items() == after_first
    assert count("RUN") == 1
    # And the trigger is what remembers the signature: no item of its own
    assert sorted(i.get("entity", {}).get("S") for i in after_first if i["sk"]["S"] == "TRIGGER") == ["trigger"]
    assert not [i for i in after_first if i["pk"]["S"].startswith("SIGNATURE#")]


def test_a_signature_accepted_with_a_key_is_remembered_until_its_window_ends_and_refused_without_one(
    api, webhook_flow
) -> None:
    # Given a signed webhook accepted with an Idempotency-Key
    keyed = signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **{"Idempotency-Key": "k"})
    assert api(keyed)[0] == 202
    # Then its signature is remembered apart from its trigger, until just after the window (DynamoDB TTL)
    (remembered,) = [i for i in table_items() if i.get("entity", {}).get("S") == "webhookSignature"]
    signed_at = int(keyed["headers"]["X-Signature"].split(",")[0].removeprefix("t="))
    assert int(remembered["expiresAt"]["N"]) == signed_at + 300 + signing.REPLAY_MARGIN_SECONDS
    # When the same signed request is replayed without the key
    replay = {
        **keyed,
        "headers": {k: v for k, v in keyed["headers"].items() if k != "Idempotency-Key"},
        "multiValueHeaders": {k: v for k, v in keyed["multiValueHeaders"].items() if k != "Idempotency-Key"},
    }
    before = table_items()
    status, body = api(replay)
    # Then it is refused as a replay, and nothing is recorded
    assert status == 409 and body["error"]["type"] == "SignatureReplayed", body
    assert table_items() == before


def test_a_recording_that_fails_uses_no_signature_up_so_the_verbatim_retry_lands(
    api, webhook_flow, monkeypatch
) -> None:
    # Given the table fails the first recording's transaction (throttled, or an outage)
    repo = get_repository()
    real = repo.client.transact_write_items
    failures = iter([ClientError({"Error": {"Code": "ProvisionedThroughputExceededException"}}, "TransactWriteItems")])

    def flaky(**request):
        if (error := next(failures, None)) is not None:
            raise error
        return real(**request)

    monkeypatch.setattr(repo.client, "transact_write_items", flaky)
    event = hook(webhook_flow, '{"n": 1}')
    # When the signed call fails with a 500, and the sender retries it verbatim
    assert api(event)[0] == 500
    assert count("TRIGGER") == 0  # the signature went with the recording (its trigger): not remembered
    status, body = api(event)
    # Then the retry is recorded, once
    assert status == 202, body
    assert count("RUN") == 1 and count("TRIGGER") == 1
    # and the same request a third time is a replay
    assert api(event)[1]["error"]["type"] == "SignatureReplayed"


def test_a_replayed_signature_with_an_idempotency_key_added_is_still_refused(api, webhook_flow) -> None:
    # Given a signed webhook accepted without an Idempotency-Key
    event = hook(webhook_flow, '{"n": 1}')
    assert api(event)[0] == 202
    # When someone replays it with a key of their own (headers other than the body are not signed)
    replay = {
        **event,
        "headers": {**event["headers"], "Idempotency-Key": "mine"},
        "multiValueHeaders": {**event["multiValueHeaders"], "Idempotency-Key": ["mine"]},
    }
    status, body = api(replay)
    # Then it is refused as a replay: one run only
    assert status == 409 and body["error"]["type"] == "SignatureReplayed"
    assert count("RUN") == 1


def test_a_retry_with_the_same_key_and_signature_gets_the_first_answer(api, webhook_flow) -> None:
    # Given a webhook accepted with an Idempotency-Key
    event = signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **{"Idempotency-Key": "k"})
    first = api(event)
    assert first[0] == 202
    # When the sender retries it verbatim (same key, same signature, same body), and once signed anew
    again = api(event)
    resigned = api(
        signed_webhook(
            webhook_flow["flowId"],
            webhook_flow["webhookSecret"],
            {"n": 1},
            at=int(time.time()) - 5,
            **{"Idempotency-Key": "k"},
        )
    )
    # Then both get the first answer: a legitimate retry, not a replay
    assert again == first and resigned == first
    assert count("RUN") == 1 and count("EXECUTION#") == 0  # (the run requests its first execution)


# --- an Idempotency-Key is bound to its request body ---------------------------------------------


def test_a_webhook_key_reused_with_another_body_answers_422_and_records_nothing(api, webhook_flow) -> None:
    # Given a webhook recorded under Idempotency-Key k
    key = {"Idempotency-Key": "k"}
    first = api(signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **key))
    assert first[0] == 202
    before = table_items()
    # When the key comes again with another body (properly signed)
    status, body = api(signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 2}, **key))
    # Then it is refused: the new payload is not silently dropped behind the first answer
    assert status == 422 and body["error"]["type"] == "IdempotencyKeyReused", body
    assert "Idempotency-Key 'k'" in body["error"]["message"]
    assert table_items() == before
    # And the same body with the key still answers the first recording
    assert api(signed_webhook(webhook_flow["flowId"], webhook_flow["webhookSecret"], {"n": 1}, **key)) == first


def test_a_manual_run_key_reused_with_another_body_answers_422(api, webhook_flow) -> None:
    # Given a manual run recorded under Idempotency-Key m
    first = api(manual(webhook_flow, {"data": {"n": 1}}, **{"Idempotency-Key": "m"}))
    assert first[0] == 202
    before = table_items()
    # When the key is reused with other data, Then 422 and nothing recorded
    status, body = api(manual(webhook_flow, {"data": {"n": 2}}, **{"Idempotency-Key": "m"}))
    assert status == 422 and body["error"]["type"] == "IdempotencyKeyReused", body
    assert table_items() == before
    # And the same request, spelled differently (key order, spaces), answers the first
    assert api(manual(webhook_flow, '{ "data" : {"n":1} }', **{"Idempotency-Key": "m"})) == first


def test_a_retrigger_key_reused_with_another_body_answers_422(api, webhook_flow) -> None:
    # Given a cancelled run, re-triggered under Idempotency-Key r
    _, recorded = api(manual(webhook_flow, {"data": {}}))
    run_id = recorded["runIds"][0]
    assert api(api_event("api_create_flow.json", path=f"/runs/{run_id}/cancel", body=None))[0] == 202
    retrigger = f"/runs/{run_id}/retrigger"
    first = api(api_event("api_create_flow.json", path=retrigger, body=None, headers={"Idempotency-Key": "r"}))
    assert first[0] == 202, first
    before = table_items()
    # When the key is reused with another request (from a step), Then 422 and nothing recorded
    status, body = api(
        api_event("api_create_flow.json", path=retrigger, body={"fromStep": "notify"}, headers={"Idempotency-Key": "r"})
    )
    assert status == 422 and body["error"]["type"] == "IdempotencyKeyReused", body
    assert table_items() == before
    # And the same request again answers the first new run
    assert api(api_event("api_create_flow.json", path=retrigger, body=None, headers={"Idempotency-Key": "r"})) == first


# --- secret rotation ------------------------------------------------------------------------


def rotate(api, flow_id: str, body: Any = None) -> tuple[int, Any]:
    return api(api_event("api_create_flow.json", path=f"/flows/{flow_id}/secret", body=body))


def test_a_rotated_secret_takes_over_and_the_old_one_verifies_only_during_its_grace(
    api, webhook_flow, monkeypatch
) -> None:
    flow_id, old = webhook_flow["flowId"], webhook_flow["webhookSecret"]
    # When the secret is rotated with an hour's grace
    status, rotated = rotate(api, flow_id, {"graceSeconds": 3600})
    assert status == 200, rotated
    new = rotated["webhookSecret"]
    assert new.startswith("whsec_") and new != old and rotated["previousSecretValidUntil"]
    # Then both secrets verify during the grace period; nothing else does
    assert api(signed_webhook(flow_id, new, {"n": 1}))[0] == 202
    assert api(signed_webhook(flow_id, old, {"n": 2}))[0] == 202
    assert api(signed_webhook(flow_id, "whsec_other", {"n": 3}))[0] == 401
    # and the flow's answers never show a secret
    status, flow = api(api_event("api_get_flow.json", path=f"/flows/{flow_id}"))
    assert status == 200 and old not in json.dumps(flow) and new not in json.dumps(flow)
    # When the grace period is over (two hours later, by the senders' real clock) Then only the new one verifies
    later = int(time.time()) + 2 * 3600
    monkeypatch.setattr(clock, "wall_now", lambda: datetime.fromtimestamp(later, UTC))
    assert api(signed_webhook(flow_id, old, {"n": 4}, at=later))[0] == 401
    assert api(signed_webhook(flow_id, new, {"n": 5}, at=later))[0] == 202


def test_rotating_without_grace_retires_the_old_secret_at_once_and_bad_requests_are_refused(api, webhook_flow) -> None:
    flow_id, old = webhook_flow["flowId"], webhook_flow["webhookSecret"]
    status, rotated = rotate(api, flow_id, {"graceSeconds": 0})
    assert status == 200
    assert api(signed_webhook(flow_id, old, {"n": 1}))[0] == 401
    assert api(signed_webhook(flow_id, rotated["webhookSecret"], {"n": 1}))[0] == 202
    assert rotate(api, flow_id, {"graceSeconds": 8 * 86400})[0] == 422
    assert rotate(api, "flow_nope")[0] == 404
    assert (
        api(api_event("api_create_flow.json", path=f"/flows/{flow_id}/secret", body={}, key="other-account-key"))[0]
        == 404
    )
