"""The cost bench's counting and pricing (bench/cost.py), its table (bench/report.py) and the AWS-call
recorder it reads (tests/support/aws_calls.py). No timing is asserted; the last test runs the bench
for one flow on a local stack and checks the figures' shape and sanity, not their values."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import cost, report
from tests.support import aws_calls

PRICES = cost.load_prices()


def entered(name: str, kind: str = "Task") -> dict[str, Any]:
    return {"type": f"{kind}StateEntered", "stateEnteredEventDetails": {"name": name}}


def event(kind: str) -> dict[str, Any]:
    return {"type": kind}


def usage(**overrides: Any) -> dict[str, Any]:
    """One run's usage, as measure_run returns it (only what pricing and the figures read)."""
    run: dict[str, Any] = {
        "transitions": 13,
        "retries": 0,
        "entered": ["StartRun", "EndRun"],
        "express_entered": [],
        "express": {"executions": 0, "seconds": 0.0, "gb_seconds": 0.0},
        "lambda": {"invocations": 20, "gb_seconds": 0.2, "by_function": {}, "gb_seconds_by_function": {}},
        "dynamodb": {
            "writes": 12,
            "by_operation": {"PutItem": 2, "UpdateItem": 10},
            "transactional": 2,
            "failed": 0,
            "table_write_units": 14,
            "gsi_writes": 4,
            "gsi_write_units": 4,
            "write_units": 18,
            "reads": 10,
            "read_units": 6.0,
            "large_items": 0,
        },
        "writes_by_function": {"ApiFunction": 2},
        "stream_records": 12,
        "moto_stream_artefacts": 0,
        "scheduler": {"calls": 0, "by_operation": {}, "invocations": 0},
        "detail": {"writes": {}, "reads": {}},
    }
    run.update(overrides)
    return run


def record(event_name: str, keys: dict, old: dict | None = None, new: dict | None = None) -> dict[str, Any]:
    change: dict[str, Any] = {"Keys": keys}
    if old is not None:
        change["OldImage"] = old
    if new is not None:
        change["NewImage"] = new
    return {"eventName": event_name, "dynamodb": change}


def s(value: str) -> dict[str, str]:
    return {"S": value}


RUN = {"pk": s("RUN#r1"), "sk": s("RUN")}


# --- transitions -----------------------------------------------------------------------------------


def test_transitions_are_the_states_entered_plus_each_task_retry() -> None:
    # Given a history where the HttpRequest task failed once and was retried by its Retry block
    history = [
        event("ExecutionStarted"),
        entered("StartRun"),
        *map(event, ("TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited")),
        entered("NextNode", "Choice"),
        event("ChoiceStateExited"),
        entered("HttpRequest"),
        *map(event, ("TaskScheduled", "TaskStarted", "TaskFailed", "TaskScheduled", "TaskStarted", "TaskSucceeded")),
        event("TaskStateExited"),
        entered("EndRun"),
        *map(event, ("TaskScheduled", "TaskStarted", "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded")),
    ]
    # When it is counted
    counted = cost.transitions(history)
    # Then every state entered is a transition and the retry one more (AWS bills retries)
    assert counted == {"transitions": 5, "entered": ["StartRun", "NextNode", "HttpRequest", "EndRun"], "retries": 1}


# --- DynamoDB -----------------------------------------------------------------------------------


def test_moto_only_stream_records_are_left_out() -> None:
    # Given moto's two INSERTs for an UpdateItem that created an item, and a MODIFY that changed nothing
    attempt = {"pk": s("RUN#r1"), "sk": s("ATTEMPT#a#0001")}
    records = [
        record("INSERT", attempt, new=attempt),
        record("INSERT", attempt, new={**attempt, "status": s("running")}),
        record("MODIFY", RUN, old={**RUN, "status": s("running")}, new={**RUN, "status": s("running")}),
        record("MODIFY", RUN, old={**RUN, "status": s("running")}, new={**RUN, "status": s("completed")}),
    ]
    # When they are read as DynamoDB would have written them
    kept, left_out = cost.as_on_aws(records)
    # Then one INSERT and the real change remain
    assert [r["eventName"] for r in kept] == ["INSERT", "MODIFY"]
    assert kept[0]["dynamodb"]["NewImage"]["status"] == s("running") and left_out == 2


