"""Issue #2's end-to-end slice: a signed webhook runs an HTTP flow through the real state machine.

Every test drives the local stack over HTTP only, against a real HTTP server on loopback.
"""

from __future__ import annotations

import pytest

from tests.support.stack_client import StackClient, statuses, step_of

pytestmark = pytest.mark.e2e


def http_flow(stack: StackClient, url: str, **node: object) -> dict:
    return stack.create_flow(
        [
            {
                "id": "notify",
                "type": "http_request",
                "method": "POST",
                "url": url,
                "headers": {"Authorization": "Bearer crm-secret"},
                "body": {"email": "{{ trigger.body.email }}"},
                **node,
            }
        ]
    )


def test_a_target_answering_200_completes_the_run_with_request_and_response_recorded(
    stack: StackClient, target
) -> None:
    # Given a flow posting to a target that answers 200
    url = target.script("/e2e/ok", (200, {"contact": 42}))
    flow = http_flow(stack, url)
    # When its webhook is called
    run_id = stack.trigger(flow, {"email": "ada@example.com"})
    # Then the run completes with one completed step, its exchange recorded and redacted
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", run
    assert statuses(run["history"]) == ["scheduled", "running", "completed"]
    assert run["stepCounts"] == {"completed": 1, "failed": 0}
    (step,) = run["steps"]
    assert step["status"] == "completed"
    assert step["output"]["body"] == {"contact": 42}
    (attempt,) = step["attempts"]
    assert attempt["status"] == "completed"
    assert attempt["http"]["request"]["method"] == "POST"
    assert attempt["http"]["request"]["body"] == '{"email": "ada@example.com"}'
    assert attempt["http"]["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert attempt["http"]["response"]["status"] == 200
    # and the target really received the resolved placeholder and the real header
    (call,) = target.calls("/e2e/ok")
    assert call["body"] == b'{"email": "ada@example.com"}'
    assert call["headers"]["Authorization"] == "Bearer crm-secret"


def test_503_503_200_retries_then_completes(stack: StackClient, target) -> None:
    url = target.script("/e2e/flaky", 503, 503, 200)
    run = stack.wait_for_run(stack.trigger(http_flow(stack, url), {"email": "a@b.c"}))
    assert run["status"] == "completed"
    step = step_of(run, "notify")
    assert [(a["attempt"], a["status"]) for a in step["attempts"]] == [(1, "failed"), (2, "failed"), (3, "completed")]
    assert {a["error"]["type"] for a in step["attempts"][:2]} == {"TransientError"}
    assert all(a["error"]["retryable"] for a in step["attempts"][:2])
    # the step (and the run) passed through `retrying` between attempts
    assert statuses(step["history"]) == [
        "scheduled",  # queued when the run was recorded
        *("running", "retrying") * 2,
        "running",
        "completed",
    ]
    assert "retrying" in statuses(run["history"])
    assert len(target.calls("/e2e/flaky")) == 3


def test_401_fails_at_once_with_authentication_error(stack: StackClient, target) -> None:
    url = target.script("/e2e/unauthorized", (401, {"error": "token revoked"}))
    run = stack.wait_for_run(stack.trigger(http_flow(stack, url), {"email": "a@b.c"}))
    assert run["status"] == "failed"
    step = step_of(run, "notify")
    assert step["status"] == "failed"
    (attempt,) = step["attempts"]
    assert attempt["error"]["type"] == "AuthenticationError"
    assert "401" in attempt["error"]["message"] and "token revoked" in attempt["error"]["message"]
    assert attempt["error"]["retryable"] is False
    assert step["error"]["type"] == "AuthenticationError"
    assert run["stepCounts"] == {"completed": 0, "failed": 1}
    assert len(target.calls("/e2e/unauthorized")) == 1


def test_always_500_fails_after_the_full_retry_budget(stack: StackClient, target) -> None:
    url = target.script("/e2e/down", 500)
    run = stack.wait_for_run(stack.trigger(http_flow(stack, url), {"email": "a@b.c"}), timeout=60)
    assert run["status"] == "failed"
    step = step_of(run, "notify")
    # 1 attempt + 4 retries (about 5 s, 1 min, 5 min, 5 min deployed; shrunk here)
    assert [a["attempt"] for a in step["attempts"]] == [1, 2, 3, 4, 5]
    assert {a["error"]["type"] for a in step["attempts"]} == {"TransientError"}
    assert step["status"] == "failed" and step["error"]["type"] == "TransientError"
    assert len(target.calls("/e2e/down")) == 5


def test_another_account_cannot_see_the_run(stack: StackClient, target) -> None:
    run_id = stack.trigger(http_flow(stack, target.script("/e2e/private", 200)), {"email": "a@b.c"})
    other = stack.request("POST", "/_local/accounts").json()["apiKey"]
    response = stack.request("GET", f"/runs/{run_id}", key=other)
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "NotFound"


def test_bad_input_over_http_is_a_clear_4xx(stack: StackClient, target) -> None:
    flow = http_flow(stack, target.script("/e2e/never", 200))
    malformed = stack.request("POST", "/flows", data=b"{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["type"] == "MalformedJson"
    unknown = stack.request("POST", "/flows", json={"name": "x", "trigger": {"type": "webhook"}, "nodes": [], "x": 1})
    assert unknown.status_code == 422 and unknown.json()["error"]["type"] == "ValidationFailed"
    bad_signature = stack.call_webhook({**flow, "webhookSecret": "whsec_wrong"}, {"a": 1})
    assert bad_signature.status_code == 401 and bad_signature.json()["error"]["type"] == "InvalidSignature"
    unknown_flow = stack.call_webhook({**flow, "flowId": "flow_missing"}, {"a": 1})
    assert unknown_flow.status_code == 404
    runs = stack.request("GET", f"/flows/{flow['flowId']}/runs").json()
    assert runs["items"] == []  # none of the bad calls started anything
    assert target.calls("/e2e/never") == []
