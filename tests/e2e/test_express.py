"""Express first (issue #11): a run starts on the Express machine and hands off to Standard where
it must wait, with one continuous run history; a repeated Express start repeats no call; cancel
works on each path. Through the local stack, whose Express executions behave as AWS's do (no
name dedupe, an ``express`` ARN, no DescribeExecution or StopExecution)."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests

from automations.domain import clock
from tests.support.stack_client import StackClient, statuses, step_of, wait_for
from tests.support.target import TargetServer


def tag() -> str:
    return uuid.uuid4().hex[:10]


def post(client: StackClient, path: str, body: Any = None) -> requests.Response:
    return client.request("POST", path, json=body)


def machine_arns(stack: StackClient) -> dict[str, str]:
    machines = stack.aws("stepfunctions").list_state_machines()["stateMachines"]
    return {("express" if m["name"].endswith("Express") else "standard"): m["stateMachineArn"] for m in machines}


def test_a_run_starts_on_express_hands_off_at_a_delay_and_completes_with_one_history(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a flow that calls out, waits a minute, then calls out again
    t = tag()
    fetch, report = target.script(f"/express/fetch/{t}", (200, {"id": 7})), target.script(f"/express/report/{t}", 200)
    flow = stack.create_flow(
        [
            {"id": "fetch", "type": "http_request", "url": fetch},
            {"id": "pause", "type": "delay", "seconds": 60},
            {"id": "report", "type": "http_request", "url": report + "?id={{ steps.fetch.output.body.id }}"},
        ]
    )
    # When it is triggered
    run_id = stack.trigger(flow, {"n": 1})
    # Then its first execution runs on Express and hands off to Standard before the delay
    waiting = wait_for(
        lambda: (
            (r := stack.run(run_id))["steps"]
            and any(s["nodeId"] == "pause" and s.get("wakeAt") for s in r["steps"])
            and r
        ),
        timeout=30,
        what="the delay to wait on Standard",
    )
    first, second = waiting["executions"]
    assert ":express:" in first["arn"] and first["machine"] == "express"
    assert first["outcome"] == "handed_off"
    assert second["machine"] == "standard" and ":execution:" in second["arn"]
    assert second["startAt"] == "pause" and second["firstStepNumber"] == 2
    assert "handed off by Express at 'pause'" in second["reason"]
    assert waiting["path"] == ["express", "standard"] and waiting["status"] == "running"
    # When the delay is over
    stack.advance("PT2M")
    run = stack.wait_for_run(run_id)
    # Then the run completes with one continuous history: steps 1, 2, 3, each node called once
    assert run["status"] == "completed", run
    assert [(s["stepNumber"], s["nodeId"], s["status"]) for s in run["steps"]] == [
        (1, "fetch", "completed"),
        (2, "pause", "completed"),
        (3, "report", "completed"),
    ]
    assert statuses(run["history"]) == ["scheduled", "running", "completed"]
    assert len(target.calls(f"/express/fetch/{t}")) == 1
    assert [c["path"] for c in target.calls(f"/express/report/{t}")] == [f"/express/report/{t}?id=7"]
    assert [e["outcome"] for e in run["executions"]] == ["handed_off", "reached_end"]


def test_a_transient_failure_is_retried_on_express_once_then_on_standard_where_the_schedule_left_off(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a target that answers 503 twice, then 200
    t = tag()
    path = f"/express/flaky/{t}"
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script(path, 503, 503, 200)}])
    # When a run calls it
    run = stack.wait_for_run(stack.trigger(flow, {}), timeout=60)
    # Then Express retried the first 503 itself (a wait of at most 5 s fits it); the second handed the
    # node off; Standard waited the schedule's next wait, retried it, and it completed
    assert run["status"] == "completed", run
    attempts = step_of(run, "call")["attempts"]
    assert [(a["status"], (a.get("error") or {}).get("type")) for a in attempts] == [
        ("failed", "TransientError"),
        ("failed", "TransientError"),
        ("completed", None),
    ]
    assert statuses(step_of(run, "call")["history"]) == [
        "scheduled",
        *("running", "retrying") * 2,
        "running",
        "completed",
    ]
    express, standard = run["executions"]
    assert express["outcome"] == "handed_off"
    assert standard["continuesRetries"] is True and 1 <= standard["waitSeconds"] <= 60
    assert "a retryable TransientError" in standard["reason"]
    assert run["path"] == ["express", "standard"]
    assert len(target.calls(path)) == 3


def test_one_transient_failure_is_retried_on_express(stack: StackClient, target: TargetServer) -> None:
    t = tag()
    path = f"/express/once-flaky/{t}"
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script(path, 503, 200)}])
    run = stack.wait_for_run(stack.trigger(flow, {}))
    assert run["status"] == "completed" and run["path"] == ["express"], run
    assert [a["status"] for a in step_of(run, "call")["attempts"]] == ["failed", "completed"]
    assert [e["outcome"] for e in run["executions"]] == ["reached_end"]


def test_a_429_hands_off_at_once_to_the_slower_retrier(stack: StackClient, target: TargetServer) -> None:
    t = tag()
    path = f"/express/limited/{t}"
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script(path, 429, 200)}])
    run = stack.wait_for_run(stack.trigger(flow, {}), timeout=60)
    assert run["status"] == "completed" and run["path"] == ["express", "standard"], run
    standard = run["executions"][1]
    assert "a retryable RateLimited" in standard["reason"] and 1 <= standard["waitSeconds"] <= 30


def test_a_run_that_needs_no_waiting_stays_on_express(stack: StackClient, target: TargetServer) -> None:
    t = tag()
    flow = stack.create_flow(
        [
            {"id": "a", "type": "http_request", "url": target.script(f"/express/a/{t}", 200)},
            {"id": "b", "type": "set", "values": {"x": 1}},
            {"id": "c", "type": "http_request", "url": target.script(f"/express/c/{t}", 200)},
        ]
    )
    run = stack.wait_for_run(stack.trigger(flow, {}))
    assert run["status"] == "completed" and run["path"] == ["express"]
    (execution,) = run["executions"]
    assert ":express:" in execution["arn"] and execution["outcome"] == "reached_end"
    # Express executions cannot be described or stopped, as on AWS
    sfn = stack.aws("stepfunctions")
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.describe_execution(executionArn=execution["arn"])
    with pytest.raises(sfn.exceptions.InvalidArn):
        sfn.stop_execution(executionArn=execution["arn"])


def test_a_duplicated_express_start_repeats_no_http_call(stack: StackClient, target: TargetServer) -> None:
    # Given a run due in an hour (its execution recorded, not started)
    t = tag()
    path = f"/express/once/{t}"
    flow = stack.create_flow([{"id": "call", "type": "http_request", "url": target.script(path, 200)}])
    due = clock.iso(stack.clock_now() + timedelta(hours=1))
    (run_id,) = post(stack, f"/flows/{flow['flowId']}/runs", {"data": {}, "at": due}).json()["runIds"]
    wait_for(lambda: stack.run_schedule_exists(run_id), timeout=10, what="its schedule")
    # When its Express execution is started twice at the same moment (async Express is
    # at-least-once, and does not dedupe names)
    sfn, express = stack.aws("stepfunctions"), machine_arns(stack)["express"]
    arns: list[str] = []
    barrier = threading.Barrier(2)

    def start() -> None:
        barrier.wait()
        arns.append(
            sfn.start_execution(stateMachineArn=express, name=run_id, input=json.dumps({"runId": run_id}))[
                "executionArn"
            ]
        )

    starters = [threading.Thread(target=start) for _ in range(2)]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join()
    # Then two executions ran under the one name, and the node was called once
    assert len(set(arns)) == 2 and all(f":{run_id}:" in arn for arn in arns)
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed", run
    wait_for(
        lambda: all(
            sfn.get_execution_history(executionArn=a)["events"][-1]["type"] == "ExecutionSucceeded" for a in arns
        ),
        timeout=20,
        what="both executions to end",
    )
    assert len(target.calls(path)) == 1
    assert [a["status"] for a in step_of(run, "call")["attempts"]] == ["completed"]
    # and the run's execution records the one ARN that ran it, and that one's end
    (execution,) = stack.run(run_id)["executions"]
    assert execution["arn"] in arns and execution["outcome"] == "reached_end"


def test_cancelling_a_run_on_express_stops_it_at_its_next_task(stack: StackClient, target: TargetServer) -> None:
    # Given a run on Express inside a slow call (its target takes 3 s to answer)
    t = tag()
    slow, after = f"/express/slow/{t}", f"/express/after/{t}"
    flow = stack.create_flow(
        [
            {
                "id": "slow",
                "type": "http_request",
                "url": target.drip(slow, every=0.5, for_seconds=3),
                "timeoutSeconds": 10,
            },
            {"id": "after", "type": "http_request", "url": target.script(after, 200)},
        ]
    )
    run_id = stack.trigger(flow, {})
    wait_for(lambda: target.calls(slow), timeout=20, what="the slow call to begin")
    # When an operator cancels it
    answer = post(stack, f"/runs/{run_id}/cancel", {"reason": "wrong audience"})
    assert answer.status_code == 202, answer.text
    # Then it is cancelled at once; its Express execution (which cannot be stopped) ends at its next
    # task, which sees the cancel: the node after the slow one never runs
    execution = wait_for(
        lambda: (e := stack.run(run_id)["executions"][0]).get("outcome") and e,
        timeout=30,
        what="the Express execution to end",
    )
    assert ":express:" in execution["arn"] and execution["outcome"] == "reached_end"
    run = stack.run(run_id)
    assert run["status"] == "cancelled" and run["path"] == ["express"]
    assert run["history"][-1]["cause"] == "cancelled by an operator: wrong audience"
    assert target.calls(after) == []
    assert [s["nodeId"] for s in run["steps"] if s["status"] != "scheduled"] == ["slow"]


def test_cancelling_a_run_handed_off_to_standard_stops_its_standard_execution(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a run that went on to Standard and waits in an hour's delay there
    t = tag()
    after = f"/express/later/{t}"
    flow = stack.create_flow(
        [
            {"id": "pause", "type": "delay", "seconds": 3600},
            {"id": "after", "type": "http_request", "url": target.script(after, 200)},
        ]
    )
    run_id = stack.trigger(flow, {})
    waiting = wait_for(
        lambda: (r := stack.run(run_id))["steps"] and step_of(r, "pause").get("wakeAt") and r,
        timeout=30,
        what="the delay to wait on Standard",
    )
    standard = waiting["executions"][-1]
    assert waiting["path"] == ["express", "standard"] and standard["machine"] == "standard"
    # When an operator cancels it
    assert post(stack, f"/runs/{run_id}/cancel").status_code == 202
    # Then its Standard execution is stopped at once, and nothing after the delay runs
    sfn = stack.aws("stepfunctions")
    wait_for(
        lambda: sfn.describe_execution(executionArn=standard["arn"])["status"] == "ABORTED",
        timeout=10,
        what="the stop",
    )
    run = wait_for(
        lambda: (r := stack.run(run_id)) and step_of(r, "pause")["status"] == "interrupted" and r,
        timeout=10,
        what="the step to be interrupted",
    )
    assert run["status"] == "cancelled"
    assert target.calls(after) == []


def test_the_liveness_sweep_checks_a_handed_off_runs_standard_execution_and_leaves_it_running(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a run Express handed off to Standard, waiting there in an hour's delay
    flow = stack.create_flow(
        [
            {"id": "pause", "type": "delay", "seconds": 3600},
            {"id": "after", "type": "http_request", "url": target.script(f"/express/live/{tag()}", 200)},
        ]
    )
    run_id = stack.trigger(flow, {})
    wait_for(
        lambda: (r := stack.run(run_id))["steps"] and step_of(r, "pause").get("wakeAt"),
        timeout=30,
        what="the delay to wait on Standard",
    )
    # When its liveness check falls due (10 minutes on) and a sweep runs (this one: the dispatcher,
    # paused meanwhile, would otherwise tick the sweeper first)
    stack.pause_scheduler()
    try:
        stack.advance("PT11M")
        functions = requests.get(f"{stack.url}/_local/functions", timeout=10).json()["functions"]
        answer = stack.aws("lambda").invoke(FunctionName=functions["SweeperFunction"]["arn"], Payload=b"{}")
        swept = json.loads(answer["Payload"].read())
    finally:
        stack.resume_scheduler()
    # Then it checked runs in flight (this one's current execution is the Standard one, which lives)
    assert swept["checked"] >= 1, swept
    run = stack.run(run_id)
    assert run["status"] == "running" and run["executions"][-1]["machine"] == "standard"
    assert step_of(run, "pause")["status"] == "running"
