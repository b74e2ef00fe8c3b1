"""Fixtures shared by every test layer: events, handlers from template.yaml, a moto table."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automations.adapters import scheduler, stepfunctions
from automations.adapters.dynamo import repository as dynamo
from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.secrets import read_secret
from automations.adapters.ssm import get_secret_store
from automations.settings import get_settings
from devstack.functions import LambdaContext, load_handler_module
from devstack.template import ROOT, load_template, table_create_args
from tests.support.stack_client import StackClient, running_local_stack
from tests.support.target import TargetServer

EVENTS = ROOT / "events"
TABLE = "automations-test"
SCHEDULE_GROUP = "automations-test-runs"
CURSOR_SECRET_NAME = "automations-test-cursor-secret"
EXPRESS_MACHINE = "automations-FlowInterpreterExpress"


def load_event(name: str) -> dict[str, Any]:
    """The same events/*.json that `sam local invoke -e` uses."""
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(
        function_name="test",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
        memory_limit_in_mb=512,
        timeout_seconds=30,
        aws_request_id="test-request",
    )


@pytest.fixture
def handler_of(template: dict[str, Any]) -> Callable[[str], Callable[..., Any]]:
    """A fresh import of a function's handler, found through its CodeUri/Handler in the template."""

    def load(logical_id: str) -> Callable[..., Any]:
        props = template["Resources"][logical_id]["Properties"]
        return load_handler_module(props["CodeUri"], props["Handler"])[1]

    return load


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:interpreter",
        # (EXPRESS_FIRST is off: runs start on Standard unless a test turns it on)
        "EXPRESS_STATE_MACHINE_ARN": f"arn:aws:states:us-east-1:123456789012:stateMachine:{EXPRESS_MACHINE}",
        "SCHEDULE_GROUP": SCHEDULE_GROUP,
        "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler",
        "SCHEDULER_DEAD_LETTER_ARN": "arn:aws:sqs:us-east-1:123456789012:scheduler-dead-letters",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "OUTBOUND_GUARD": "offline",  # loopback only, no name looked up
        "CURSOR_SECRET_ARN": CURSOR_SECRET_NAME,  # made in moto by `repo`, like the template's
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    caches = (
        *(get_settings, dynamo.get_repository, stepfunctions.get_workflows, scheduler.get_schedules, read_secret),
        get_secret_store,  # it keeps connection secrets for minutes: a new one per test
    )
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


@pytest.fixture
def repo(aws_env: None, template: dict[str, Any]) -> Iterator[DynamoRepository]:
    """A moto table built from template.yaml's definition (keys, indexes, stream)."""
    with mock_aws():
        boto3.client("dynamodb").create_table(**table_create_args(template, TABLE))
        boto3.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
        boto3.client("secretsmanager").create_secret(Name=CURSOR_SECRET_NAME, SecretString="tests-cursor-secret")
        yield dynamo.get_repository()


@pytest.fixture(scope="session")
def target() -> Iterator[TargetServer]:
    server = TargetServer()
    yield server
    server.server.shutdown()


@pytest.fixture(scope="session")
def stack() -> Iterator[StackClient]:
    """The local stack, started once per test session (only when a test asks for it). As deployed
    by default, runs start on the Express state machine and hand off to Standard to wait."""
    with running_local_stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def standard_stack() -> Iterator[StackClient]:
    """A local stack whose runs run on the Standard state machine only (``ExpressFirst=false``), for
    the tests of that machine's own paths: its states, Retry blocks, status events and stops. A
    module asks for it by overriding ``stack`` with it."""
    with running_local_stack(None, "--parameter", "ExpressFirst=false") as stack:
        yield stack
