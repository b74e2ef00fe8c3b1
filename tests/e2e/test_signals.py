"""The escalation signals on the local stack (issue "Operate it on AWS"): an outage makes the
overdue count the sweeper publishes rise, and recovery brings it back to zero; a burst of
failures across two flows crosses the spike rule. Each test has a stack of its own, so the counts
are its own. Metrics are read as the functions published them (``GET /_local/metrics``)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests

from automations.domain import clock
from tests.support.stack_client import StackClient, running_local_stack, wait_for
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


def datapoints(stack: StackClient, name: str) -> list[dict[str, Any]]:
    answer = requests.get(f"{stack.url}/_local/metrics", params={"name": name}, timeout=10)
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def invoke_sweeper(stack: StackClient) -> None:
    """One sweep, as the Scheduler's per-minute target would start it."""
    functions = requests.get(f"{stack.url}/_local/functions", timeout=10).json()["functions"]
    answer = stack.aws("lambda").invoke(FunctionName=functions["SweeperFunction"]["arn"], Payload=b"{}")
    assert "FunctionError" not in answer, answer["Payload"].read()


def test_an_outage_makes_the_overdue_count_rise_and_recovery_brings_it_back_to_zero() -> None:
    with running_local_stack() as stack:
        flow = stack.create_flow([{"id": "remind", "type": "set", "values": {"x": 1}}], name="reminders")
        # Given an outage: nothing fires (the scheduler's dispatcher, the sweeper's ticks included)
        stack.pause_scheduler()
        try:
            due = clock.iso(stack.clock_now() + timedelta(minutes=1))
            run_ids = []
            for _ in range(5):
                answer = stack.request("POST", f"/flows/{flow['flowId']}/runs", json={"data": {}, "at": due})
                assert answer.status_code == 202, answer.text
                run_ids += answer.json()["runIds"]
            # (each waits on its one-time schedule before the clock moves: due later, not now)
            wait_for(lambda: all(map(stack.run_schedule_exists, run_ids)), timeout=30, what="their schedules")
            # When their time passes during it
            stack.advance("PT10M")
            assert stack.request("GET", "/ops/overdue").json()["count"] == 5
            # and the first sweep after it runs
            invoke_sweeper(stack)
            # Then the overdue count it publishes has risen to the five runs
            counts = [p["value"] for p in datapoints(stack, "OverdueRuns")]
            assert counts and counts[-1] == 5
            assert datapoints(stack, "OverdueRuns")[-1]["unit"] == "Count"
        finally:
            # When the engine is back
            stack.resume_scheduler()
        # Then the runs it started complete, and the next sweeps publish zero
        wait_for(
            lambda: (
                stack.request("GET", f"/flows/{flow['flowId']}/runs?status=completed").json()["items"].__len__() == 5
            ),
            timeout=60,
            what="the five runs to complete",
        )
        stack.advance("PT2M")
        wait_for(
            lambda: datapoints(stack, "OverdueRuns")[-1]["value"] == 0 and len(datapoints(stack, "OverdueRuns")) > 1,
            timeout=30,
            what="a sweep to publish zero overdue runs",
        )
        assert stack.request("GET", "/ops/overdue").json()["count"] == 0


def test_a_burst_of_failures_across_two_flows_crosses_the_spike_rule(target: TargetServer) -> None:
    with running_local_stack() as stack:
        # Given two flows whose target refuses them (404: a permanent failure)
        t = uuid.uuid4().hex[:8]
        flows = [
            stack.create_flow(
                [{"id": "sync", "type": "http_request", "url": target.script(f"/signals/{t}/{n}", 404)}],
                name=f"sync {n}",
            )
            for n in (1, 2)
        ]
        # When five runs of each fail within the hour
        run_ids = [stack.trigger(flow, {"i": i}) for flow in flows for i in range(5)]
        for run_id in run_ids:
            assert stack.wait_for_run(run_id)["status"] == "failed"
        # Then both flows spike by the summary's rule: the handbook's escalation, across flows
        summary = stack.request("GET", "/ops/summary", params={"window": "PT1H"}).json()
        spiking = {f["flowId"] for f in summary["flows"] if f["spike"]}
        assert spiking == {flow["flowId"] for flow in flows}, json.dumps(summary)
        assert summary["spikingFlows"] == 2 and summary["account"]["spike"] is True
        # and the metrics the alarm and the dashboard read say the same: ten failed runs, ten steps
        # failed for good by their error type
        wait_for(lambda: sum(p["value"] for p in datapoints(stack, "RunsFailed")) == 10, timeout=30, what="RunsFailed")
        failures = datapoints(stack, "StepFailures")
        assert sum(p["value"] for p in failures) == 10
        assert {p["dimensions"]["ErrorType"] for p in failures} == {"ExternalApiError"}
        assert all(p["dimensions"]["service"] == "automations" for p in failures)
