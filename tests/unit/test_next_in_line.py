"""The step next in line is derived where it is read, never written: which node, its number, since when."""

from __future__ import annotations

import pytest

from automations.domain.runs import Execution, Run, Step
from automations.domain.status import RunStatus, StepStatus
from automations.flows.definition import FlowDefinition
from automations.logic.steps import next_in_line, queued_at

RECORDED = "2026-01-01T00:00:00.000Z"
FIRST_ENDED = "2026-01-01T00:00:05.000Z"

# fetch -> check (condition: then tell, else note) ; note (on error: continue) -> tell
FLOW = FlowDefinition.model_validate(
    {
        "name": "x",
        "trigger": {"type": "webhook"},
        "nodes": [
            {"id": "fetch", "type": "http_request", "url": "http://127.0.0.1:9/x"},
            {"id": "check", "type": "condition", "if": "true", "then": "tell", "else": "note"},
            {"id": "note", "type": "http_request", "url": "http://127.0.0.1:9/n", "onError": "continue"},
            {"id": "tell", "type": "send_email", "to": "a@b.c", "subject": "s", "text": "b"},
        ],
    }
)


def run(status: RunStatus = RunStatus.RUNNING) -> Run:
    return Run(
        run_id="r",
        account_id="a",
        flow_id="f",
        flow_version=1,
        trigger_id="t",
        status=status,
        created_at=RECORDED,
        scheduled_for=RECORDED,
        current_execution="r",
    )


def execution(start_at: str | None = None, first_step_number: int = 1) -> Execution:
    return Execution(
        run_id="r",
        name="r",
        ordinal=0,
        start_at=start_at,
        first_step_number=first_step_number,
        due_at=RECORDED,
        requested_at=RECORDED,
    )


def step(node_id: str, number: int, status: StepStatus, **fields) -> Step:
    node_type = FLOW.node(node_id).type
    return Step(run_id="r", node_id=node_id, node_type=node_type, step_number=number, status=status, **fields)


def test_a_run_not_started_yet_has_its_first_node_next_in_line_since_it_was_recorded() -> None:
    # Given a scheduled run with no step, When its history is read
    queued = next_in_line(run(RunStatus.SCHEDULED), [], execution(), FLOW)
    # Then the flow's first node is next, step 1, `scheduled` since the run was recorded
    assert queued is not None
    assert (queued.node_id, queued.node_type, queued.step_number, queued.status) == (
        "fetch",
        "http_request",
        1,
        StepStatus.SCHEDULED,
    )
    assert queued.queued_at == RECORDED and [(h.status, h.at) for h in queued.history] == [("scheduled", RECORDED)]


def test_after_a_completed_step_the_node_it_leads_to_is_next_since_it_ended() -> None:
    # Given fetch completed, When read Then check is next, numbered after it, since fetch ended
    done = step("fetch", 1, StepStatus.COMPLETED, ended_at=FIRST_ENDED)
    queued = next_in_line(run(), [done], execution(), FLOW)
    assert queued is not None and (queued.node_id, queued.step_number, queued.queued_at) == ("check", 2, FIRST_ENDED)


def test_a_condition_leads_to_the_branch_it_chose() -> None:
    steps = [
        step("fetch", 1, StepStatus.COMPLETED, ended_at=FIRST_ENDED),
        step("check", 2, StepStatus.COMPLETED, ended_at=FIRST_ENDED, next_node="note"),
    ]
    queued = next_in_line(run(), steps, execution(), FLOW)
    assert queued is not None and (queued.node_id, queued.step_number) == ("note", 3)


@pytest.mark.parametrize(
    ("failed", "expected"),
    [("fetch", None), ("note", "tell")],  # the run ends there; `onError: continue` goes on
)
def test_after_a_failed_step_the_run_goes_on_only_past_a_node_that_continues_on_error(failed, expected) -> None:
    steps = [step(failed, 1, StepStatus.FAILED, ended_at=FIRST_ENDED)]
    queued = next_in_line(run(), steps, execution(), FLOW)
    assert (queued.node_id if queued else None) == expected


@pytest.mark.parametrize("status", [StepStatus.RUNNING, StepStatus.RETRYING, StepStatus.INTERRUPTED])
def test_no_node_is_next_while_a_step_goes_on(status) -> None:
    steps = [step("fetch", 1, StepStatus.COMPLETED, ended_at=FIRST_ENDED), step("check", 2, status)]
    assert next_in_line(run(), steps, execution(), FLOW) is None


@pytest.mark.parametrize("status", [RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED])
def test_an_ended_run_has_nothing_next_in_line(status) -> None:
    # (it used to keep a queued step until the stream dropped it)
    assert next_in_line(run(status), [], execution(), FLOW) is None


def test_a_run_at_its_last_node_has_nothing_next() -> None:
    steps = [step("tell", 1, StepStatus.COMPLETED, ended_at=FIRST_ENDED)]
    assert next_in_line(run(), steps, execution(), FLOW) is None


def test_a_run_starting_at_a_later_node_has_that_node_next_after_its_carried_steps() -> None:
    # Given a re-triggered run starting at `tell`, carrying fetch's step (ended before it was recorded)
    carried = step("fetch", 1, StepStatus.COMPLETED, ended_at="2025-12-31T00:00:00.000Z")
    queued = next_in_line(run(RunStatus.SCHEDULED), [carried], execution("tell", first_step_number=2), FLOW)
    # Then `tell` is next, numbered after the carried step, since the new run was recorded
    assert queued is not None and (queued.node_id, queued.step_number, queued.queued_at) == ("tell", 2, RECORDED)
    assert queued_at(run(), [carried], 2) == RECORDED
