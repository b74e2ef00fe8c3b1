"""No run stays in limbo: a run `running` or `retrying` whose execution is gone becomes `interrupted`.

Step Functions' status-change events normally tell the engine when an execution ends without
reaching its end (see ``ended_executions.execution_ended``). Events can be lost (a rule disabled, a
target throttled past its retries), so the sweeper also asks Step Functions about every run in
flight, once per ``LIVENESS_CHECK_INTERVAL``: the sparse InFlight index holds each such run under
the time its next check is due, so a sweep reads only the runs due for one.

Express executions send no status-change events and cannot be described, but they live at most
five minutes: one older than that which recorded no end of its own (nor a hand-off) is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from automations.domain import clock
from automations.domain.runs import EXPRESS_LIFETIME, Machine
from automations.logic import ended_executions
from automations.observability import logger
from automations.ports import Store, Workflows

# How often the sweeper asks Step Functions whether a run in flight still has a live execution (a
# run's start enters it in the InFlight index, first checked this long after): long enough that a
# healthy run is rarely asked about (a delay may wait for days), short enough that a lost
# status-change event costs minutes, not hours.
LIVENESS_CHECK_INTERVAL = timedelta(minutes=10)

CHECK_LIMIT = 200  # DescribeExecution calls per sweep (its quota is shared with the console)

GONE = "no execution of this name exists"
EXPRESS_GONE = "an Express execution lives at most 5 minutes, and this one recorded no end"


@dataclass(frozen=True)
class LivenessCheck:
    checked: int
    interrupted: int


def check_in_flight_runs(store: Store, workflows: Workflows, *, limit: int = CHECK_LIMIT) -> LivenessCheck:
    now = clock.now()
    later = clock.iso(now + LIVENESS_CHECK_INTERVAL)
    due = store.in_flight_runs(check_before=clock.iso(now), limit=limit)
    interrupted = 0
    for run in due:
        if run.execution is None:
            continue
        status, cause = _status(store, workflows, run.run_id, run.execution, now)
        if status == "RUNNING" or status == "SUCCEEDED":
            # alive; or it reached its end and that end is on its way through the stream
            store.check_again_at(run.run_id, execution=run.execution, at=later)
            continue
        if ended_executions.execution_ended(store, run_id=run.run_id, name=run.execution, status=status, cause=cause):
            interrupted += 1
        else:  # its end was recorded already; the run follows through the stream
            store.check_again_at(run.run_id, execution=run.execution, at=later)
    if interrupted:
        logger.warning("runs in flight had lost their execution", extra={"interrupted": interrupted})
    return LivenessCheck(checked=len(due), interrupted=interrupted)


def _status(store: Store, workflows: Workflows, run_id: str, name: str, now: datetime) -> tuple[str, str]:
    """How the execution stands, and why that means it is gone if it is not RUNNING or SUCCEEDED."""
    execution = store.get_execution(run_id, name)
    if execution is not None and execution.machine == Machine.EXPRESS and execution.started_at:
        alive = now - clock.parse_iso(execution.started_at) < EXPRESS_LIFETIME
        return ("RUNNING" if alive else "TIMED_OUT"), EXPRESS_GONE
    status = workflows.status(name=name)
    if status is None:
        return "ABORTED", GONE
    return status, f"Step Functions reports the execution {status}"
