"""Operators piece by piece on moto, through the API handler and the stream's reactions: cancel and
its reaction, resume, re-trigger's carried steps, the in-flight liveness sweep, history bounds and
cursors, and the spike summary (the end-to-end versions: tests/e2e/test_operators.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain import clock
from automations.domain.interpreter import LifecycleTask
from automations.domain.runs import Attempt, ErrorInfo, HttpExchange, Step
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.logic import ended_executions, lifecycle, liveness, rollup
from automations.logic.change_router import TableChange
from automations.logic.ops_summary import is_spike
from automations.logic.reactions import ROUTER
from automations.logic.sweeper import sweep
from automations.ports import StepUpdate
from tests.conftest import EXPRESS_MACHINE
from tests.integration.conftest import api_event
from tests.integration.test_time_engine import item
from tests.support.fakes import RecordingWorkflows


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The engine's clock, set by the test: ``at(moment)``."""
    now = {"value": clock.now()}

    def move(moment: datetime) -> None:
        now["value"] = moment

    clock.use_source(lambda: now["value"])
    yield move
    clock.use_source(None)


def create_flow(api, nodes: list[dict[str, Any]], name: str = "ops") -> str:
    body = {"name": name, "trigger": {"type": "webhook"}, "nodes": nodes}
    status, flow = api(api_event("api_create_flow.json", body=body))
    assert status == 201, flow
    return flow["flowId"]


def manual_run(api, flow_id: str, at: str | None = None) -> str:
    body = {"data": {"n": 1}, **({"at": at} if at else {})}
    status, answer = api(api_event("api_create_flow.json", path=f"/flows/{flow_id}/runs", body=body))
    assert status == 202, answer
    return answer["runIds"][0]


def start(repo: DynamoRepository, run_id: str, workflows: RecordingWorkflows) -> None:
    """The interpreter's StartRun, as Step Functions would run it once the stream started the execution."""
    workflows.start(name=run_id, run_id=run_id)
    lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))


def post(api, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
    return api(api_event("api_create_flow.json", path=path, body=body, **kwargs))


def modified(before: dict[str, Any], after_key: dict[str, str]) -> TableChange:
    return TableChange(event="MODIFY", new=item(after_key), old=before)


# two nodes with Task states of their own (a `set` would run inline at StartRun); nothing here calls them
TWO_TASKS = [
    {"id": "first", "type": "http_request", "url": "http://127.0.0.1:9/first"},
    {"id": "second", "type": "http_request", "url": "http://127.0.0.1:9/second"},
]


def test_cancelling_a_running_run_records_who_and_why_and_the_stream_stops_its_execution(
    api, repo, deps, workflows
) -> None:
    # Given a running run whose first step is in flight
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    start(repo, run_id, workflows)
    now = clock.iso(clock.now())
    repo.begin_attempt(run_id=run_id, node_id="first", node_type="http_request", step_number=1, queued_at=now, at=now)
    before = item(keys.run(run_id))
    # When an operator cancels it with a reason
    status, answer = post(api, f"/runs/{run_id}/cancel", {"reason": "duplicate order"})
    # Then it is cancelled, with the reason and the key's id in its history, and out of the InFlight index
    assert (status, answer) == (202, {"runId": run_id, "status": "cancelled"})
    after = item(keys.run(run_id))
    assert after["history"][-1]["cause"] == "cancelled by an operator: duplicate order"
    assert after["history"][-1]["by"].startswith("apikey:") and "inFlightPk" not in after
    # When the stream delivers the change Then its execution is stopped and the step in flight interrupted
    done = ROUTER.route(modified(before, keys.run(run_id)), deps)
    assert done[0] == "stop_cancelled_run: execution stopped; 1 steps interrupted"
    assert workflows.stopped == [run_id]
    step = repo.get_run_and_steps(run_id)[1][0]
    assert (step.status, step.error.type) == (StepStatus.INTERRUPTED, "RunCancelled")
    # When the stopped execution's end arrives Then the run stays cancelled
    ended_executions.execution_ended(repo, run_id=run_id, name=run_id, status="ABORTED")
    execution_key = keys.execution(run_id, run_id)
    ROUTER.route(TableChange(event="MODIFY", new=item(execution_key), old={}), deps)
    assert repo.get_run(run_id).status == RunStatus.CANCELLED
    # and a node task of the stopped execution that still runs does nothing
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id))
    assert state.node.type == "end"


