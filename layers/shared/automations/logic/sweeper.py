"""The overdue safety net, every minute: runs still `scheduled` after their time are started
(idempotently: the execution's name is fixed, so a start the scheduler already made is refused),
or expired when past their deadline; the overdue count is published for the alarm.

While the platform is down nothing is lost: every due run is still in the table, and the first
sweep after it comes back picks them all up. Each sweep also checks the runs in flight that are
due for it (see ``liveness``), so a run whose execution is gone ends ``interrupted``.
"""

from __future__ import annotations

from dataclasses import dataclass

from automations.domain import clock
from automations.domain.runs import Machine
from automations.logic.liveness import check_in_flight_runs
from automations.logic.waiting_runs import settle_before_start
from automations.observability import Metric, count, logger
from automations.ports import Store, Workflows

# Runs handled per invocation (one Lambda has a minute); the rest are the next minute's.
SWEEP_LIMIT = 500


@dataclass(frozen=True)
class Sweep:
    overdue: int
    started: int
    ended: int  # expired, or cancelled because their flow is gone
    checked: int  # runs in flight asked about
    interrupted: int  # of those, runs whose execution was gone


def sweep(store: Store, workflows: Workflows, *, limit: int = SWEEP_LIMIT) -> Sweep:
    overdue = store.overdue_runs(due_before=clock.iso(clock.now()), limit=limit)
    count(Metric.OVERDUE_RUNS, len(overdue))
    started = ended = 0
    for run in overdue:
        if settle_before_start(store, run):
            ended += 1
            continue
        # a waiting run's execution is its first start (recorded, or rescheduled): Express first
        workflows.start(name=run.current_execution or run.run_id, run_id=run.run_id, machine=Machine.EXPRESS)
        started += 1
    if overdue:
        logger.info("swept overdue runs", extra={"overdue": len(overdue), "started": started, "ended": ended})
    liveness = check_in_flight_runs(store, workflows)
    return Sweep(
        overdue=len(overdue),
        started=started,
        ended=ended,
        checked=liveness.checked,
        interrupted=liveness.interrupted,
    )
