"""Recurring flows: each occurrence is a run recorded ahead of time, one at a time per flow.

The next occurrence is recorded `scheduled` (with its one-time schedule, like any run due later)
when the flow is saved, and the one after it when an occurrence leaves `scheduled` (it started,
expired or was cancelled), counted from the occurrence's own time. So while the engine is down
the missed occurrence is in the table, shows as overdue and runs (or expires) on recovery, and
the ones after it follow one by one: none is silently dropped.

The trigger id is derived from the flow, its version and the occurrence's time, so recording an
occurrence twice (a redelivered stream record) records it once. Publishing a new version replaces
the waiting occurrence with one of the new version (see ``reactions``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from automations.domain import clock, schedules
from automations.domain.triggers import TriggerEvent
from automations.flows.definition import Flow, ScheduleTrigger
from automations.logic.planning import deadline_after
from automations.logic.recording import RunPlan, record_runs
from automations.ports import Store


def occurrence_trigger_id(flow: Flow, at: datetime) -> str:
    digest = hashlib.sha256(f"schedule:{flow.flow_id}:{flow.version}:{clock.iso(at)}".encode()).hexdigest()[:32]
    return f"trg_{digest}"


def next_occurrence(flow: Flow, after: datetime) -> datetime | None:
    spec = flow.trigger
    if not isinstance(spec, ScheduleTrigger) or flow.deleted_at is not None:
        return None
    return schedules.next_fire(schedules.parse_expression(spec.expression), spec.timezone, after)


def record_next_occurrence(store: Store, flow: Flow, *, after: datetime) -> str | None:
    """Record the flow's first occurrence after ``after`` as a waiting run; its run id (None: none)."""
    at = next_occurrence(flow, after)
    if at is None:
        return None
    spec = flow.trigger
    assert isinstance(spec, ScheduleTrigger)
    trigger = TriggerEvent(
        trigger_id=occurrence_trigger_id(flow, at),
        account_id=flow.account_id,
        kind="schedule",
        flow_id=flow.flow_id,
        received_at=clock.iso(clock.now()),
        fired_at=clock.iso(at),
    )
    plan = RunPlan(flow=flow, scheduled_for=clock.iso(at), deadline=deadline_after(at, spec.deadline))
    recorded = record_runs(store, trigger, [plan])
    return recorded.run_ids[0] if recorded.run_ids else None
