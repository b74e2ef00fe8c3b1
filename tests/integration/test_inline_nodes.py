"""Pure nodes (condition, set) run inline, where the task before them chooses the next node; and an
attempt's item is written once, when it ends (its start is on its step). Through the handlers on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain import clock
from automations.domain.interpreter import LifecycleTask
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.logic import executions, history, lifecycle
from automations.ports import StepUpdate
from tests.conftest import load_event
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run

RUN_ID = DEMO_RUN_ID


def http_task(node_id: str, step_number: int) -> dict[str, Any]:
    return {**load_event("http_request_node.json"), "nodeId": node_id, "stepNumber": step_number}


def started(repo: DynamoRepository, nodes: list[dict[str, Any]], handler_of, lambda_context) -> dict[str, Any]:
    """A run of ``nodes`` whose StartRun ran (as the state machine runs it); StartRun's answer."""
    seed_demo_run(repo, nodes, {"email": "ada@example.com"})
    return handler_of("RunLifecycleFunction")(load_event("run_lifecycle_start.json"), lambda_context)


def steps_of(repo: DynamoRepository) -> dict[str, Any]:
    return {view.step.node_id: view for view in history.get_run(repo, "acct_local", RUN_ID).steps}


def test_pure_nodes_after_a_task_run_inside_it_and_the_state_machine_goes_to_the_next_task(
    handler_of, lambda_context, repo, target
) -> None:
    # Given fetch (http) -> check (condition) -> note (set) -> tell (http)
    url = target.script("/inline/fetch", (200, {"plan": "pro"}))
    nodes = [
        {"id": "fetch", "type": "http_request", "url": url},
        {
            "id": "check",
            "type": "condition",
            "if": "steps.fetch.output.body.plan == 'pro'",
            "then": "note",
            "else": "tell",
        },
        {"id": "note", "type": "set", "values": {"plan": "{{ steps.fetch.output.body.plan }}"}},
        {"id": "tell", "type": "http_request", "url": url},
    ]
    started(repo, nodes, handler_of, lambda_context)
    # When the first node's task runs
    state = handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    # Then it hands the state machine the next node that calls out, numbered after the two pure steps
    assert state == {
        "runId": RUN_ID,
        "stepNumber": 4,
        "node": {"id": "tell", "type": "http_request", "task": "HttpRequest"},
    }
    steps = steps_of(repo)
    assert steps["check"].step.output == {"result": True, "next": "note"}
    assert (steps["note"].step.input, steps["note"].step.output) == ({"values": {"plan": "pro"}}, {"plan": "pro"})
    assert [(v.step.node_id, v.step.step_number, v.step.status) for v in steps.values()] == [
        ("fetch", 1, StepStatus.COMPLETED),
        ("check", 2, StepStatus.COMPLETED),
        ("note", 3, StepStatus.COMPLETED),
        ("tell", 4, StepStatus.SCHEDULED),  # next in line, for its Task state
    ]
    assert [a.status for a in steps["note"].attempts] == [AttemptStatus.COMPLETED]
    # and each step holds the attempt that ended it (no attempt item); an inline one is one write, its
    # history from when it was next in line (its predecessor ended); nothing is written for `tell` yet
    assert attempt_items() == []
    note = steps["note"].step
    assert note.ran_inline and [h.status for h in note.history] == ["scheduled", "running", "completed"]
    assert note.history[0].at == note.queued_at == steps["check"].step.ended_at
    assert "tell" not in {s.node_id for s in repo.get_run_detail(RUN_ID).steps}


def test_a_run_starting_at_a_pure_node_runs_it_at_start(handler_of, lambda_context, repo, target) -> None:
    # Given a flow that begins with a set node
    nodes = [
        {"id": "prepare", "type": "set", "values": {"n": 1}},
        {"id": "tell", "type": "http_request", "url": target.url("/x")},
    ]
    # When StartRun runs Then the set ran and the state machine goes to the request
    state = started(repo, nodes, handler_of, lambda_context)
    assert state["node"] == {"id": "tell", "type": "http_request", "task": "HttpRequest"} and state["stepNumber"] == 2
    assert steps_of(repo)["prepare"].step.output == {"n": 1}


