"""A step's last attempt is stored on the step without what the two share, and read back whole."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from automations.adapters.dynamo import attempt_on_step

HEADERS = {"Content-Type": "application/json", "Date": "Sun, 06 Dec 2026 23:18:29 GMT"}
URL = "http://127.0.0.1:8080/hook"


def step_values(**overrides: Any) -> dict[str, Any]:
    return {
        "runId": "run_1",
        "nodeId": "call",
        "input": {"url": URL, "headers": {}},
        "output": {"status": 200, "headers": HEADERS, "body": {"ok": True}},
        **overrides,
    }


def attempt(**http: Any) -> dict[str, Any]:
    exchange = {"request": {"method": "POST", "url": URL, "headers": {"User-Agent": "x"}}, **http}
    return {"runId": "run_1", "nodeId": "call", "attempt": 1, "status": "completed", "http": exchange}


ANSWERED = attempt(response={"status": 200, "headers": HEADERS, "body": '{"ok": true}', "elapsedMs": 2})


def test_what_the_step_holds_the_same_is_stored_once_and_read_back() -> None:
    # Given the attempt that completed an HTTP step, and the step's values written with it
    step = step_values()
    # When it is stored on the step
    kept = attempt_on_step.stored(ANSWERED, step)
    # Then its run, node, request URL and response headers are left to the step
    assert not {"runId", "nodeId"} & set(kept)
    assert "url" not in kept["http"]["request"] and "headers" not in kept["http"]["response"]
    assert kept["http"]["request"]["headers"] == {"User-Agent": "x"}  # the request's own headers stay
    # and reading it from the step gives the attempt as recorded, without changing what was stored
    before = copy.deepcopy(kept)
    assert attempt_on_step.read(step, kept) == ANSWERED
    assert kept == before


@pytest.mark.parametrize(
    ("recorded", "step"),
    [
        # the URL the step's input holds differs from the one sent (redacted differently)
        (ANSWERED, step_values(input={"url": "http://127.0.0.1:8080/hook?token=***"})),
        # the output was cut to fit the item, the exchange's headers were not
        (ANSWERED, step_values(output={"truncated": True, "bytes": 200_000})),
        # a failed attempt: no output at all
        (attempt(response={"status": 503, "headers": HEADERS, "body": ""}), step_values(output=None)),
        # no response (the connection was refused): nothing to put back under it
        (attempt(), step_values(output=None)),
        # not an HTTP node
        ({"runId": "run_1", "nodeId": "call", "attempt": 1, "status": "completed"}, step_values(input={})),
    ],
    ids=["other url", "cut output", "failed", "no response", "no exchange"],
)
def test_what_differs_or_is_missing_is_kept_as_recorded(recorded: dict[str, Any], step: dict[str, Any]) -> None:
    as_recorded = copy.deepcopy(recorded)
    kept = attempt_on_step.stored(recorded, step)
    assert attempt_on_step.read(step, kept) == as_recorded
    assert recorded == as_recorded  # storing changed nothing of the attempt it was given
