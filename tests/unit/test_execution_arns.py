"""Execution ARNs: what a run keeps of its first execution's (the last part) and the ARN rebuilt from it."""

from __future__ import annotations

import pytest

from automations.domain.runs import Machine, Run, execution_arn, execution_id_of, first_execution_of, machine_of

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:automations-FlowInterpreter"
EXPRESS_MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:automations-FlowInterpreterExpress"
RUN_ID = "run_01KAXDEMO000000000000000000"


@pytest.mark.parametrize(
    ("arn", "machine", "execution_id"),
    [
        (f"arn:aws:states:us-east-1:123456789012:execution:automations-FlowInterpreter:{RUN_ID}", MACHINE, RUN_ID),
        (
            f"arn:aws:states:us-east-1:123456789012:express:automations-FlowInterpreterExpress:{RUN_ID}:"
            "760710a5-2dbc-43fa-9f40-b92e78d02ee8",
            EXPRESS_MACHINE,
            "760710a5-2dbc-43fa-9f40-b92e78d02ee8",
        ),
    ],
)
def test_an_execution_arn_is_rebuilt_from_its_machine_its_name_and_its_last_part(
    arn: str, machine: str, execution_id: str
) -> None:
    # Given an execution's ARN as Step Functions hands it over (Standard: the name is last; Express: its id)
    # When only its last part is kept
    kept = execution_id_of(arn)
    # Then that part, the state machine's ARN and the name give it back, on the machine it names
    assert kept == execution_id
    assert execution_arn(machine, RUN_ID, kept) == arn
    assert machine_of(execution_arn(machine, RUN_ID, kept)) == machine_of(arn)


def test_a_standard_arn_needs_no_id() -> None:
    assert execution_arn(MACHINE, f"{RUN_ID}-r1") == f"{MACHINE.replace(':stateMachine:', ':execution:')}:{RUN_ID}-r1"


def run(**fields: object) -> Run:
    at = "2026-12-07T09:00:00Z"
    return Run.model_validate(
        {
            "runId": RUN_ID,
            "accountId": "acct_demo",
            "flowId": "flow_demo",
            "flowVersion": 1,
            "triggerId": "trg_demo",
            "status": "scheduled",
            "createdAt": at,
            "scheduledFor": at,
            "currentExecution": RUN_ID,
            **fields,
        }
    )


def test_a_runs_first_execution_reads_requested_then_started_from_the_run() -> None:
    # Given a run recorded, then started on Express
    waiting = run()
    started = run(status="running", startedAt="2026-12-07T09:00:01Z", path=["express"], firstExecutionId="5e1d")
    # Then its first execution reads requested, then started at the run's start on the run's first machine
    assert (first_execution_of(waiting).started_at, first_execution_of(waiting).arn) == (None, None)
    execution = first_execution_of(started)
    assert (execution.started_at, execution.machine) == ("2026-12-07T09:00:01Z", Machine.EXPRESS)
    # (its ARN needs the machine's, which the repository knows where the function does)
    assert execution.arn is None
    # and once another execution is current (a hand-off), the run no longer speaks for it
    handed = run(status="running", startedAt="2026-12-07T09:00:01Z", currentExecution=f"{RUN_ID}-r1")
    assert first_execution_of(handed).started_at is None