def test_write_and_read_units_of_recorded_calls() -> None:
    # Given the recorded calls of a run: a transaction of two puts, an update of an item that grew
    # past 1 KB, a refused conditional update, and reads of each kind
    step = {"pk": s("RUN#r1"), "sk": s("STEP#a")}
    calls: list[dict[str, Any]] = [
        {"service": "dynamodb", "operation": "PutItem", "key": "RUN#r1", "sort": "RUN", "transaction": True},
        {"service": "dynamodb", "operation": "PutItem", "key": "TRIGGER#t", "sort": "TRIGGER", "transaction": True},
        {"service": "dynamodb", "operation": "UpdateItem", "key": "RUN#r1", "sort": "STEP#a"},
        {"service": "dynamodb", "operation": "UpdateItem", "key": "RUN#r1", "sort": "RUN", "failed": "Conditional"},
        {"service": "dynamodb", "operation": "GetItem", "key": "RUN#r1", "sort": "RUN", "consistent": False},
        {"service": "dynamodb", "operation": "GetItem", "key": "FLOW#f", "sort": "FLOW", "consistent": True},
        {"service": "dynamodb", "operation": "Query", "key": "RUN#r1", "consistent": True, "items": 7, "bytes": 5000},
        {"service": "states", "operation": "StartExecution", "key": None},
    ]
    records = [record("MODIFY", step, old=step, new={**step, "output": s("x" * 1500)})]
    # When they are counted
    found = cost.dynamodb_usage(calls, records, indexes=[])
    # Then items written count once each, a transaction's twice in units, a 1.5 KB item two units
    assert found["writes"] == 4 and found["transactional"] == 2 and found["failed"] == 1
    assert found["by_operation"] == {"PutItem": 2, "UpdateItem": 2}
    assert found["table_write_units"] == 2 * 2 + 2 + 1 and found["write_units"] == 7
    # And reads: 0.5 eventually consistent, 1 strongly, a 5000-byte query 2 units (per 4 KB)
    assert found["reads"] == 3 and found["read_units"] == 0.5 + 1 + 2
    assert found["large_items"] == 1


def test_each_write_is_billed_on_the_item_as_it_was_at_that_write() -> None:
    # Given a step queued small, claimed small, then completed with 1.5 KB of output
    step = {"pk": s("RUN#r1"), "sk": s("STEP#a")}
    running = {**step, "status": s("running")}
    write = {"service": "dynamodb", "key": "RUN#r1", "sort": "STEP#a"}
    calls: list[dict[str, Any]] = [
        {**write, "operation": "UpdateItem", "t": 3.0},
        {**write, "operation": "PutItem", "t": 1.0},
        {**write, "operation": "UpdateItem", "t": 2.0},
    ]
    records = [
        record("INSERT", step, new=step),
        record("MODIFY", step, old=step, new=running),
        record("MODIFY", step, old=running, new={**running, "output": s("x" * 1500)}),
    ]
    # When they are counted
    found = cost.dynamodb_usage(calls, records, indexes=[])
    # Then only the write that made it large costs two units
    assert found["table_write_units"] == 1 + 1 + 2
    # And when a write left no record to pair with, each write counts at the item's largest image
    unpaired = cost.dynamodb_usage([*calls, {**write, "operation": "UpdateItem", "t": 4.0}], records, indexes=[])
    assert unpaired["table_write_units"] == 4 * 2


def test_index_writes_follow_the_index_keys_and_projection() -> None:
    indexes = [
        {"name": "RunsByFlow", "keys": ["byFlowPk", "byFlowSk"], "projection": "ALL"},
        {"name": "Overdue", "keys": ["overduePk", "overdueSk"], "projection": "KEYS_ONLY"},
    ]
    waiting = {**RUN, "byFlowPk": s("FLOW#f"), "byFlowSk": s("1"), "overduePk": s("O#1"), "overdueSk": s("1")}
    running = {**RUN, "byFlowPk": s("FLOW#f"), "byFlowSk": s("1"), "status": s("running")}
    moved = {**running, "byFlowSk": s("2")}
    # a new waiting run enters both indexes
    assert cost.index_writes(record("INSERT", RUN, new=waiting), indexes) == (2, 2)
    # starting it changes an attribute RunsByFlow projects (1) and leaves Overdue (1)
    assert cost.index_writes(record("MODIFY", RUN, old=waiting, new=running), indexes) == (2, 2)
    # a changed index key is a delete and a put
    assert cost.index_writes(record("MODIFY", RUN, old=running, new=moved), indexes) == (2, 2)
    # a change Overdue (keys only) does not project, to an item RunsByFlow does not hold: nothing
    outside = {**RUN, "overduePk": s("O#1"), "overdueSk": s("1")}
    assert cost.index_writes(record("MODIFY", RUN, old=outside, new={**outside, "n": s("2")}), indexes) == (0, 0)