def test_a_pure_node_that_fails_fails_its_step_and_the_run_goes_to_its_end(
    handler_of, lambda_context, repo, target
) -> None:
    # Given a condition reading a variable the request's answer does not have
    url = target.script("/inline/missing", (200, {"other": 1}))
    nodes = [
        {"id": "fetch", "type": "http_request", "url": url},
        {
            "id": "check",
            "type": "condition",
            "if": "steps.fetch.output.body.plan == 'pro'",
            "then": "tell",
            "else": "tell",
        },
        {"id": "tell", "type": "http_request", "url": url},
    ]
    started(repo, nodes, handler_of, lambda_context)
    # When the request's task runs
    state = handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    # Then the task itself succeeded (its node did) and the run goes to its end with the condition failed
    assert state["node"] == {"type": "end", "task": "EndRun"}
    steps = steps_of(repo)
    assert steps["fetch"].step.status == StepStatus.COMPLETED
    check = steps["check"]
    assert (check.step.status, check.step.error.type) == (StepStatus.FAILED, "MissingVariable")
    assert [(a.status, a.error.type) for a in check.attempts] == [(AttemptStatus.FAILED, "MissingVariable")]
    assert "tell" not in steps  # never reached
    # and a retried invocation of the request's task ends the run the same way, recording nothing more
    assert handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context) == state
    assert len(steps_of(repo)["check"].attempts) == 1 and len(target.calls("/inline/missing")) == 1


def test_a_pure_node_that_fails_with_on_error_continue_goes_on(handler_of, lambda_context, repo, target) -> None:
    nodes = [
        {"id": "fetch", "type": "http_request", "url": target.script("/inline/continue", 200)},
        {"id": "note", "type": "set", "values": {"v": "{{ steps.fetch.output.body.nothing }}"}, "onError": "continue"},
        {"id": "tell", "type": "http_request", "url": target.url("/x")},
    ]
    started(repo, nodes, handler_of, lambda_context)
    state = handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    assert state["node"]["id"] == "tell" and state["stepNumber"] == 3
    assert steps_of(repo)["note"].step.status == StepStatus.FAILED


def attempt_items() -> list[dict[str, Any]]:
    response = boto3.client("dynamodb").query(
        TableName="automations-test",
        KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
        ExpressionAttributeValues={":p": {"S": f"RUN#{RUN_ID}"}, ":a": {"S": "ATTEMPT#"}},
    )
    return response["Items"]


def test_an_attempt_in_flight_is_read_from_its_step_and_is_written_once_when_it_ends(
    repo, handler_of, lambda_context, target
) -> None:
    # Given a run whose first node's attempt was claimed (step -> running) and has not ended
    nodes = [{"id": "fetch", "type": "http_request", "url": target.script("/inline/claim", 200)}]
    started(repo, nodes, handler_of, lambda_context)
    claimed_at = clock.iso(clock.now())
    claim = repo.begin_attempt(
        run_id=RUN_ID, node_id="fetch", node_type="http_request", step_number=1, queued_at=claimed_at, at=claimed_at
    )
    # Then nothing but the step was written for it, and the run's history shows it running since the claim
    assert claim.number == 1 and attempt_items() == []
    (running,) = steps_of(repo)["fetch"].attempts
    assert (running.attempt, running.status, running.started_at) == (1, AttemptStatus.RUNNING, claimed_at)
    # When its invocation is lost and the next one runs the node Then the lost one is closed with its start
    handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    lost, done = steps_of(repo)["fetch"].attempts
    assert (lost.status, lost.error.type, lost.started_at) == (AttemptStatus.FAILED, "AttemptLost", claimed_at)
    assert done.status == AttemptStatus.COMPLETED and done.started_at >= claimed_at
    # the lost one in an item of its own; the one that completed the step on the step, in the same write
    assert [item["sk"]["S"] for item in attempt_items()] == ["ATTEMPT#fetch#0001"]


@pytest.mark.parametrize("number", [0, 3])
def test_an_attempt_number_with_no_claim_has_no_start(repo, handler_of, lambda_context, target, number) -> None:
    nodes = [{"id": "fetch", "type": "http_request", "url": target.script("/inline/none", 200)}]
    started(repo, nodes, handler_of, lambda_context)
    handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    step = steps_of(repo)["fetch"].step
    assert step.attempt_started_at(1) is not None and step.attempt_started_at(number) is None