def test_cancel_answers_409_for_a_finished_run_404_for_another_accounts_and_422_for_a_long_reason(
    api, repo, workflows
) -> None:
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    assert repo.transition_run(run_id, RunStatus.RUNNING) and repo.transition_run(run_id, RunStatus.COMPLETED)
    status, answer = post(api, f"/runs/{run_id}/cancel")
    assert status == 409 and answer["error"]["message"].startswith(f"run '{run_id}' is completed")
    assert post(api, f"/runs/{run_id}/cancel", key="other-account-key")[0] == 404
    assert post(api, f"/runs/{run_id}/cancel", {"reason": "x" * 501})[0] == 422


def test_resume_asks_for_a_new_execution_at_the_interrupted_step_keeping_its_number(api, repo, workflows) -> None:
    # Given a run interrupted at its second step
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    start(repo, run_id, workflows)
    now = clock.iso(clock.now())
    repo.begin_attempt(run_id=run_id, node_id="first", node_type="http_request", step_number=1, queued_at=now, at=now)
    repo.begin_attempt(run_id=run_id, node_id="second", node_type="http_request", step_number=2, queued_at=now, at=now)
    assert repo.transition_run(run_id, RunStatus.INTERRUPTED)
    ended_executions.execution_ended(repo, run_id=run_id, name=run_id, status="TIMED_OUT")
    for node_id, status in (("first", StepStatus.COMPLETED), ("second", StepStatus.INTERRUPTED)):
        repo.update_step(run_id=run_id, node_id=node_id, node_type="http_request", update=StepUpdate(status=status))
    # When an operator resumes it
    status, answer = post(api, f"/runs/{run_id}/resume")
    # Then a second execution is requested at the interrupted step, which keeps its step number
    assert (status, answer) == (202, {"runId": run_id, "execution": f"{run_id}-r1"})
    execution = repo.get_execution(run_id, f"{run_id}-r1")
    assert (execution.start_at, execution.first_step_number, execution.ordinal) == ("second", 2, 1)
    assert execution.reason.startswith("resumed by an operator (apikey:")
    # and a second resume before it started is refused: the run is not interrupted any more once it runs
    lifecycle.start(repo, LifecycleTask(action="start", run_id=run_id, execution_name=f"{run_id}-r1"))
    status, answer = post(api, f"/runs/{run_id}/resume")
    assert status == 409 and "is running" in answer["error"]["message"]


def test_resume_refuses_a_finished_run_and_points_a_failed_one_to_re_trigger_from_its_failed_step(
    api, repo, workflows
) -> None:
    # Given a completed run and a failed one
    flow_id = create_flow(api, TWO_TASKS)
    completed, failed = manual_run(api, flow_id), manual_run(api, flow_id)
    for run_id, final in ((completed, RunStatus.COMPLETED), (failed, RunStatus.FAILED)):
        assert repo.transition_run(run_id, RunStatus.RUNNING) and repo.transition_run(run_id, final)
    # When an operator resumes each Then both are refused with their status
    status, answer = post(api, f"/runs/{completed}/resume")
    assert (status, answer["error"]["message"]) == (
        409,
        f"run '{completed}' is completed; only an interrupted run can be resumed",
    )
    status, answer = post(api, f"/runs/{failed}/resume")
    assert status == 409 and answer["error"]["message"].startswith(f"run '{failed}' is failed;")
    # and the failed one's answer names the call that continues it from its failed step
    assert 're-trigger it with {"fromStep": "failed"}' in answer["error"]["message"]
    assert repo.get_run(failed).status == RunStatus.FAILED