def test_the_detail_names_who_wrote_what_and_which_writes_were_refused() -> None:
    calls = [
        ("StreamFunction", {"service": "dynamodb", "operation": "UpdateItem", "sort": "RUN", "failed": "Refused"}),
        ("StreamFunction", {"service": "dynamodb", "operation": "UpdateItem", "sort": "RUN"}),
        ("ApiFunction", {"service": "dynamodb", "operation": "PutItem", "sort": "STEP#a", "transaction": True}),
        ("ApiFunction", {"service": "dynamodb", "operation": "Query", "index": "RunsByFlow"}),
        ("StreamFunction", {"service": "states", "operation": "StartExecution"}),
    ]
    assert cost.describe(calls) == {
        "writes": {
            "ApiFunction PutItem STEP# (txn)": 1,
            "StreamFunction UpdateItem RUN": 1,
            "StreamFunction UpdateItem RUN (Refused)": 1,
        },
        "reads": {"ApiFunction Query RunsByFlow": 1},
    }


def test_invocations_and_gb_seconds_between_two_readings_leave_the_sweeper_out() -> None:
    before = {
        "StreamFunction": {"invocations": 3, "durationMs": 100, "memoryMb": 512},
        "SweeperFunction": {"invocations": 1, "durationMs": 50, "memoryMb": 512},
    }
    after = {
        "StreamFunction": {"invocations": 7, "durationMs": 300, "memoryMb": 512},
        "SweeperFunction": {"invocations": 2, "durationMs": 90, "memoryMb": 512},
        "ApiFunction": {"invocations": 1, "durationMs": 1000, "memoryMb": 1024},
    }
    found = cost.lambda_usage(before, after)
    assert found["by_function"] == {"StreamFunction": 4, "ApiFunction": 1}
    assert found["gb_seconds_by_function"] == {"StreamFunction": 0.2 * 0.5, "ApiFunction": 1.0}
    assert found["invocations"] == 5 and found["gb_seconds"] == pytest.approx(1.1)


def test_each_schedule_created_is_priced_as_one_invocation() -> None:
    calls = [{"service": "scheduler", "operation": op} for op in ("CreateSchedule", "DeleteSchedule", "GetSchedule")]
    assert cost.scheduler_usage(calls) == {
        "calls": 3,
        "by_operation": {"CreateSchedule": 1, "DeleteSchedule": 1, "GetSchedule": 1},
        "invocations": 1,
    }


# --- pricing ---------------------------------------------------------------------------------------


def test_the_price_table_is_dated_and_sourced() -> None:
    assert PRICES["as_of"] and PRICES["region"] == "us-east-1"
    assert all(url.startswith("https://aws.amazon.com/") for url in PRICES["source"].values())
    assert PRICES["step_functions"]["standard_usd_per_1000_state_transitions"] == 0.025
    assert PRICES["dynamodb"]["on_demand_usd_per_million_write_request_units"] == 0.625


def test_a_runs_price_per_million_runs_by_component() -> None:
    # Given a run of 13 transitions, 20 invocations for 0.2 GB-s, 18 write and 6 read units, 1 schedule
    run = usage(scheduler={"calls": 2, "by_operation": {}, "invocations": 1})
    # When it is priced
    priced = cost.price(run, PRICES)
    # Then each component is its quantity at the table's list price, per million runs
    assert priced == pytest.approx(
        {
            "step_functions": 13 * 25.0,  # $0.025 per 1,000 transitions = $25 per million
            "lambda_requests": 20 * 0.20,
            "lambda_duration": 0.2 * 0.0000133334 * 1_000_000,
            "dynamodb_writes": 18 * 0.625,
            "dynamodb_reads": 6 * 0.125,
            "scheduler": 1 * 1.0,
        }
    )


def test_express_executions_are_priced_per_request_and_by_duration_not_per_transition() -> None:
    # Given two Express executions of 0.23 s and 1.01 s, and a Standard one of 5 transitions
    start = datetime(2026, 12, 6, tzinfo=UTC)
    histories = [
        [{"timestamp": start}, {"timestamp": start + timedelta(seconds=0.23)}],
        [{"timestamp": start}, {"timestamp": start + timedelta(seconds=1.01)}],
    ]
    express = cost.express_usage(histories)
    # Then each duration is rounded up to 100 ms and billed at 64 MB
    assert express["executions"] == 2 and express["seconds"] == pytest.approx(0.3 + 1.1)
    assert express["gb_seconds"] == pytest.approx(1.4 * 64 / 1024)
    # and priced: $1 per million requests, $0.00001667 per GB-s, plus Standard's transitions
    priced = cost.price(usage(transitions=5, express=express), PRICES)
    assert priced["step_functions"] == pytest.approx(5 * 25.0 + 2 * 1.0 + 1.4 * 0.0625 * 0.00001667 * 1_000_000)


