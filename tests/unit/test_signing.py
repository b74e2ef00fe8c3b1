"""Webhook signatures: HMAC over "<t>.<body>", a 5-minute window, constant-time compare."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from automations.domain.signing import REPLAY_MARGIN_SECONDS, sign, verify
from automations.errors import InvalidSignature

SECRET = "whsec_test"
BODY = b'{"email": "ada@example.com"}'
NOW = 1_764_040_000


def test_a_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"


def test_a_fresh_correct_signature_is_accepted() -> None:
    verify(SECRET, sign(SECRET, BODY, NOW - 299), BODY, NOW, 300)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "missing"),
        ("", "missing"),
        ("v1=abc", "must look like"),
        ("t=notanumber,v1=abc", "must look like"),
        (sign(SECRET, BODY, NOW - 301), "outside the 300-second window"),
        (sign(SECRET, BODY, NOW + 301), "outside the 300-second window"),
        (sign("whsec_other", BODY, NOW), "does not match"),
        (sign(SECRET, BODY + b" ", NOW), "does not match"),
    ],
)
def test_bad_signatures_are_rejected_with_the_reason(header: str | None, reason: str) -> None:
    with pytest.raises(InvalidSignature, match=reason):
        verify(SECRET, header, BODY, NOW, 300)


def test_any_of_several_v1_values_may_match_during_secret_rotation() -> None:
    good = sign(SECRET, BODY, NOW).split("v1=")[1]
    verify(SECRET, f"t={NOW},v1={'0' * 64},v1={good}", BODY, NOW, 300)


def test_a_verified_signature_says_what_identifies_it_and_until_when_it_could_be_replayed() -> None:
    # Given a signature made at NOW - 10, When it is verified
    verified = verify(SECRET, sign(SECRET, BODY, NOW - 10), BODY, NOW, 300)
    # Then it names its timestamp and digest (unique per secret, time and body)
    assert verified.timestamp == NOW - 10
    assert verified.digest == sign(SECRET, BODY, NOW - 10).split("v1=")[1]
    # And it would pass verify until the window closes: remembered until then, plus a margin
    assert verified.replay_until(300) == NOW - 10 + 300 + REPLAY_MARGIN_SECONDS
