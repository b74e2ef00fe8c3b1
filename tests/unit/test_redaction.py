"""Secrets never reach run history."""

from __future__ import annotations

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
