"""Issue #3 end to end: every node type, placeholders flowing between nodes, typed errors, honest status."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from tests.support.stack_client import StackClient, statuses, step_of, wait_for

pytestmark = pytest.mark.e2e


def emails_to(stack: StackClient, address: str) -> list[dict[str, Any]]:
    return requests.get(f"{stack.url}/_local/emails", params={"to": address}, timeout=5).json()["items"]


def onboarding_flow(target) -> list[dict[str, Any]]:
    """webhook -> http_request -> condition -> (send_email | set) -> delay -> http_request."""
    return [
        {"id": "fetch", "type": "http_request", "url": target.script("/crm/contact", (200, {"id": 7, "plan": "pro"}))},
        {
            "id": "is_pro",
            "type": "condition",
            "if": "steps.fetch.output.body.plan == 'pro' and trigger.body.email != null",
            "then": "welcome",
            "else": "mark_skipped",
        },
        {
            "id": "welcome",
            "type": "send_email",
            "to": "{{ trigger.body.email }}",
            "subject": "Welcome, contact {{ steps.fetch.output.body.id }}",
            "text": "Hello {{ trigger.body.name | default('there') }}, "
            "your plan is {{ steps.fetch.output.body.plan | upper }}.",
            "next": "pause",
        },
        {"id": "mark_skipped", "type": "set", "values": {"reason": "plan {{ steps.fetch.output.body.plan }}"}},
        {"id": "pause", "type": "delay", "seconds": 2},
        {
            "id": "report",
            "type": "http_request",
            "method": "POST",
            "url": target.script("/crm/report", 200),
            "body": {
                "contact": "{{ steps.fetch.output.body.id }}",
                "emailed": "{{ steps.welcome.status | default('skipped') }}",
                "reason": "{{ vars.reason | default('') }}",
            },
        },
    ]


def test_a_flow_using_every_node_type_runs_end_to_end(stack: StackClient, target) -> None:
    # Given the onboarding flow, When a pro contact signs up
    flow = stack.create_flow(onboarding_flow(target), name="onboarding")
    run_id = stack.trigger(flow, {"email": "grace@example.com", "name": "Grace"})
    # Then, while the delay waits, its step is running with a wake-up time (set once the node has
    # computed it, just after its attempt began)
    waiting = wait_for(
        lambda: (
            (r := stack.run(run_id))
            and any(s["nodeId"] == "pause" and s["status"] == "running" and s.get("wakeAt") for s in r["steps"])
            and r
        ),
        timeout=20,
        what="the delay to start waiting",
    )
    assert step_of(waiting, "pause")["wakeAt"].endswith("Z")
    # And the run completes, through the email branch, with the email in the sink
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", json.dumps(run, indent=1)
    assert [s["nodeId"] for s in run["steps"]] == ["fetch", "is_pro", "welcome", "pause", "report"]
    assert step_of(run, "is_pro")["output"] == {"result": True, "next": "welcome"}
    (email,) = emails_to(stack, "grace@example.com")
    assert email["subject"] == "Welcome, contact 7"
    assert email["text"] == "Hello Grace, your plan is PRO."
    welcome = step_of(run, "welcome")
    assert welcome["input"]["to"] == "grace@example.com"
    assert welcome["attempts"][0]["http"]["request"]["headers"]["Authorization"] == "[REDACTED]"
    assert "SG." not in json.dumps(run)  # the connection key never reaches history
    pause = step_of(run, "pause")
    assert statuses(pause["history"]) == ["scheduled", "running", "completed"]  # queued, waited, woke
    assert pause["output"]["wokeAt"] >= pause["output"]["until"].replace("Z", ".000Z")
    # the last node received values computed by earlier nodes
    report = json.loads(target.calls("/crm/report")[-1]["body"])
    assert report == {"contact": 7, "emailed": "completed", "reason": ""}


def test_the_other_branch_sets_variables_for_later_nodes(stack: StackClient, target) -> None:
    nodes = onboarding_flow(target)
    nodes[0]["url"] = target.script("/crm/free", (200, {"id": 9, "plan": "free"}))
    nodes[-1]["url"] = target.script("/crm/report-free", 200)
    run = stack.wait_for_run(stack.trigger(stack.create_flow(nodes), {"email": "linus@example.com"}))
    assert run["status"] == "completed"
    assert [s["nodeId"] for s in run["steps"]] == ["fetch", "is_pro", "mark_skipped", "pause", "report"]
    assert step_of(run, "mark_skipped")["output"] == {"reason": "plan free"}
    assert emails_to(stack, "linus@example.com") == []
    report = json.loads(target.calls("/crm/report-free")[-1]["body"])
    assert report == {"contact": 9, "emailed": "skipped", "reason": "plan free"}


def test_a_missing_variable_fails_at_once_naming_the_path(stack: StackClient, target) -> None:
    url = target.script("/mv", 200)
    flow = stack.create_flow(
        [{"id": "call", "type": "http_request", "url": url, "body": {"who": "{{ trigger.body.customer.email }}"}}]
    )
    run = stack.wait_for_run(stack.trigger(flow, {"customer": {"name": "no email"}}))
    assert run["status"] == "failed"
    (attempt,) = step_of(run, "call")["attempts"]
    assert attempt["error"]["type"] == "MissingVariable"
    assert "trigger.body.customer.email" in attempt["error"]["message"]
    assert attempt["error"]["retryable"] is False
    assert target.calls("/mv") == []  # the request was never sent


def test_429_then_200_completes_through_the_rate_limit_retrier(stack: StackClient, target) -> None:
    url = target.script("/limited", 429, 200)  # no Retry-After: the slower RateLimited retrier
    run = stack.wait_for_run(stack.trigger(stack.create_flow([{"id": "call", "type": "http_request", "url": url}]), {}))
    assert run["status"] == "completed"
    attempts = step_of(run, "call")["attempts"]
    assert [(a["status"], (a["error"] or {}).get("type")) for a in attempts] == [
        ("failed", "RateLimited"),
        ("completed", None),
    ]
    assert attempts[0]["error"]["retryable"] is True


def test_a_short_retry_after_is_honoured_by_a_wait_state(stack: StackClient, target) -> None:
    url = target.script("/retry-after", (429, {}, {"Retry-After": "1"}), 200)
    run = stack.wait_for_run(stack.trigger(stack.create_flow([{"id": "call", "type": "http_request", "url": url}]), {}))
    assert run["status"] == "completed"
    first, second = step_of(run, "call")["attempts"]
    assert first["error"]["type"] == "RateLimited"
    gap = _seconds(second["startedAt"]) - _seconds(first["endedAt"])
    assert gap >= 1.0  # waited the full Retry-After, not a scaled-down retry interval


def test_a_permanent_4xx_fails_at_once(stack: StackClient, target) -> None:
    url = target.script("/gone", (404, {"error": "no such contact"}))
    run = stack.wait_for_run(stack.trigger(stack.create_flow([{"id": "call", "type": "http_request", "url": url}]), {}))
    assert run["status"] == "failed"
    (attempt,) = step_of(run, "call")["attempts"]
    assert attempt["error"]["type"] == "ExternalApiError" and "no such contact" in attempt["error"]["message"]


def test_on_error_continue_runs_later_steps_but_the_run_ends_failed(stack: StackClient, target) -> None:
    nodes = [
        {"id": "optional", "type": "http_request", "url": target.script("/optional", 403), "onError": "continue"},
        {"id": "main", "type": "http_request", "url": target.script("/main", 200)},
        {"id": "after", "type": "set", "values": {"done": True}},
    ]
    run = stack.wait_for_run(stack.trigger(stack.create_flow(nodes), {}))
    assert [(s["nodeId"], s["status"]) for s in run["steps"]] == [
        ("optional", "failed"),
        ("main", "completed"),
        ("after", "completed"),
    ]
    assert run["status"] == "failed"
    assert run["stepCounts"] == {"completed": 2, "failed": 1}


def test_fail_on_empty_output_turns_an_empty_answer_into_a_failure(stack: StackClient, target) -> None:
    url = target.script("/empty", (200, {}))
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": url, "failOnEmptyOutput": True}])
    run = stack.wait_for_run(stack.trigger(flow, {}))
    assert run["status"] == "failed"
    assert step_of(run, "call")["error"]["type"] == "EmptyOutput"


def test_runs_keep_the_version_they_started_with(stack: StackClient, target) -> None:
    # Given a run of version 1 waiting in a delay
    v1 = [
        {"id": "pause", "type": "delay", "seconds": 2},
        {"id": "call", "type": "http_request", "url": target.script("/v1", 200)},
    ]
    flow = stack.create_flow(v1)
    run_id = stack.trigger(flow, {})
    # When version 2 is published meanwhile
    v2 = [{"id": "call", "type": "http_request", "url": target.script("/v2", 200)}]
    published = stack.request(
        "PUT", f"/flows/{flow['flowId']}", json={"name": "v2", "trigger": {"type": "webhook"}, "nodes": v2}
    )
    assert published.status_code == 200 and published.json()["version"] == 2
    # Then the waiting run finishes on version 1, and new runs use version 2
    run = stack.wait_for_run(run_id)
    assert run["flowVersion"] == 1 and run["status"] == "completed"
    assert len(target.calls("/v1")) == 1
    new_run = stack.wait_for_run(stack.trigger(flow, {}))
    assert new_run["flowVersion"] == 2 and len(target.calls("/v2")) == 1


def _seconds(iso: str) -> float:
    from automations.domain.clock import parse_iso

    return parse_iso(iso).timestamp()
