"""Secrets never reach run history, the API's answers or the logs (issue #10, item 4): a run that
uses the account's email connection secret, triggered by a webhook that carries credentials in
its Authorization header and in a custom header, leaves none of them anywhere."""

from __future__ import annotations

import json
import secrets
import tempfile
from pathlib import Path

import pytest

from devstack.stack import LOCAL_SENDGRID_KEY
from tests.support.stack_client import local_stack_process
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


def test_credentials_in_headers_and_connection_secrets_appear_nowhere(
    monkeypatch: pytest.MonkeyPatch, target: TargetServer
) -> None:
    # Given a stack that logs everything, and a flow that calls out and sends an email through the
    # account's SendGrid connection
    monkeypatch.setenv("AUTOMATIONS_LOG_LEVEL", "DEBUG")
    bearer, custom = f"sk_live_{secrets.token_hex(12)}", f"ghp_{secrets.token_hex(16)}"
    with tempfile.TemporaryDirectory(prefix="devstack-data-") as data, local_stack_process(Path(data)) as process:
        stack = process.client
        flow = stack.create_flow(
            [
                {"id": "call", "type": "http_request", "method": "POST", "url": target.url("/secrets/call")},
                {"id": "mail", "type": "send_email", "to": "ada@example.com", "subject": "Hi", "text": "Hello"},
            ]
        )
        # When its webhook is called with credentials in the Authorization header and a custom one
        response = stack.call_webhook(
            flow, {"order": 1}, Authorization=f"Bearer {bearer}", **{"X-Custom": f"token {custom}"}
        )
        assert response.status_code == 202, response.text
        run_id = response.json()["runIds"][0]
        run = stack.wait_for_run(run_id, timeout=30)
        assert run["status"] == "completed", run
        # Then none of them is in the table, in the API's answers, or in the logs
        table = stack.aws("dynamodb").scan(TableName=_table_name(stack))["Items"]
        answers = [
            stack.request("GET", f"/runs/{run_id}").text,
            stack.request("GET", f"/flows/{flow['flowId']}/runs").text,
        ]
        logs = process.output()
        assert "execution status change" in logs or "DEBUG" in logs  # the logs are there to search
        for secret in (bearer, custom, LOCAL_SENDGRID_KEY):
            for where, text in (("table", json.dumps(table)), ("API", "".join(answers)), ("logs", logs)):
                assert secret not in text, f"{secret[:8]}... found in the {where}"
        # and history shows where they were, redacted
        assert run["trigger"]["headers"]["authorization"] == "[REDACTED]"
        assert run["trigger"]["headers"]["x-custom"] == "[REDACTED]"
        mail = next(s for s in run["steps"] if s["nodeId"] == "mail")
        assert mail["attempts"][-1]["http"]["request"]["headers"]["Authorization"] == "[REDACTED]"


def _table_name(stack) -> str:
    return stack.aws("dynamodb").list_tables()["TableNames"][0]
