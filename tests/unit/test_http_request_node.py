"""The http_request executor against a real loopback server: outputs, errors, what is recorded."""

from __future__ import annotations

from typing import Any

import pytest

from automations.domain.node_settings import NodeSettings
from automations.domain.redaction import REDACTED
from automations.errors import (
    AuthenticationError,
    ConfigurationError,
    ExternalApiError,
    RateLimited,
    TransientError,
)
from automations.nodes.http_request import HttpRequestNode, send

LOOPBACK_OK = NodeSettings(outbound_guard="loopback", max_recorded_body_bytes=1024)
STRICT = NodeSettings(outbound_guard="strict", max_recorded_body_bytes=1024)


def node(**fields: Any) -> HttpRequestNode:
    return HttpRequestNode.model_validate({"id": "call", "type": "http_request", "url": "http://unused", **fields})


def call(url: str, policy: NodeSettings = LOOPBACK_OK, **params: Any):
    n = node(url=url, **params)
    resolved = {"url": url, "headers": params.get("headers", {}), "body": params.get("body")}
    return send(n, resolved, policy)


def test_a_2xx_answer_is_the_output_and_the_exchange_is_recorded_redacted(target) -> None:
    # Given a target answering 200 with JSON
    url = target.script("/ok", (200, {"id": 7}))
    # When the node posts to it with a secret header
    outcome = call(url, method="POST", headers={"Authorization": "Bearer s3cret"}, body={"email": "a@b.c"})
    # Then the parsed body is the output and no secret is recorded
    assert outcome.error is None
    assert outcome.output["status"] == 200 and outcome.output["body"] == {"id": 7}
    assert outcome.http.request["headers"]["Authorization"] == REDACTED
    assert outcome.http.request["body"] == '{"email": "a@b.c"}'
    assert outcome.http.response["status"] == 200
    assert target.calls("/ok")[-1]["headers"]["Authorization"] == "Bearer s3cret"


@pytest.mark.parametrize(
    ("status", "error_class"),
    [
        (500, TransientError),
        (503, TransientError),
        (408, TransientError),
        (429, RateLimited),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, ExternalApiError),
        (422, ExternalApiError),
    ],
)
def test_error_answers_map_to_the_taxonomy(target, status: int, error_class: type) -> None:
    url = target.script(f"/s{status}", (status, {"detail": "why"}))
    outcome = call(url)
    assert type(outcome.error) is error_class
    assert str(status) in outcome.error.message and "why" in outcome.error.message
    assert outcome.http.response["status"] == status  # the failed exchange is still recorded


def test_retry_after_is_kept_on_rate_limited(target) -> None:
    url = target.script("/slow", (429, {}, {"Retry-After": "7"}))
    assert call(url).error.retry_after_seconds == 7


def test_a_refused_connection_is_transient() -> None:
    outcome = call("http://127.0.0.1:9/")  # discard port: nothing listens
    assert isinstance(outcome.error, TransientError)
    assert outcome.http.response is None


def test_loopback_targets_are_refused_unless_allowed() -> None:
    with pytest.raises(ConfigurationError, match="refused: loopback"):
        call("http://127.0.0.1:9/", policy=STRICT)


def test_metadata_endpoint_is_refused_when_deployed() -> None:
    # (refused before any connection: tests/unit/test_outbound_guard.py stubs the socket to prove it)
    with pytest.raises(ConfigurationError, match="metadata"):
        call("http://169.254.169.254/latest/meta-data", policy=STRICT)


@pytest.mark.parametrize("url", ["ftp://example.com/x", "not a url", "http:///nohost"])
def test_urls_that_cannot_work_are_configuration_errors(url: str) -> None:
    with pytest.raises(ConfigurationError):
        call(url)


def test_recorded_bodies_are_capped(target) -> None:
    url = target.script("/big", (200, {"blob": "x" * 5000}))
    outcome = call(url)
    assert len(outcome.http.response["body"]) == 1024
    assert outcome.output["body"]["blob"] == "x" * 5000  # the output later nodes read is not cut
