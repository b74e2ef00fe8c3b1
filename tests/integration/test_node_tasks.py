"""send_email, condition and delay tasks through their handlers (events/*.json) on moto."""

from __future__ import annotations

import json

import boto3
import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.ssm import connection_parameter
from automations.domain import clock
from automations.domain.runs import Run
from automations.logic.history import owned_run_detail
from automations.settings import get_settings
from tests.conftest import load_event
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run

RUN_ID = DEMO_RUN_ID
NODES = [
    {"id": "is_pro", "type": "condition", "if": "trigger.body.plan == 'pro'", "then": "welcome", "else": "wait_a_day"},
    {
        "id": "welcome",
        "type": "send_email",
        "to": "{{ trigger.body.email }}",
        "subject": "Welcome {{ trigger.body.name }}",
        "html": "<p>Hi {{ trigger.body.name }}</p>",
    },
    {"id": "wait_a_day", "type": "delay", "until": "{{ trigger.receivedAt | add_seconds(3) }}"},
]


@pytest.fixture
def running_run(repo: DynamoRepository, target, monkeypatch) -> Run:
    """A running run of a flow with the nodes the sample events name; SendGrid is ``target``."""
    monkeypatch.setenv("SENDGRID_BASE_URL", target.url("/sendgrid"))
    get_settings.cache_clear()
    run = seed_demo_run(repo, NODES, {"email": "ada@example.com", "name": "Ada", "plan": "pro"})
    repo.start_execution(
        run_id=RUN_ID, name=RUN_ID, arn=None, at=clock.iso(clock.now()), check_after=clock.iso(clock.now())
    )
    return run


def test_the_condition_picks_its_branch(handler_of, lambda_context, repo, running_run) -> None:
    state = handler_of("ComputeNodeFunction")(load_event("compute_node_condition.json"), lambda_context)
    assert state["node"] == {"id": "welcome", "type": "send_email", "task": "SendEmail"} and state["stepNumber"] == 3
    steps = {s.node_id: s for s in owned_run_detail(repo, running_run.account_id, RUN_ID).steps}
    assert steps["is_pro"].output == {"result": True, "next": "welcome"}
    # and the branch it picked is next in line (read, not written), numbered as the state says
    assert (steps["welcome"].status, steps["welcome"].step_number) == ("scheduled", 3)
    assert steps["welcome"].queued_at == steps["is_pro"].ended_at
    assert "welcome" not in {s.node_id for s in repo.get_run_detail(RUN_ID).steps}


def test_send_email_posts_to_sendgrid_with_the_connection_key(
    handler_of, lambda_context, repo, running_run, target
) -> None:
    boto3.client("ssm").put_parameter(
        Name=connection_parameter("acct_local", "sendgrid"), Value="SG.k", Type="SecureString"
    )
    target.script("/sendgrid/v3/mail/send", (202, None, {"X-Message-Id": "m-1"}))
    state = handler_of("SendEmailFunction")(load_event("send_email_node.json"), lambda_context)
    assert state["node"] == {"id": "wait_a_day", "type": "delay", "task": "ComputeNode"}
    sent = target.calls("/sendgrid/v3/mail/send")[-1]
    assert sent["headers"]["Authorization"] == "Bearer SG.k"
    assert json.loads(sent["body"]) == {
        "personalizations": [{"to": [{"email": "ada@example.com"}]}],
        "from": {"email": "no-reply@example.com"},
        "subject": "Welcome Ada",
        "content": [{"type": "text/html", "value": "<p>Hi Ada</p>"}],
    }
    detail = repo.get_run_detail(RUN_ID)
    assert detail.steps[0].output["messageId"] == "m-1"
    assert detail.attempts[0].http.request["headers"]["Authorization"] == "[REDACTED]"


def test_send_email_without_a_connection_is_a_configuration_error(
    handler_of, lambda_context, repo, running_run
) -> None:
    with pytest.raises(Exception) as raised:
        handler_of("SendEmailFunction")(load_event("send_email_node.json"), lambda_context)
    assert type(raised.value).__name__ == "ConfigurationError"
    assert "/automations/connections/acct_local/sendgrid" in str(raised.value)
    (step,) = repo.get_run_detail(RUN_ID).steps
    assert step.status == "failed" and step.error.type == "ConfigurationError"


def test_a_delay_hands_its_wake_up_time_to_the_wait_state_then_completes(
    handler_of, lambda_context, repo, running_run
) -> None:
    compute = handler_of("ComputeNodeFunction")
    started = compute({"runId": RUN_ID, "stepNumber": 3, "nodeId": "wait_a_day"}, lambda_context)
    expected = clock.parse_iso(running_run.created_at).timestamp() + 3
    assert (
        started["node"] == {"id": "wait_a_day", "type": "delay", "task": "ComputeNode"} and started["stepNumber"] == 3
    )
    assert abs(clock.parse_iso(started["wait"]["until"]).timestamp() - expected) <= 1
    (step,) = repo.get_run_detail(RUN_ID).steps
    assert step.status == "running" and step.wake_at == started["wait"]["until"]
    finished = handler_of("RunLifecycleFunction")(load_event("run_lifecycle_wake_up.json"), lambda_context)
    assert finished == {"runId": RUN_ID, "stepNumber": 4, "node": {"type": "end", "task": "EndRun"}}
    detail = repo.get_run_detail(RUN_ID)
    assert detail.steps[0].status == "completed" and [a.status for a in detail.attempts] == ["completed"]
