"""When a run is due, until when it may start, and what it correlates by: from its flow's trigger.

An event trigger's ``at`` and ``key`` are templates over the trigger (``trigger.data...``); its
``deadline`` is a duration after the due time. A template that cannot give a time is the run's
own failure (``MissingVariable`` / ``ConfigurationError``), recorded on the run, never a 5xx.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from automations.domain import clock, schedules
from automations.domain.runs import ErrorInfo
from automations.domain.templating import render, to_text
from automations.domain.triggers import TriggerEvent
from automations.errors import ConfigurationError, NodeError
from automations.flows.definition import EventTrigger, Flow, ScheduleTrigger
from automations.logic.recording import RunPlan


def due_time(at: str | None, variables: dict[str, Any], *, now: datetime) -> datetime:
    """The time ``at`` gives (now when absent). Raises MissingVariable or ConfigurationError."""
    if at is None:
        return now
    value = render(at, variables)
    text = value if isinstance(value, str) else to_text(value)
    try:
        return clock.parse_iso(text)
    except ValueError as error:
        raise ConfigurationError(f"trigger 'at' gave '{text[:100]}', which is not an ISO 8601 time") from error


def deadline_after(due: datetime, duration: str | None) -> str | None:
    return clock.iso(due + schedules.parse_duration(duration)) if duration else None


def correlation_key(key: str | None, variables: dict[str, Any]) -> str | None:
    """The key's text; a key that does not resolve is no key (the run cannot be withdrawn)."""
    if key is None:
        return None
    try:
        value = render(key, variables)
    except NodeError:
        return None
    text = value if isinstance(value, str) else to_text(value)
    return text or None


def event_run_plan(flow: Flow, trigger: TriggerEvent) -> RunPlan:
    """One run of an event flow for this event: due at ``at``, with its key and deadline."""
    spec = flow.trigger
    assert isinstance(spec, EventTrigger)
    variables = {"trigger": trigger.variables()}
    key = correlation_key(spec.key, variables)
    try:
        due = due_time(spec.at, variables, now=clock.parse_iso(trigger.received_at))
    except NodeError as error:
        failure = ErrorInfo(type=error.type, message=f"trigger 'at': {error.message}")
        return RunPlan(flow=flow, correlation_key=key, error=failure)
    return RunPlan(
        flow=flow, scheduled_for=clock.iso(due), deadline=deadline_after(due, spec.deadline), correlation_key=key
    )


def trigger_deadline(flow: Flow) -> str | None:
    """The deadline duration of the flow's trigger, if it has one."""
    spec = flow.trigger
    return spec.deadline if isinstance(spec, EventTrigger | ScheduleTrigger) else None