def test_runs_in_flight_whose_execution_is_gone_end_interrupted_and_live_ones_are_checked_again_later(
    api, repo, deps, workflows, at
) -> None:
    # Given three running runs: one whose execution lives, one aborted without an event, one unknown
    start_time = clock.now()
    flow_id = create_flow(api, TWO_TASKS)
    alive, aborted, unknown = (manual_run(api, flow_id) for _ in range(3))
    for run_id in (alive, aborted, unknown):
        start(repo, run_id, workflows)
    workflows.statuses[aborted] = "ABORTED"
    del workflows.statuses[unknown]
    # When the sweeper runs before their first check is due Then it asks Step Functions nothing
    at(start_time + timedelta(minutes=5))
    assert (sweep(repo, workflows).checked, workflows.described) == (0, [])
    # When it runs after Then it asks about each once and records the two ends
    at(start_time + liveness.LIVENESS_CHECK_INTERVAL + timedelta(minutes=1))
    result = sweep(repo, workflows)
    assert (result.checked, result.interrupted) == (3, 2)
    assert sorted(workflows.described) == sorted([alive, aborted, unknown])
    assert repo.get_execution(aborted, aborted).error.message == "Step Functions reports the execution ABORTED"
    assert repo.get_execution(unknown, unknown).error.message == "no execution of this name exists"
    # and the stream then makes those runs interrupted, leaving InFlight
    for run_id in (aborted, unknown):
        ROUTER.route(TableChange(event="MODIFY", new=item(keys.execution(run_id, run_id)), old={}), deps)
        assert repo.get_run(run_id).status == RunStatus.INTERRUPTED
        assert "inFlightPk" not in item(keys.run(run_id))
    # When it runs again a minute later Then the live run is not asked about again until its next check
    workflows.described.clear()
    at(start_time + liveness.LIVENESS_CHECK_INTERVAL + timedelta(minutes=2))
    assert sweep(repo, workflows).checked == 0
    at(start_time + 2 * liveness.LIVENESS_CHECK_INTERVAL + timedelta(minutes=2))
    assert (sweep(repo, workflows).checked, workflows.described) == (1, [alive])


def express_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:123456789012:express:{EXPRESS_MACHINE}:{name}:5e1d"


def start_on_express(repo: DynamoRepository, run_id: str) -> None:
    task = LifecycleTask(action="start", run_id=run_id, execution_name=run_id, execution_arn=express_arn(run_id))
    lifecycle.start(repo, task)


def test_an_express_execution_is_never_described_and_is_gone_once_older_than_express_lets_one_live(
    api, repo, deps, workflows, at
) -> None:
    # Given a run on Express that recorded no end, and one that handed off to a live Standard execution
    start_time = clock.now()
    flow_id = create_flow(api, TWO_TASKS)
    lost, handed = manual_run(api, flow_id), manual_run(api, flow_id)
    for run_id in (lost, handed):
        start_on_express(repo, run_id)
    state = {"runId": handed, "stepNumber": 1, "node": {"id": "first", "type": "http_request", "task": "HandOff"}}
    handing = LifecycleTask(
        action="hand_off", run_id=handed, execution_name=handed, execution_arn=express_arn(handed), state=state
    )
    assert lifecycle.hand_off_to_standard(repo, handing) == {"runId": handed, "handedOffTo": f"{handed}-r1"}
    standard = f"{handed}-r1"
    workflows.start(name=standard, run_id=handed)
    lifecycle.start(repo, LifecycleTask(action="start", run_id=handed, execution_name=standard))
    # When the sweeper checks them
    at(start_time + liveness.LIVENESS_CHECK_INTERVAL + timedelta(minutes=1))
    result = sweep(repo, workflows)
    # Then only the Standard execution was described; the Express one, never reporting, is gone
    assert (result.checked, result.interrupted) == (2, 1)
    assert workflows.described == [standard]
    ended = repo.get_execution(lost, lost)
    assert (ended.outcome, ended.error.message) == ("timed_out", liveness.EXPRESS_GONE)
    ROUTER.route(TableChange(event="MODIFY", new=item(keys.execution(lost, lost)), old={}), deps)
    assert repo.get_run(lost).status == RunStatus.INTERRUPTED
    # and the handed-off run runs on under its Standard execution, its path saying so
    run = repo.get_run(handed)
    assert (run.status, run.current_execution, run.path) == (RunStatus.RUNNING, standard, ["express", "standard"])


