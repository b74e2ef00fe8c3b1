"""The run's status derived from its steps: in flight, and honest at the end."""

from __future__ import annotations

import pytest

from automations.domain.runs import ErrorInfo, Execution, ExecutionOutcome, Step
from automations.domain.status import RunStatus, StepStatus
from automations.logic import rollup
from automations.logic.lifecycle import error_from_catch


def execution(outcome: ExecutionOutcome = ExecutionOutcome.REACHED_END, **fields) -> Execution:
    at = "2026-01-01T00:00:00.000Z"
    return Execution(run_id="r", name="r", ordinal=0, due_at=at, requested_at=at, outcome=outcome, **fields)


def step(node_id: str, status: StepStatus) -> Step:
    return Step(run_id="r", node_id=node_id, node_type="http_request", step_number=1, status=status, started_at="x")


_S, _R = StepStatus, RunStatus


@pytest.mark.parametrize(
    ("old", "new", "run_status"),
    [
        # what moves the run: a change of what its step in flight calls for
        (_S.RUNNING, _S.RETRYING, _R.RETRYING),
        (_S.RETRYING, _S.RUNNING, _R.RUNNING),
        (_S.RETRYING, _S.FAILED, _R.RUNNING),  # retries exhausted: the run goes on (or ends) from here
        (_S.RUNNING, _S.INTERRUPTED, _R.INTERRUPTED),
        (_S.SCHEDULED, _S.INTERRUPTED, _R.INTERRUPTED),
        (_S.INTERRUPTED, _S.RUNNING, _R.RUNNING),  # resumed
        (None, _S.INTERRUPTED, _R.INTERRUPTED),
        # what does not: the run is `running` already, so no write is spent on it
        (_S.SCHEDULED, _S.RUNNING, None),
        (None, _S.RUNNING, None),  # a step that runs inline begins without being queued
        (_S.RUNNING, _S.COMPLETED, None),
        (_S.RUNNING, _S.FAILED, None),
        (None, _S.FAILED, None),
        (None, _S.SCHEDULED, None),  # queued
    ],
)
def test_a_step_change_moves_the_run_only_when_it_calls_for_another_status(
    old: StepStatus | None, new: StepStatus, run_status: RunStatus | None
) -> None:
    # Given a step moving from `old` to `new` / When the roll-up reads it / Then the run moves (or not)
    assert rollup.run_status_for_step(old, new) == run_status


def test_all_steps_completed_means_completed() -> None:
    steps = [step("a", StepStatus.COMPLETED), step("b", StepStatus.COMPLETED)]
    assert rollup.final_status(execution(), steps) == RunStatus.COMPLETED
    assert rollup.step_counts(steps).completed == 2


def test_a_failed_step_fails_the_run_even_if_later_steps_completed() -> None:
    steps = [step("a", StepStatus.FAILED), step("b", StepStatus.COMPLETED)]
    assert rollup.final_status(execution(), steps) == RunStatus.FAILED
    counts = rollup.step_counts(steps)
    assert (counts.completed, counts.failed) == (1, 1)


def test_an_engine_error_fails_the_run_even_when_every_step_completed() -> None:
    errored = execution(ExecutionOutcome.ENGINE_ERROR, error=ErrorInfo(type="States.Runtime", message="boom"))
    assert rollup.final_status(errored, [step("a", StepStatus.COMPLETED)]) == RunStatus.FAILED


def test_a_catch_blocks_cause_yields_the_lambda_error_message() -> None:
    error = error_from_catch({"Error": "TransientError", "Cause": '{"errorMessage": "503 from x", "errorType": "T"}'})
    assert (error.type, error.message) == ("TransientError", "503 from x")
    assert error_from_catch({"Error": "States.Timeout", "Cause": "timed out"}).message == "timed out"
    assert error_from_catch(None).type == "States.TaskFailed"
