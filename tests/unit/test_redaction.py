"""Secrets never reach run history."""

from __future__ import annotations

import json

import pytest

from automations.domain.redaction import REDACTED, redact_headers, redact_url, redact_values


def test_authorization_and_secret_looking_headers_are_redacted() -> None:
    headers = {"Authorization": "Bearer x", "X-Api-Key": "k", "Cookie": "s=1", "Content-Type": "application/json"}
    assert redact_headers(headers) == {
        "Authorization": REDACTED,
        "X-Api-Key": REDACTED,
        "Cookie": REDACTED,
        "Content-Type": "application/json",
    }


def test_credentials_in_urls_are_redacted() -> None:
    assert (
        redact_url("https://u:p@h.example/x?token=abc&page=2")
        == f"https://{REDACTED}@h.example/x?token=%5BREDACTED%5D&page=2"
    )
    assert redact_url("https://h.example/x?page=2") == "https://h.example/x?page=2"


def test_nested_values_with_secret_names_are_redacted() -> None:
    assert redact_values({"a": {"password": "p", "ok": [1, {"apiKey": "k"}]}}) == {
        "a": {"password": REDACTED, "ok": [1, {"apiKey": REDACTED}]}
    }


@pytest.mark.parametrize(
    "value",
    [
        "Bearer sk_live_123abc",
        "Basic dXNlcjpwYXNzd29yZA==",
        "token 0123456789abcdef",
        "sk_test_4eC39HqLyjWDarjtT1zdp7dc",
        "SG.abcdefghijk.lmnopqrstuvwxyz",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_0123456789abcdefghijABCDEFGHIJ",
        "xoxb-1234567890-abcdefghij",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig",
        "ak_0123456789abcdefghijklmnop",
    ],
)
def test_values_that_look_like_credentials_are_redacted_whatever_their_name(value: str) -> None:
    # Given a credential in a header or field whose name says nothing
    redacted = redact_headers({"X-Custom": value})["X-Custom"]
    nested = redact_values({"note": value, "list": [value]})
    # Then it is gone from both
    assert value not in redacted and REDACTED in redacted
    assert value not in json.dumps(nested)


@pytest.mark.parametrize(
    "text", ["your token expires soon", "a basic plan", "application/json", "Bearer", "order 12345", "sk_live"]
)
def test_ordinary_text_is_kept(text: str) -> None:
    assert redact_headers({"X-Note": text}) == {"X-Note": text}
    assert redact_values({"note": text}) == {"note": text}
