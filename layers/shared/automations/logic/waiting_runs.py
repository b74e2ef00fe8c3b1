"""Runs still waiting (`scheduled`): cancel them, expire them, and the checks before one starts.

Every change here is conditional on the run still being `scheduled`, so the scheduler, the
sweeper, the stream and an operator can race without a run starting twice or ending twice.
"""

from __future__ import annotations

from automations.domain import clock
from automations.domain.runs import ErrorInfo, Run
from automations.domain.status import RunStatus
from automations.errors import Expired
from automations.observability import Metric, count
from automations.ports import KeyEvent, Store


def cancel_scheduled_run(store: Store, run_id: str, cause: str) -> bool:
    """Cancelled with its cause in the history; its schedule and queued step go (see ``reactions``)."""
    ended = {"endedAt": clock.iso(clock.now())}
    if store.transition_run(run_id, RunStatus.CANCELLED, fields=ended, only_from=RunStatus.SCHEDULED, cause=cause):
        count(Metric.RUNS_CANCELLED)
        return True
    return False


def past_deadline(run: Run) -> bool:
    return run.deadline is not None and clock.now() >= clock.parse_iso(run.deadline)


def expire_run(store: Store, run: Run) -> bool:
    """Not started by its deadline: it never will. Failed with ``Expired``, saying when it was due."""
    error = ErrorInfo(
        type=Expired.__name__,
        message=f"not started by its deadline {run.deadline} (it was due at {run.scheduled_for})",
    )
    fields = {"endedAt": clock.iso(clock.now()), "error": error.dump()}
    if store.transition_run(
        run.run_id, RunStatus.FAILED, fields=fields, only_from=RunStatus.SCHEDULED, cause=error.message
    ):
        count(Metric.RUNS_EXPIRED)
        count(Metric.RUNS_FAILED)
        return True
    return False


def reason_not_to_start(store: Store, run: Run) -> str | None:
    """Why a waiting run must not start now, if it must not: its flow was deleted, a newer version
    of a recurring flow replaced this occurrence, or an event withdrew its key after it was
    recorded (the indexes those changes read to cancel waiting runs are eventually consistent: a
    run recorded a moment before may have been missing). (A missed deadline is ``past_deadline``.)"""
    flow = store.get_flow(run.flow_id)
    if flow is None or flow.deleted_at is not None:
        return "its flow was deleted"
    if run.trigger_kind == "schedule" and flow.version != run.flow_version:
        return f"the flow's schedule was replaced by version {flow.version}"
    withdrawal = missed_key_event(store, run, "withdrawn")
    return withdrawal.cause if withdrawal is not None else None


def missed_key_event(store: Store, run: Run, kind: str) -> KeyEvent | None:
    """The latest event of ``kind`` under the run's key, if it came at or after the run was recorded
    and did not reach it (the run is not under its trigger): see ``logic.key_events``."""
    if run.correlation_key is None:
        return None
    event = store.last_key_event(run.flow_id, run.correlation_key, kind)
    if event is None or event.at < run.created_at or event.trigger_id == run.trigger_id:
        return None
    return event


def settle_before_start(store: Store, run: Run) -> bool:
    """A waiting run that is due: expire or cancel it if it must not start. True if it was ended. (Not
    one that a reschedule its key's index missed moves later: its start moves it, ``key_events``.)"""
    if run.status != RunStatus.SCHEDULED or missed_key_event(store, run, "rescheduled") is not None:
        return False
    if past_deadline(run):
        expire_run(store, run)
        return True
    reason = reason_not_to_start(store, run)
    if reason is not None:
        cancel_scheduled_run(store, run.run_id, reason)
        return True
    return False
