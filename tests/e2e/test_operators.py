"""Operators through the local stack over HTTP (issue #9, "What it must show"): re-trigger from the
start and from the failed step, cancel, an execution stopped behind the engine's back and its
resume, run history filters and paging across flows, and the failure-spike summary.

Each test that reads account-wide views (``GET /runs``, ``/ops/summary``) works in an account of
its own (``POST /_local/accounts``), so other tests' runs never show up in what it counts.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta
from typing import Any

import pytest
import requests

from automations.domain import clock
from tests.support.stack_client import StackClient, statuses, step_of, wait_for
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


def tag() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def account(stack: StackClient) -> StackClient:
    """The stack, as a client of a fresh account (its own key, no runs yet)."""
    response = requests.post(f"{stack.url}/_local/accounts", timeout=10)
    assert response.status_code == 201, response.text
    return StackClient(url=stack.url, api_key=response.json()["apiKey"], moto_endpoint=stack.moto_endpoint)


def charge_then_notify(target: TargetServer, path: str) -> list[dict[str, Any]]:
    """A first node that must not run twice (a charge), then one that can fail (a notification)."""
    return [
        {"id": "charge", "type": "http_request", "method": "POST", "url": target.url(f"{path}/charge")},
        {"id": "notify", "type": "http_request", "method": "POST", "url": target.url(f"{path}/notify")},
    ]


def post(client: StackClient, path: str, body: Any = None, **kwargs: Any) -> requests.Response:
    return client.request("POST", path, json=body, **kwargs)


# --- re-trigger -----------------------------------------------------------------------------


def test_a_failed_run_re_triggered_once_its_target_is_fixed_completes_and_both_runs_are_linked(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a run that failed because its second target answered 400
    path = f"/ops-{tag()}"
    target.script(f"{path}/notify", 400)
    flow = stack.create_flow(charge_then_notify(target, path))
    failed_id = stack.trigger(flow, {"order": 7})
    failed = stack.wait_for_run(failed_id)
    assert failed["status"] == "failed"
    assert failed["failedStep"] == {
        "nodeId": "notify",
        "errorType": "ExternalApiError",
        "message": failed["failedStep"]["message"],
        "httpStatus": 400,
    }
    # When the target is fixed and the run is re-triggered
    target.script(f"{path}/notify", 200)
    answer = post(stack, f"/runs/{failed_id}/retrigger")
    # Then a new run of the same trigger data completes, linked both ways
    assert answer.status_code == 202, answer.text
    new_id = answer.json()["runId"]
    new = stack.wait_for_run(new_id)
    assert (new["status"], new["retriggerOf"], new["triggerKind"]) == ("completed", failed_id, "retrigger")
    assert new["trigger"]["body"] == {"order": 7}
    old = stack.run(failed_id)
    assert old["retriggeredBy"] == [new_id]
    # and the old run is otherwise unchanged: same status, history and steps
    assert (old["status"], old["history"], old["steps"]) == (failed["status"], failed["history"], failed["steps"])
    # from the start: the charge ran once per run
    assert len(target.calls(f"{path}/charge")) == 2


def test_re_triggering_from_the_failed_step_reuses_the_first_steps_output_and_does_not_call_it_again(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a run whose first node (a charge) succeeded and whose second failed
    path = f"/ops-{tag()}"
    target.script(f"{path}/charge", (200, {"chargeId": "ch_1"}))
    target.script(f"{path}/notify", 400)
    nodes = charge_then_notify(target, path)
    nodes[1]["body"] = {"charge": "{{ steps.charge.output.body.chargeId }}"}
    flow = stack.create_flow(nodes)
    failed_id = stack.trigger(flow, {"order": 8})
    assert stack.wait_for_run(failed_id)["status"] == "failed"
    assert len(target.calls(f"{path}/charge")) == 1
    # When an operator tries to resume it Then 409 says how a failed run goes on: the call below
    answer = post(stack, f"/runs/{failed_id}/resume")
    assert answer.status_code == 409
    assert 're-trigger it with {"fromStep": "failed"}' in answer.json()["error"]["message"]
    # When the target is fixed and the run is re-triggered from its failed step
    target.script(f"{path}/notify", 200)
    answer = post(stack, f"/runs/{failed_id}/retrigger", {"fromStep": "failed"})
    assert answer.status_code == 202, answer.text
    new = stack.wait_for_run(answer.json()["runId"])
    # Then it completes without calling the charge's target again, using the recorded charge
    assert new["status"] == "completed"
    assert len(target.calls(f"{path}/charge")) == 1
    charge = step_of(new, "charge")
    assert (charge["status"], charge["carriedFrom"], charge["output"]["body"]) == (
        "completed",
        failed_id,
        {"chargeId": "ch_1"},
    )
    assert [c["body"] for c in target.calls(f"{path}/notify")][-1] == b'{"charge": "ch_1"}'


def test_only_finished_runs_of_the_callers_account_can_be_re_triggered(
    stack: StackClient, account: StackClient, target: TargetServer
) -> None:
    # Given a run that is still running (a long delay) and another account's key
    flow = stack.create_flow([{"id": "pause", "type": "delay", "seconds": 3600}])
    run_id = stack.trigger(flow, {})
    stack.wait_for_run(run_id, ("running",))
    # When it is re-triggered Then 409 names its status; from another account it does not exist
    answer = post(stack, f"/runs/{run_id}/retrigger")
    assert answer.status_code == 409 and "running" in answer.json()["error"]["message"]
    assert post(account, f"/runs/{run_id}/retrigger").status_code == 404
    assert post(account, f"/runs/{run_id}/cancel").status_code == 404
    assert post(account, f"/runs/{run_id}/resume").status_code == 404
    # and a node it never reached is refused by name
    assert post(stack, f"/runs/{run_id}/cancel").status_code == 202
    stack.wait_for_run(run_id)
    answer = post(stack, f"/runs/{run_id}/retrigger", {"fromStep": "nowhere"})
    assert answer.status_code == 422 and "nowhere" in answer.json()["error"]["message"]


# --- cancel ---------------------------------------------------------------------------------


def test_cancelling_a_running_run_stops_its_execution_and_interrupts_the_step_in_flight(
    stack: StackClient,
) -> None:
    # Given a run waiting in a 120 s delay
    flow = stack.create_flow(
        [{"id": "pause", "type": "delay", "seconds": 120}, {"id": "after", "type": "set", "values": {"x": 1}}]
    )
    run_id = stack.trigger(flow, {})
    running = wait_for(
        lambda: (run := stack.run(run_id))["steps"] and step_of(run, "pause")["status"] == "running" and run,
        timeout=30,
        what="the delay to wait",
    )
    # When an operator cancels it with a reason
    answer = post(stack, f"/runs/{run_id}/cancel", {"reason": "customer asked"})
    # Then it is cancelled at once, the reason and the key's id in its history
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"runId": run_id, "status": "cancelled"}
    run = stack.run(run_id)
    assert run["status"] == "cancelled"
    last = run["history"][-1]
    assert last["cause"] == "cancelled by an operator: customer asked" and last["by"].startswith("apikey:")
    # and within seconds its execution is stopped and the delay step interrupted; nothing after it ran
    arn = running["executions"][-1]["arn"]  # the Standard one it waits in (Express handed it off)
    sfn = stack.aws("stepfunctions")
    wait_for(lambda: sfn.describe_execution(executionArn=arn)["status"] == "ABORTED", timeout=10, what="the stop")
    run = wait_for(
        lambda: (r := stack.run(run_id)) and step_of(r, "pause")["status"] == "interrupted" and r,
        timeout=10,
        what="the step to be interrupted",
    )
    assert [s["nodeId"] for s in run["steps"]] == ["pause"]
    assert step_of(run, "pause")["error"]["type"] == "RunCancelled"
    assert run["status"] == "cancelled"  # the execution's end does not make it interrupted
    # When it is cancelled again Then 409 names its status
    again = post(stack, f"/runs/{run_id}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["error"]["message"]


def test_cancelling_a_scheduled_run_removes_its_schedule(stack: StackClient) -> None:
    # Given a run of a flow due in a day
    flow = stack.create_flow([{"id": "later", "type": "set", "values": {"x": 1}}])
    due = clock.iso(stack.clock_now() + timedelta(days=1))
    answer = post(stack, f"/flows/{flow['flowId']}/runs", {"at": due})
    (run_id,) = answer.json()["runIds"]
    wait_for(lambda: stack.run_schedule_exists(run_id), timeout=10, what="its schedule")
    # When it is cancelled (without a reason)
    assert post(stack, f"/runs/{run_id}/cancel").status_code == 202
    # Then it never starts: cancelled, its schedule and queued step gone
    run = stack.run(run_id)
    assert statuses(run["history"]) == ["scheduled", "cancelled"]
    assert run["history"][-1]["cause"] == "cancelled by an operator"
    wait_for(lambda: not stack.run_schedule_exists(run_id), timeout=10, what="the schedule to go")
    wait_for(lambda: stack.run(run_id)["steps"] == [], timeout=10, what="the queued step to go")


# --- interrupted and resume -----------------------------------------------------------------


def test_a_run_stopped_behind_the_engines_back_is_interrupted_and_resume_finishes_it_without_repeats(
    stack: StackClient, target: TargetServer
) -> None:
    # Given a run whose first node completed and which now waits in a long delay
    path = f"/ops-{tag()}"
    flow = stack.create_flow(
        [
            {"id": "charge", "type": "http_request", "method": "POST", "url": target.url(f"{path}/charge")},
            {"id": "pause", "type": "delay", "seconds": 3600},
            {"id": "notify", "type": "http_request", "method": "POST", "url": target.url(f"{path}/notify")},
        ]
    )
    run_id = stack.trigger(flow, {})
    running = wait_for(
        lambda: (
            (run := stack.run(run_id))["steps"]
            and any(s["nodeId"] == "pause" and s["status"] == "running" for s in run["steps"])
            and run
        ),
        timeout=30,
        what="the delay to wait",
    )
    # (Express ran the charge and handed the run off to Standard at the delay)
    express, standard = running["executions"]
    assert (express["machine"], express["outcome"], standard["machine"]) == ("express", "handed_off", "standard")
    # When its execution is stopped through Step Functions' API (as from the AWS console)
    stack.aws("stepfunctions").stop_execution(executionArn=standard["arn"], cause="console")
    # Then the run and the step in flight become interrupted; the completed step stays completed
    run = stack.wait_for_run(run_id, ("interrupted",), timeout=15)
    assert [(s["nodeId"], s["status"]) for s in run["steps"]][:2] == [("charge", "completed"), ("pause", "interrupted")]
    assert run["executions"][1]["outcome"] == "aborted"
    # When an operator resumes it
    answer = post(stack, f"/runs/{run_id}/resume")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"runId": run_id, "execution": f"{run_id}-r2"}
    # Then a second execution runs from the delay on and the run completes without charging again
    wait_for(
        lambda: step_of(stack.run(run_id), "pause")["status"] == "running",
        timeout=15,
        what="the resumed execution to wait in the delay again",
    )
    stack.advance("PT2H")  # the resumed delay waits its hour again, on the stack's clock
    done = stack.wait_for_run(run_id, timeout=30)
    assert done["status"] == "completed"
    assert len(target.calls(f"{path}/charge")) == 1 and len(target.calls(f"{path}/notify")) == 1
    assert [e["name"] for e in done["executions"]] == [run_id, f"{run_id}-r1", f"{run_id}-r2"]
    assert done["executions"][2]["startAt"] == "pause" and done["path"] == ["express", "standard", "standard"]
    resumed = next(h for h in done["history"] if h["status"] == "running" and h.get("cause"))
    assert resumed["cause"].startswith("resumed by an operator (apikey:")
    # each execution's AWS console link names its region and ARN (an Express one's, its start too)
    console = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#"
    assert done["executions"][2]["consoleUrl"] == f"{console}/v2/executions/details/{done['executions'][2]['arn']}"
    first = done["executions"][0]
    started = int(clock.parse_iso(first["startedAt"]).timestamp() * 1000)
    assert first["consoleUrl"] == f"{console}/express-executions/details/{first['arn']}?startDate={started}"
    # When it is resumed again Then 409 names its status
    again = post(stack, f"/runs/{run_id}/resume")
    assert again.status_code == 409 and "completed" in again.json()["error"]["message"]


# --- history filters, paging, spikes ---------------------------------------------------------


def manual_runs(client: StackClient, flow: dict[str, Any], times: list[str]) -> list[str]:
    """One manual run per time (due then: a time in the past starts at once)."""
    run_ids = []
    for at in times:
        answer = post(client, f"/flows/{flow['flowId']}/runs", {"at": at})
        assert answer.status_code == 202, answer.text
        run_ids.extend(answer.json()["runIds"])
    return run_ids


def read_all(client: StackClient, path: str, **query: Any) -> list[str]:
    """Every page of a listing, in order, with a small page size."""
    found, cursor = [], None
    for _ in range(100):
        params = {**query, "limit": 3, **({"cursor": cursor} if cursor else {})}
        answer = client.request("GET", path, params=params)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        found.extend(r["runId"] for r in page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return found
    raise AssertionError("paging never ended")


def test_history_pages_return_every_run_exactly_once_under_every_filter_combination(
    account: StackClient, target: TargetServer
) -> None:
    # Given two flows, one whose runs complete and one whose runs fail, due at known past times
    path = f"/ops-{tag()}"
    target.script(f"{path}/fail", 400)
    good = account.create_flow([{"id": "ok", "type": "set", "values": {"x": 1}}], name="good")
    bad = account.create_flow(
        [{"id": "call", "type": "http_request", "method": "POST", "url": target.url(f"{path}/fail")}], name="bad"
    )
    base = account.clock_now().replace(microsecond=0) - timedelta(hours=10)
    times = [clock.iso(base + timedelta(minutes=37 * i)) for i in range(7)]
    good_ids = manual_runs(account, good, times)
    bad_ids = manual_runs(account, bad, times[::2])
    every = good_ids + bad_ids
    runs = {run_id: account.wait_for_run(run_id, timeout=60) for run_id in every}
    due = {run_id: run["scheduledFor"] for run_id, run in runs.items()}
    status = {run_id: run["status"] for run_id, run in runs.items()}
    assert set(status.values()) == {"completed", "failed"}
    # When each listing is read page by page under each combination of filters
    bounds = [(None, None), (times[1], None), (None, times[5]), (times[1], times[5])]
    for flow_id, status_filter, (since, until) in itertools.product(
        [None, good["flowId"], bad["flowId"]], [None, "failed", "completed"], bounds
    ):
        query = {k: v for k, v in {"status": status_filter, "from": since, "to": until}.items() if v is not None}
        path_ = f"/flows/{flow_id}/runs" if flow_id else "/runs"
        listed = read_all(account, path_, **query)
        # Then every matching run appears exactly once, newest due first
        expected = [
            run_id
            for run_id in every
            if (flow_id is None or runs[run_id]["flowId"] == flow_id)
            and (status_filter is None or status[run_id] == status_filter)
            and (since is None or due[run_id] >= since)
            and (until is None or due[run_id] < until)
        ]
        assert sorted(listed) == sorted(expected), (flow_id, query)
        assert len(listed) == len(set(listed))
        assert [due[r] for r in listed] == sorted((due[r] for r in listed), reverse=True)
    # and bad bounds are refused by name
    answer = account.request("GET", "/runs", params={"from": times[5], "to": times[1]})
    assert answer.status_code == 422 and "'from' must be before 'to'" in answer.json()["error"]["message"]
    assert account.request("GET", "/runs", params={"from": "yesterday"}).status_code == 422


def test_the_cross_flow_list_and_the_summary_flag_a_failure_spike_and_bulk_re_trigger_replays_it(
    account: StackClient, target: TargetServer
) -> None:
    # Given a quiet flow and a flow whose CRM target fails six times in the last hour (none before)
    path = f"/ops-{tag()}"
    target.script(f"{path}/crm", 400)
    quiet = account.create_flow([{"id": "ok", "type": "set", "values": {"x": 1}}], name="quiet")
    crm = account.create_flow(
        [{"id": "sync", "type": "http_request", "method": "POST", "url": target.url(f"{path}/crm")}], name="crm sync"
    )
    quiet_ids = [account.trigger(quiet, {"n": n}) for n in range(2)]
    failed_ids = [account.trigger(crm, {"n": n}) for n in range(6)]
    for run_id in quiet_ids + failed_ids:
        account.wait_for_run(run_id, timeout=60)
    # When the operator reads the failed runs across flows and the last hour's summary
    failed = account.request("GET", "/runs", params={"status": "failed"}).json()["items"]
    summary = account.request("GET", "/ops/summary", params={"window": "PT1H"}).json()
    # Then the spike is there: six failures of one flow, each with its step and HTTP status
    assert sorted(r["runId"] for r in failed) == sorted(failed_ids)
    assert {(r["failedStep"]["nodeId"], r["failedStep"]["httpStatus"]) for r in failed} == {("sync", 400)}
    assert summary["account"]["current"] == {"completed": 2, "failed": 6} and summary["account"]["spike"]
    flows = {f["flowId"]: f for f in summary["flows"]}
    assert flows[crm["flowId"]]["spike"] and flows[crm["flowId"]]["name"] == "crm sync"
    assert not flows[quiet["flowId"]]["spike"] and summary["spikingFlows"] == 1
    assert summary["flows"][0]["flowId"] == crm["flowId"]  # spiking flows first
    # When the CRM is back and the failures are re-triggered in bulk, four per call
    target.script(f"{path}/crm", 200)
    replayed: dict[str, str] = {}
    body: dict[str, Any] = {"flowId": crm["flowId"], "errorType": "ExternalApiError", "limit": 4}
    while True:
        answer = post(account, "/runs/retrigger", body)
        assert answer.status_code == 200, answer.text
        outcome = answer.json()
        replayed.update({r["runId"]: r["newRunId"] for r in outcome["retriggered"]})
        if outcome["nextCursor"] is None:
            break
        body["cursor"] = outcome["nextCursor"]
    # Then every failure was replayed once, and the replays complete
    assert sorted(replayed) == sorted(failed_ids)
    for new_id in replayed.values():
        assert account.wait_for_run(new_id, timeout=60)["status"] == "completed"
    # When the same bulk call is made again Then nothing is replayed twice
    again = post(account, "/runs/retrigger", {"flowId": crm["flowId"], "limit": 100}).json()
    assert again["retriggered"] == [] and sorted(s["runId"] for s in again["skipped"]) == sorted(failed_ids)
    # and a filter that matches nothing answers zero
    none = post(account, "/runs/retrigger", {"errorType": "NoSuchError"}).json()
    assert (none["matched"], none["retriggered"], none["skipped"]) == (0, [], [])