def test_a_retried_invocation_of_a_completed_node_goes_on_from_its_step_without_calling_again(
    handler_of, lambda_context, repo, target
) -> None:
    # Given a request followed by a condition that runs inline, whose task completed both
    url = target.script("/inline/once", (200, {"plan": "free"}))
    nodes = [
        {"id": "fetch", "type": "http_request", "url": url},
        {"id": "check", "type": "condition", "if": "steps.fetch.output.body.plan == 'pro'", "then": "a", "else": "b"},
        {"id": "a", "type": "http_request", "url": target.url("/a")},
        {"id": "b", "type": "http_request", "url": target.url("/b")},
    ]
    started(repo, nodes, handler_of, lambda_context)
    first = handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    # When the state machine retries the task (its answer was lost: a timeout or a crash after it)
    again = handler_of("HttpRequestFunction")(http_task("fetch", 1), lambda_context)
    # Then it answers the same next state, from what was recorded, and nothing was called twice
    assert again == first and first["node"]["id"] == "b"
    assert len(target.calls("/inline/once")) == 1
    steps = steps_of(repo)
    assert [len(steps[n].attempts) for n in ("fetch", "check")] == [1, 1]
    assert steps["check"].step.next_node == "b"


def test_a_run_resumed_at_a_pure_node_its_execution_left_interrupted_runs_it_over_that_step(
    handler_of, lambda_context, repo, target
) -> None:
    # Given a run interrupted at a condition (an execution that ended mid-way left its step interrupted)
    nodes = [
        {
            "id": "check",
            "type": "condition",
            "if": "trigger.body.email == 'ada@example.com'",
            "then": "tell",
            "else": "tell",
        },
        {"id": "tell", "type": "http_request", "url": target.url("/resume")},
    ]
    seed_demo_run(repo, nodes, {"email": "ada@example.com"})
    assert repo.transition_run(RUN_ID, RunStatus.RUNNING) and repo.transition_run(RUN_ID, RunStatus.INTERRUPTED)
    assert repo.update_step(
        run_id=RUN_ID, node_id="check", node_type="condition", update=StepUpdate(status=StepStatus.INTERRUPTED)
    )
    # When it is resumed there and its new execution starts
    execution = executions.request_execution(repo, run_id=RUN_ID, start_at="check", reason="resumed by a test")
    state = lifecycle.start(repo, LifecycleTask(action="start", run_id=RUN_ID, execution_name=execution.name))
    # Then the condition ran inline over the interrupted step, keeping what happened to it before
    assert state.node.id == "tell"
    check = steps_of(repo)["check"].step
    assert check.status == StepStatus.COMPLETED and [h.status for h in check.history][-3:] == [
        "interrupted",
        "running",
        "completed",
    ]


def test_a_runs_trigger_is_read_once_per_process_by_its_node_tasks(
    repo, handler_of, lambda_context, target, monkeypatch
) -> None:
    # Given a run of two nodes that both post the trigger's email
    url = target.script("/inline/trigger", 200, 200)
    body = {"to": "{{ trigger.body.email }}"}
    nodes = [{"id": f"call{n}", "type": "http_request", "method": "POST", "url": url, "body": body} for n in (1, 2)]
    started(repo, nodes, handler_of, lambda_context)
    reads: list[str] = []
    real_get_item = repo.client.get_item

    def counted(**request: Any) -> Any:
        reads.append(request["Key"]["pk"]["S"])
        return real_get_item(**request)

    monkeypatch.setattr(repo.client, "get_item", counted)
    # When both node tasks run in this process
    handler_of("HttpRequestFunction")(http_task("call1", 1), lambda_context)
    handler_of("HttpRequestFunction")(http_task("call2", 2), lambda_context)
    # Then each posted the trigger's email, and the trigger item was read once (it never changes)
    assert [json.loads(call["body"]) for call in target.calls("/inline/trigger")] == [{"to": "ada@example.com"}] * 2
    assert sum(1 for pk in reads if pk.startswith("TRIGGER#")) == 1