def test_a_hand_off_is_refused_once_the_run_moved_on_and_the_execution_just_ends(api, repo) -> None:
    # Given a run on Express that an operator cancelled
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    start_on_express(repo, run_id)
    assert repo.transition_run(run_id, RunStatus.CANCELLED, cause="cancelled by an operator")
    # When its execution reaches HandOff
    state = {"runId": run_id, "stepNumber": 1, "node": {"id": "first", "type": "http_request", "task": "HandOff"}}
    task = LifecycleTask(
        action="hand_off", run_id=run_id, execution_name=run_id, execution_arn=express_arn(run_id), state=state
    )
    answer = lifecycle.hand_off_to_standard(repo, task)
    # Then nothing is handed off: the execution ends as having reached its end, no second one asked for
    assert answer["runId"] == run_id and "handedOffTo" not in answer
    (execution,) = repo.get_run_detail(run_id).executions
    assert execution.outcome == "reached_end"


def test_a_second_express_execution_of_the_same_name_neither_runs_the_run_nor_records_its_end(api, repo) -> None:
    # Given a run its Express execution started
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    start_on_express(repo, run_id)
    # When a second execution of the name (another ARN) starts and ends
    second = f"{express_arn(run_id)}-again"
    started = lifecycle.start(
        repo, LifecycleTask(action="start", run_id=run_id, execution_name=run_id, execution_arn=second)
    )
    lifecycle.end(repo, LifecycleTask(action="end", run_id=run_id, execution_name=run_id, execution_arn=second))
    # Then it pointed at no node, and the execution is still the first one's, not ended
    assert started.node.id is None
    execution = repo.get_execution(run_id, run_id)
    assert (execution.arn, execution.outcome, execution.machine) == (express_arn(run_id), None, "express")
    assert repo.get_run(run_id).status == RunStatus.RUNNING


def test_a_second_express_execution_of_the_same_name_cannot_hand_the_run_off(api, repo) -> None:
    # Given a run its Express execution started (the run holds the claim: its execution has no item yet)
    flow_id = create_flow(api, TWO_TASKS)
    run_id = manual_run(api, flow_id)
    start_on_express(repo, run_id)
    state = {"runId": run_id, "stepNumber": 1, "node": {"id": "first", "type": "http_request", "task": "HandOff"}}

    def hand_off(arn: str) -> dict:
        task = LifecycleTask(action="hand_off", run_id=run_id, execution_name=run_id, execution_arn=arn, state=state)
        return lifecycle.hand_off_to_standard(repo, task)

    # When a second execution of the name (another ARN) reaches HandOff
    assert "handedOffTo" not in hand_off(f"{express_arn(run_id)}-again")
    # Then nothing moved: the run runs on under the first, whose end is not recorded
    run = repo.get_run(run_id)
    assert (run.status, run.current_execution, run.path) == (RunStatus.RUNNING, run_id, ["express"])
    execution = repo.get_execution(run_id, run_id)
    assert (execution.arn, execution.outcome) == (express_arn(run_id), None)
    # And when the first reaches it, the run is handed off and its execution's item written whole
    assert hand_off(express_arn(run_id)) == {"runId": run_id, "handedOffTo": f"{run_id}-r1"}
    handed = repo.get_execution(run_id, run_id)
    assert (handed.arn, handed.outcome, handed.started_at) == (express_arn(run_id), "handed_off", run.started_at)