def test_a_variants_figures_total_is_its_breakdowns_sum() -> None:
    runs = [usage(), usage(transitions=14, retries=1), usage()]
    figures = cost.figures({("standard", "reference"): runs}, PRICES, runs=3)
    usd = figures["cost.standard.reference.usd_per_million_runs"]
    assert set(usd["breakdown"]) == set(cost.BREAKDOWN)
    assert usd["total"] == pytest.approx(sum(usd["breakdown"].values()))
    assert usd["breakdown"]["step_functions"] == 325.0  # the median run's 13 transitions
    assert figures["cost.usd_per_million_runs"]["of"] == "standard.reference"
    assert figures["cost.standard.reference.transitions"]["samples"] == [13, 14, 13]
    # 2N+3 for the N nodes that call out: the reference flow's condition and set do not
    assert figures["cost.standard.reference.transitions"]["target"] == 2 * 3 + 3
    assert figures["cost.method"]["prices"]["as_of"] == PRICES["as_of"]


def test_the_top_figure_is_the_express_paths_reference_run_when_both_paths_were_measured() -> None:
    express = usage(transitions=0, express={"executions": 1, "seconds": 0.5, "gb_seconds": 0.5 * 0.0625})
    figures = cost.figures(
        {("standard", "reference"): [usage(transitions=9)], ("express", "reference"): [express]}, PRICES, runs=1
    )
    assert figures["cost.usd_per_million_runs"]["of"] == "express.reference"
    assert figures["cost.express.reference.usd_per_million_runs"]["target"] == 80
    assert figures["cost.standard.reference.usd_per_million_runs"]["target"] == 350
    assert "target" not in figures["cost.express.reference.transitions"]  # Express bills none
    assert figures["cost.method"]["paths"] == ["standard", "express"]


# --- the report -------------------------------------------------------------------------------------


def test_the_report_renders_a_cost_row_per_variant_with_its_targets() -> None:
    figures = {
        **cost.figures(
            {
                ("standard", "reference"): [usage(transitions=9)],
                ("standard", "http5.retry"): [usage(transitions=16, stream_records=13)],
            },
            PRICES,
            1,
        ),
        "cost.transitions": {"min": 11, "median": 11, "max": 11},  # a figure the table does not know
    }
    markdown = report.render(figures)
    lines = markdown.splitlines()
    reference = next(line for line in lines if line.startswith("| Standard: reference "))
    retry = next(line for line in lines if line.startswith("| Standard: http5.retry "))
    assert lines.index(reference) < lines.index(retry)  # the reference flow first
    assert reference.startswith("| Standard: reference (5 nodes, 3 calling out) | 9, <= 9: met |")
    assert "| 12, <= 15: met |" in reference and "| 12, <= 12: met |" in reference  # writes, stream records
    assert "| 16, <= 14: not met |" in retry and "| 13, <= 12: not met |" in retry
    total = sum(cost.price(usage(transitions=9), PRICES).values())  # 225 + 4 + 2.67 + 11.25 + 0.75
    assert f"| {total:.2f}, <= 350: met |" in reference
    assert "Step Functions is 92% of the Standard path's reference run's cost" in markdown
    assert "| `cost.transitions` | 11 (11-11) |" in markdown  # unknown figures still listed
    assert "cost.standard" not in markdown


def test_what_dominates_names_the_largest_parts() -> None:
    assert report.dominant({"step_functions": 80, "dynamodb_writes": 15, "lambda_requests": 5}, "x") == (
        "Step Functions is 80% of x (then DynamoDB writes 15%, Lambda requests 5%)"
    )
    assert report.dominant({"step_functions": 0}, "x") == "nothing in x is priced"


# --- the recorder -----------------------------------------------------------------------------------


def test_a_partly_written_line_is_read_next_time(tmp_path: Path) -> None:
    (tmp_path / "1.jsonl").write_text('{"a": 1}\n{"b"')
    found, offsets = aws_calls.read(tmp_path)
    assert found == [{"a": 1}]
    with (tmp_path / "1.jsonl").open("a") as out:
        out.write(": 2}\n")
    assert aws_calls.read(tmp_path, offsets)[0] == [{"b": 2}]


