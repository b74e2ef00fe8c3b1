"""The operator CLI as installed (``.venv/bin/automations``), run as a subprocess against the local
stack: what an operator types after "my customer never got the email"."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.stack_client import StackClient
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e

AUTOMATIONS = Path(sys.executable).parent / "automations"  # the console script pyproject.toml installs


def automations(stack: StackClient, *args: str) -> subprocess.CompletedProcess[str]:
    """``automations ARGS`` with the stack's URL and key from the environment, as a shell would set them."""
    env = {**os.environ, "AUTOMATIONS_API_URL": stack.url, "AUTOMATIONS_API_KEY": stack.api_key}
    env.pop("NO_COLOR", None)  # stdout is a pipe: no colour must follow from that alone
    return subprocess.run([str(AUTOMATIONS), *args], env=env, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture(scope="module")
def failed_run(stack: StackClient, target: TargetServer) -> dict[str, Any]:
    """A run that failed at its HTTP step with a 401; the target answers 200 from then on (the CRM
    token was fixed), so a re-trigger completes."""
    url = target.script("/e2e/cli/crm", (401, {"error": "token revoked"}), (200, {"contact": 7}))
    flow = stack.create_flow(
        [
            {
                "id": "notify",
                "type": "http_request",
                "method": "POST",
                "url": url,
                "body": {"email": "{{ trigger.body.email }}"},
            }
        ],
        name="CLI e2e: tell the CRM",
    )
    run = stack.wait_for_run(stack.trigger(flow, {"email": "ada@example.com"}))
    assert run["status"] == "failed", run
    return run


def rows_of(output: str, run_id: str) -> list[str]:
    return [line for line in output.splitlines() if run_id in line]


def test_runs_list_shows_the_flows_runs_as_a_table_and_as_json(stack: StackClient, failed_run: dict[str, Any]) -> None:
    # Given a flow with a failed run
    flow_id, run_id = failed_run["flowId"], failed_run["runId"]
    # When the operator lists the flow's runs
    table = automations(stack, "runs", "list", "--flow", flow_id)
    # Then the run is a row of the table, with its status, and no colour on a pipe
    assert table.returncode == 0, table.stderr
    (row,) = rows_of(table.stdout, run_id)
    assert "failed" in row.split()
    assert "\x1b[" not in table.stdout
    # and --json is the API's page
    as_json = automations(stack, "runs", "list", "--flow", flow_id, "--status", "failed", "--json")
    assert as_json.returncode == 0, as_json.stderr
    page = json.loads(as_json.stdout)
    assert [(r["runId"], r["status"]) for r in page["items"]] == [(run_id, "failed")]
    assert "nextCursor" in page


def test_runs_list_says_where_each_run_failed(stack: StackClient, failed_run: dict[str, Any]) -> None:
    # (needs the run summary's failedStep)
    table = automations(stack, "runs", "list", "--flow", failed_run["flowId"])
    assert table.returncode == 0, table.stderr
    (row,) = rows_of(table.stdout, failed_run["runId"])
    assert "notify AuthenticationError HTTP 401" in row


def test_runs_show_gives_the_failed_steps_error_and_http_status(stack: StackClient, failed_run: dict[str, Any]) -> None:
    # When the operator shows the failed run
    shown = automations(stack, "runs", "show", failed_run["runId"])
    # Then its step row has the node, its status, the HTTP status and the error type and message
    assert shown.returncode == 0, shown.stderr
    (step_row,) = [line for line in shown.stdout.splitlines() if line.split()[1:2] == ["notify"]]
    assert step_row.split()[:4] == ["1", "notify", "http_request", "failed"]
    assert " 401 " in step_row
    assert "AuthenticationError: " in step_row and "token revoked" in step_row
    # and its execution, named after the run
    executions = shown.stdout.split("Executions", 1)[1]
    assert failed_run["runId"] in executions


def test_runs_show_of_an_unknown_run_exits_3(stack: StackClient) -> None:
    shown = automations(stack, "runs", "show", "run_does_not_exist")
    assert shown.returncode == 3
    assert "NotFound" in shown.stderr and shown.stdout == ""


def test_runs_retrigger_starts_a_new_run_linked_to_the_failed_one(
    stack: StackClient, failed_run: dict[str, Any]
) -> None:
    # (needs POST /runs/{runId}/retrigger)
    # When the operator re-triggers the failed run
    done = automations(stack, "runs", "retrigger", failed_run["runId"])
    # Then the new run's id is printed
    assert done.returncode == 0, done.stderr
    match = re.search(r"new run (\S+)", done.stdout)
    assert match, done.stdout
    new_run_id = match.group(1)
    assert new_run_id != failed_run["runId"]
    # and the new run is linked to the old one, both ways, and completes (the target answers 200 now)
    new_run = stack.wait_for_run(new_run_id)
    assert new_run["retriggerOf"] == failed_run["runId"]
    assert new_run["status"] == "completed", new_run
    assert new_run_id in stack.run(failed_run["runId"])["retriggeredBy"]


def test_runs_list_across_flows_includes_the_run(stack: StackClient, failed_run: dict[str, Any]) -> None:
    listed = automations(stack, "runs", "list", "--status", "failed", "--all", "--json")
    assert listed.returncode == 0, listed.stderr
    assert failed_run["runId"] in {r["runId"] for r in json.loads(listed.stdout)["items"]}


def test_cancelling_a_finished_run_exits_4(stack: StackClient, failed_run: dict[str, Any]) -> None:
    cancelled = automations(stack, "runs", "cancel", failed_run["runId"], "--reason", "too late")
    assert cancelled.returncode == 4, (cancelled.stdout, cancelled.stderr)
    assert "HTTP 409" in cancelled.stderr


def test_ops_summary_counts_the_failed_run_under_its_flow(stack: StackClient, failed_run: dict[str, Any]) -> None:
    as_json = automations(stack, "ops", "summary", "--window", "P1D", "--json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["window"] == "P1D"
    (flow,) = [f for f in summary["flows"] if f["flowId"] == failed_run["flowId"]]
    assert flow["current"].get("failed", 0) >= 1
    table = automations(stack, "ops", "summary", "--window", "P1D")
    assert table.returncode == 0, table.stderr
    assert any(failed_run["flowId"] in line for line in table.stdout.splitlines())


def test_ops_overdue_answers(stack: StackClient, failed_run: dict[str, Any]) -> None:
    # the flow's only run has ended: nothing of it is overdue
    overdue = automations(stack, "ops", "overdue", "--flow", failed_run["flowId"])
    assert overdue.returncode == 0, overdue.stderr
    assert overdue.stdout.strip() == "No overdue runs."


def test_keys_create_list_revoke_and_the_revoked_key_is_refused(stack: StackClient) -> None:
    # Given the stack's account; When the operator creates a key
    created = automations(stack, "keys", "create", "--name", "e2e rotation", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)

    # Then the listing shows it (by prefix, never the secret) and the key works
    listed = automations(stack, "keys", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert key["apiKey"] not in listed.stdout
    (shown,) = [k for k in json.loads(listed.stdout)["items"] if k["keyId"] == key["keyId"]]
    assert shown["prefix"] == key["apiKey"][:8] and shown["name"] == "e2e rotation" and not shown.get("revokedAt")
    assert automations(stack, "--api-key", key["apiKey"], "keys", "list").returncode == 0

    # When it is revoked
    revoked = automations(stack, "keys", "revoke", key["keyId"])
    assert revoked.returncode == 0, revoked.stderr

    # Then the very next request with it answers 401: exit code 5
    refused = automations(stack, "--api-key", key["apiKey"], "keys", "list")
    assert refused.returncode == 5, (refused.stdout, refused.stderr)
    assert "revoked" in refused.stderr
