"""The engine's signals as CloudWatch receives them: the embedded-metric (EMF) documents real
handler invocations print, read back and checked for names, units and dimensions."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain import clock
from automations.flows.definition import FlowDefinition
from automations.observability import METRICS, METRICS_NAMESPACE, SERVICE, Metric
from devstack import demo
from tests.conftest import load_event
from tests.integration.conftest import seed_demo_run


@pytest.fixture
def metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")


def emitted(output: str) -> dict[str, dict[str, Any]]:
    """Each metric in the EMF documents printed: its unit, its dimensions and its value."""
    found: dict[str, dict[str, Any]] = {}
    for line in output.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if not isinstance(document, dict) or "_aws" not in document:
            continue
        for directive in document["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == METRICS_NAMESPACE
            (dimensions,) = directive["Dimensions"]
            for metric in directive["Metrics"]:
                found[metric["Name"]] = {
                    "unit": metric["Unit"],
                    "dimensions": {name: document[name] for name in dimensions},
                    "value": _total(document[metric["Name"]]),
                }
    return found


def _total(value: Any) -> float:
    return float(sum(value)) if isinstance(value, list) else float(value)  # EMF values may be a list


def assert_as_declared(found: dict[str, dict[str, Any]], metric: Metric) -> dict[str, Any]:
    spec = METRICS[metric]
    got = found[metric.value]
    assert got["unit"] == spec.unit.value, metric
    assert set(got["dimensions"]) == {"service", *spec.dimensions}, metric
    assert got["dimensions"]["service"] == SERVICE
    return got


@pytest.fixture
def demo_run(repo: DynamoRepository, target) -> Any:
    return seed_demo_run(repo, [{"id": "notify", "type": "http_request", "url": target.url("/signals")}], {})


def test_a_retrying_step_is_counted_by_its_error_type(handler_of, lambda_context, demo_run, metrics_on, capsys) -> None:
    # When the stream handler sees a step go `retrying` (events/stream_step_retrying.json)
    handler_of("StreamFunction")(load_event("stream_step_retrying.json"), lambda_context)
    # Then StepRetries is counted once, with the error's type as a dimension of its own
    got = assert_as_declared(emitted(capsys.readouterr().out), Metric.STEP_RETRIES)
    assert (got["dimensions"]["ErrorType"], got["value"]) == ("TransientError", 1.0)


def test_a_stream_record_that_fails_is_counted(handler_of, lambda_context, demo_run, metrics_on, capsys) -> None:
    # Given a batch one record of which cannot be dispatched (no state machine exists here)
    ok = load_event("stream_step_retrying.json")["Records"][0]
    failing = load_event("stream_run_recorded.json")["Records"][0]
    # When the stream handler processes it
    handler_of("StreamFunction")({"Records": [ok, failing]}, lambda_context)
    # Then the record handed back for retry is counted
    got = assert_as_declared(emitted(capsys.readouterr().out), Metric.STREAM_RECORD_FAILURES)
    assert got["value"] == 1.0


def test_a_run_starting_counts_how_long_it_waited_since_its_trigger(
    handler_of, lambda_context, demo_run, metrics_on, capsys
) -> None:
    # When the demo run (due at once) starts
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    # Then it is counted started, with its trigger-to-start latency, in milliseconds
    found = emitted(capsys.readouterr().out)
    assert assert_as_declared(found, Metric.RUNS_STARTED)["value"] == 1.0
    got = assert_as_declared(found, Metric.TRIGGER_TO_START)
    assert got["value"] >= 0
    # and a second start of the run (a repeated execution: it finds the run taken) counts nothing
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    assert Metric.RUNS_STARTED.value not in emitted(capsys.readouterr().out)


def test_a_run_due_later_counts_how_late_it_started(
    handler_of, lambda_context, repo, target, metrics_on, capsys
) -> None:
    # Given a run that was due ten minutes ago (the engine was down)
    definition = FlowDefinition.model_validate(
        {"name": "late", "trigger": {"type": "webhook"}, "nodes": [{"id": "notify", "type": "set", "values": {"x": 1}}]}
    )
    now = clock.now()
    demo.store_demo_run(
        repo,
        definition,
        {},
        secret="whsec_x",
        at=clock.iso(now - timedelta(hours=1)),
        due=clock.iso(now - timedelta(minutes=10)),
    )
    # When it starts
    handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
    # Then it is counted started (whoever started its execution: the scheduler, the sweeper), and
    # its lateness is published, in seconds: about ten minutes
    found = emitted(capsys.readouterr().out)
    assert assert_as_declared(found, Metric.RUNS_STARTED)["value"] == 1.0
    got = assert_as_declared(found, Metric.SCHEDULE_LATENESS)
    assert 590 <= got["value"] <= 700


def test_the_sweeper_publishes_the_overdue_count(handler_of, lambda_context, repo, metrics_on, capsys) -> None:
    handler_of("SweeperFunction")(load_event("sweeper_tick.json"), lambda_context)
    got = assert_as_declared(emitted(capsys.readouterr().out), Metric.OVERDUE_RUNS)
    assert got["value"] == 0.0  # nothing is waiting in this table


# --- traceable runs: log lines keyed by run, flow, account, node and execution ------------------


def log_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "level" in entry and "message" in entry:
            lines.append(entry)
    return lines


def test_log_lines_name_the_run_they_are_about_and_a_warm_container_forgets_it(
    handler_of, lambda_context, demo_run, capsys
) -> None:
    import sys

    from automations.observability import logger

    # the logger's handler holds the stream it was made with: point it at this test's capture
    handler = logger.registered_handler
    before = handler.setStream(sys.stdout)
    logger.setLevel("DEBUG")
    try:
        stream = handler_of("StreamFunction")
        # When the stream handles a change of the demo run's step
        stream(load_event("stream_step_retrying.json"), lambda_context)
        (handled,) = [e for e in log_lines(capsys.readouterr().out) if e["message"] == "table change handled"]
        # Then its log line names the run and the node
        assert (handled["run_id"], handled["node_id"]) == (demo_run.run_id, "notify")
        # When the same (warm) container handles a record of no run
        flow_record = load_event("stream_step_retrying.json")
        image = flow_record["Records"][0]["dynamodb"]["NewImage"]
        for key in ("runId", "nodeId"):
            image.pop(key)
        image["sk"] = {"S": "FLOW"}
        image["entity"] = {"S": "flow"}
        stream(flow_record, lambda_context)
        (other,) = [e for e in log_lines(capsys.readouterr().out) if e["message"] == "table change handled"]
        # Then nothing of the previous run is left on it
        assert "run_id" not in other and "node_id" not in other
        # When a run's task loads the run (the lifecycle's start)
        handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)
        started = [e for e in log_lines(capsys.readouterr().out) if e.get("run_id") == demo_run.run_id]
        # Then its lines name the run's flow, account and execution too
        assert started, "the start logged nothing"
        assert {(e["flow_id"], e["account_id"], e["execution"]) for e in started if "flow_id" in e} == {
            (demo_run.flow_id, demo_run.account_id, demo_run.run_id)
        }
    finally:
        logger.setLevel("INFO")
        handler.setStream(before)


def test_an_api_requests_log_keys_name_its_account_and_the_run_it_is_about(
    handler_of, lambda_context, demo_run, accounts
) -> None:
    from automations.observability import logger
    from tests.integration.conftest import api_event

    api = handler_of("ApiFunction")
    # When a run is read
    answer = api(api_event("api_get_run.json", path=f"/runs/{demo_run.run_id}"), lambda_context)
    assert answer["statusCode"] == 200, answer["body"]
    # Then the request's log lines carry the run and the account
    keys = logger.get_current_keys()
    assert (keys.get("run_id"), keys.get("account_id")) == (demo_run.run_id, demo_run.account_id)
    # and the next request in the same (warm) container starts without them
    api(api_event("api_list_flows.json"), lambda_context)
    assert "run_id" not in logger.get_current_keys()