def test_a_cursor_is_refused_under_other_bounds_and_from_must_come_before_to(api) -> None:
    # Given a page of a flow's history with a cursor
    flow_id = create_flow(api, TWO_TASKS)
    base = clock.now() - timedelta(hours=5)
    for hours in range(4):
        manual_run(api, flow_id, clock.iso(base + timedelta(hours=hours)))
    path = f"/flows/{flow_id}/runs"
    status, page = api(api_event("api_list_runs.json", path=path, query={"limit": "2"}))
    assert status == 200 and page["nextCursor"]
    # When it is used with bounds that exclude where it points Then 400, not an error of the engine
    query = {"limit": "2", "cursor": page["nextCursor"], "to": clock.iso(base + timedelta(minutes=30))}
    status, answer = api(api_event("api_list_runs.json", path=path, query=query))
    assert status == 400 and answer["error"]["type"] == "InvalidCursor"
    # and reversed bounds are refused by name
    query = {"from": clock.iso(base + timedelta(hours=2)), "to": clock.iso(base)}
    status, answer = api(api_event("api_list_runs.json", path="/runs", query=query))
    assert status == 422 and answer["error"]["message"] == "'from' must be before 'to'"


def test_the_summary_counts_the_window_and_the_one_before_and_flags_only_jumps(api, repo) -> None:
    # Given a flow with 2 failures 90 minutes ago and 6 in the last hour, and one with 4 failures now
    jumping, steady = create_flow(api, TWO_TASKS, "jumping"), create_flow(api, TWO_TASKS, "steady")
    now = clock.now()
    earlier = [manual_run(api, jumping, clock.iso(now - timedelta(minutes=90 + i))) for i in range(2)]
    recent = [manual_run(api, jumping, clock.iso(now - timedelta(minutes=5 + i))) for i in range(6)]
    steady_runs = [manual_run(api, steady, clock.iso(now - timedelta(minutes=5 + i))) for i in range(4)]
    for run_id in earlier + recent + steady_runs:
        assert repo.transition_run(run_id, RunStatus.RUNNING) and repo.transition_run(run_id, RunStatus.FAILED)
    # When the last hour is summarized
    status, summary = api(api_event("api_list_runs.json", path="/ops/summary", query={"window": "PT1H"}))
    # Then each window is counted by status, and only the flow whose failures tripled (and >= 5) spikes
    assert status == 200, summary
    flows = {f["name"]: f for f in summary["flows"]}
    assert (flows["jumping"]["current"], flows["jumping"]["previous"], flows["jumping"]["spike"]) == (
        {"failed": 6},
        {"failed": 2},
        True,
    )
    assert (flows["steady"]["current"], flows["steady"]["spike"]) == ({"failed": 4}, False)
    assert summary["account"] == {"current": {"failed": 10}, "previous": {"failed": 2}, "spike": True}
    assert summary["spikingFlows"] == 1 and summary["rule"].startswith("failed runs in the window >= 5")
    # and windows outside PT1M..P7D, or not durations, are refused
    for window in ("PT30S", "P8D", "hourly"):
        assert api(api_event("api_list_runs.json", path="/ops/summary", query={"window": window}))[0] == 422


def test_the_spike_rule() -> None:
    assert is_spike(5, 0) and is_spike(6, 2) and is_spike(9, 3)
    assert not is_spike(4, 0) and not is_spike(5, 2) and not is_spike(8, 3)


def test_a_failed_runs_failed_step_names_the_first_failure_and_its_last_http_status() -> None:
    def step(node_id: str, number: int, status: StepStatus, error: str | None = None) -> Step:
        info = ErrorInfo(type=error, message=f"{error} at {node_id}") if error else None
        return Step(
            run_id="r", node_id=node_id, node_type="http_request", step_number=number, status=status, error=info
        )

    def attempt(node_id: str, number: int, http_status: int) -> Attempt:
        http = HttpExchange(request={}, response={"status": http_status})
        return Attempt(
            run_id="r", node_id=node_id, attempt=number, status=AttemptStatus.FAILED, started_at="t", http=http
        )

    steps = [
        step("c", 3, StepStatus.FAILED, "TransientError"),
        step("a", 1, StepStatus.COMPLETED),
        step("b", 2, StepStatus.FAILED, "ExternalApiError"),
    ]
    attempts = [attempt("b", 2, 422), attempt("b", 1, 503), attempt("c", 1, 500)]
    failed = rollup.failed_step(steps, attempts)
    assert failed is not None
    assert (failed.node_id, failed.error_type, failed.http_status) == ("b", "ExternalApiError", 422)
    assert rollup.failed_step(steps[1:2], attempts) is None
