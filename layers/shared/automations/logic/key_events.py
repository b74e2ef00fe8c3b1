"""What an event did to a flow's waiting runs under a correlation key, caught up before a run starts.

``POST /events`` withdraws or moves the runs waiting under the event's key, found through the
``ScheduledByKey`` index (``logic.events``). DynamoDB reads an index eventually consistently
only, so a run recorded a moment before the event may be missing there. The event is therefore
also remembered (the latest of each kind per flow and key: ``Store.record_key_event``), and a
keyed run that falls due checks it, consistently, before its first start
(``waiting_runs.missed_key_event``): a withdrawal recorded after the run cancels it
(``waiting_runs.reason_not_to_start``, asked by the sweeper and ``StartRun``); a reschedule
recorded after it moves it (``catch_up``, asked by ``StartRun``).
"""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import Execution, Machine, Run, execution_name
from automations.domain.status import RunStatus
from automations.flows import graph
from automations.logic.flows import load_version
from automations.logic.waiting_runs import missed_key_event
from automations.observability import logger
from automations.ports import KeyEvent, Reschedule, RunDetail, Store


def move(store: Store, detail: RunDetail, event: KeyEvent) -> bool:
    """Move a waiting run as ``event`` says: to its due time and deadline, its trigger becoming the
    run's, under a new requested execution (``<runId>-r<n>``); False if the run no longer waits
    under the execution it would replace."""
    run = detail.run
    assert event.scheduled_for is not None
    replaced = run.current_execution or run.run_id
    ordinal = max((e.ordinal for e in detail.executions), default=-1) + 1
    previous = next((e for e in detail.executions if e.name == replaced), None)
    execution = Execution(
        run_id=run.run_id,
        name=execution_name(run.run_id, ordinal),
        ordinal=ordinal,
        start_at=previous.start_at if previous else None,
        first_step_number=previous.first_step_number if previous else 1,
        due_at=event.scheduled_for,
        requested_at=clock.iso(clock.now()),
        reason=event.cause,
        machine=Machine.EXPRESS,  # still the run's first start
    )
    definition = load_version(store, run.flow_id, run.flow_version).definition
    keep_until = clock.parse_iso(event.scheduled_for) + graph.longest_wait(definition)
    return store.reschedule_run(
        Reschedule(
            run_id=run.run_id,
            replaced_execution=replaced,
            execution=execution,
            scheduled_for=event.scheduled_for,
            deadline=event.deadline,
            trigger_id=event.trigger_id,
            cause=event.cause,
            keep_until=clock.iso(keep_until),
        )
    )


def catch_up(store: Store, run: Run) -> bool:
    """Before a waiting run's first start: move it if a reschedule of its key missed it (True: moved,
    so it does not start now)."""
    if run.status != RunStatus.SCHEDULED:
        return False
    event = missed_key_event(store, run, "rescheduled")
    if event is None:
        return False
    detail = store.get_run_detail(run.run_id)
    if detail is None or not move(store, detail, event):
        return False
    logger.info("waiting run moved by a reschedule its key's index missed", extra={"to": event.scheduled_for})
    return True