def test_the_recorder_keeps_what_costs_are_counted_from(tmp_path: Path) -> None:
    # Given a process started with the recorder, calling DynamoDB (moto, in-process)
    script = textwrap.dedent(
        """
        import boto3
        from moto import mock_aws

        with mock_aws():
            db = boto3.client("dynamodb", region_name="us-east-1")
            db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                      {"AttributeName": "sk", "AttributeType": "S"}])
            item = {"pk": {"S": "RUN#1"}, "sk": {"S": "RUN"}, "v": {"S": "x" * 100}}
            db.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": item}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "A#1"}, "sk": {"S": "A"}},
                                    "ConditionExpression": "attribute_not_exists(pk)"}}])
            try:
                db.put_item(TableName="t", Item=item, ConditionExpression="attribute_not_exists(pk)")
            except db.exceptions.ConditionalCheckFailedException:
                pass
            db.get_item(TableName="t", Key={"pk": {"S": "RUN#1"}, "sk": {"S": "RUN"}}, ConsistentRead=True)
            db.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "RUN#1"}})
        """
    )
    env = {**os.environ, **aws_calls.install(tmp_path / "rec"), "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    # When it runs
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # Then each call is a line, a transaction's items apart, with what pricing needs
    lines = [{k: v for k, v in e.items() if k not in ("t", "thread")} for e in aws_calls.entries(tmp_path / "rec")]
    items = [e for e in lines if e["operation"] != "CreateTable"]
    base = {"service": "dynamodb", "index": None, "key": "RUN#1", "sort": "RUN"}
    size = len("pk") + len("RUN#1") + len("sk") + len("RUN") + len("v") + 100
    assert items == [
        {**base, "operation": "PutItem", "transaction": True},
        {**base, "operation": "ConditionCheckItem", "key": "A#1", "sort": "A", "transaction": True},
        {**base, "operation": "PutItem", "failed": "ConditionalCheckFailedException"},
        {**base, "operation": "GetItem", "consistent": True, "items": 1, "bytes": size},
        {"service": "dynamodb", "operation": "Query", "index": None, "key": "RUN#1", "consistent": False}
        | {"items": 1, "bytes": size},
    ]
    assert all(isinstance(e["t"], float) for e in aws_calls.entries(tmp_path / "rec"))
    # And the policy check still reads each call's function from its thread's name
    assert aws_calls.function_of({"thread": "StreamFunction-0a1b2c3d"}, {"StreamFunction"}) == "StreamFunction"
    assert aws_calls.function_of({"thread": "stream-poller"}, {"StreamFunction"}) is None
    # (a pool's thread the invocation started: the sweeper's shard reads)
    assert aws_calls.function_of({"thread": "SweeperFunction-0a1b2c3d_3"}, {"SweeperFunction"}) == "SweeperFunction"


# --- on a local stack -------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_bench_measures_a_run_on_a_local_stack() -> None:
    # Given the bench, When it measures one run of the five http_request nodes on each path
    figures = cost.measure(runs=1, variants=["http5"], log=lambda _: None)
    # Then every figure is there, counted from what the run did
    express = "cost.express.http5"
    assert figures[f"{express}.express_executions"]["samples"] == [1]  # it needed no waiting: Express throughout
    assert figures[f"{express}.express_executions"]["states_entered"].count("HttpRequest") == 5
    assert figures[f"{express}.transitions"]["samples"] == [0]
    assert figures[f"{express}.lambda_invocations"]["by_function"]["HttpRequestFunction"] == 5
    express_usd = figures[f"{express}.usd_per_million_runs"]
    assert 1.0 < express_usd["breakdown"]["step_functions"] < 5.0  # $1 the request, the rest its duration
    key = "cost.standard.http5"
    transitions = figures[f"{key}.transitions"]
    assert transitions["samples"][0] >= 2 * 5 + 1  # at least: StartRun, 5 x (NextNode + task), EndRun
    assert figures[f"{key}.states_entered"].count("HttpRequest") == 5
    assert figures[f"{key}.lambda_invocations"]["by_function"]["HttpRequestFunction"] == 5
    assert figures[f"{key}.lambda_gb_seconds"]["median"] > 0
    assert figures[f"{key}.dynamodb_writes"]["median"] >= 5  # at least each node's step
    assert figures[f"{key}.dynamodb_write_units"]["median"] >= figures[f"{key}.dynamodb_writes"]["median"]
    assert figures[f"{key}.dynamodb_read_units"]["median"] > 0
    assert figures[f"{key}.stream_records"]["median"] > 0
    usd = figures[f"{key}.usd_per_million_runs"]
    assert usd["total"] == pytest.approx(sum(usd["breakdown"].values()))
    assert usd["breakdown"]["step_functions"] == transitions["median"] * 25.0
    assert json.loads(json.dumps(figures)) == figures  # what results.json can hold
