"""An execution that ended without reaching its end, as Step Functions reports it (``execution_ended``).

Apart from ``lifecycle``, so that the ExecutionStatusFunction, which does
only this, does not import the interpreter's node runner and every node type at its cold start.
"""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import ErrorInfo, ExecutionOutcome
from automations.ports import ExecutionEnd, Store

# What Step Functions reports of an execution that ended without our interpreter reaching its end.
PLATFORM_OUTCOMES = {
    "ABORTED": ExecutionOutcome.ABORTED,
    "TIMED_OUT": ExecutionOutcome.TIMED_OUT,
    "FAILED": ExecutionOutcome.FAILED,
}


def execution_ended(
    store: Store, *, run_id: str, name: str, status: str, cause: str | None = None, arn: str | None = None
) -> bool:
    """Step Functions says an execution ended (an execution status-change event).

    When the interpreter recorded the end itself (it reached ``EndRun`` or recorded an engine
    error) this changes nothing. Otherwise the execution ended without reaching its end: aborted,
    timed out, or failed by the platform. That is recorded, and the run becomes ``interrupted``
    (see ``reactions``), which is resumable. Returns whether anything was recorded. ``arn`` (the
    event's) is recorded with it: a run's first execution has no item before its end.
    """
    outcome = PLATFORM_OUTCOMES.get(status)
    if outcome is None:  # RUNNING, or SUCCEEDED: the interpreter recorded its own end
        return False
    message = cause or f"the execution ended {status} before reaching its end"
    error = ErrorInfo(type=f"Execution{status.title().replace('_', '')}", message=message, retryable=True)
    ending = ExecutionEnd(outcome=outcome, ended_at=clock.iso(clock.now()), error=error)
    return store.end_execution(run_id=run_id, name=name, end=ending, arn=arn)
