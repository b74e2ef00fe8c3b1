"""Account events (``POST /events``): one run per subscribed flow, and what the event withdraws
or reschedules among runs still waiting.

Recording comes first and is the idempotency gate: the trigger id is derived from the event id,
so a redelivered event finds the first recording and creates no run twice. The event's effect on
earlier runs (cancel, reschedule) is then applied with conditional writes (only runs still
`scheduled` move) and stored on the trigger, so a redelivery answers the same; a delivery that
died in between applies it again, which changes nothing already done.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field

from automations.domain import clock
from automations.domain.base import CamelModel
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import Conflict, NodeError
from automations.flows import graph
from automations.flows.definition import EventTrigger, EventType, Flow
from automations.logic import key_events
from automations.logic.flows import MAX_FLOWS_PER_EVENT, flows_on_event, live_flows, load_version
from automations.logic.planning import correlation_key, deadline_after, due_time, event_run_plan
from automations.logic.recording import record_runs, request_hash, trigger_id_for
from automations.logic.waiting_runs import cancel_scheduled_run
from automations.observability import logger
from automations.ports import KeyEvent, Store


class AccountEvent(CamelModel):
    """What an account's backend posts: its own event id, a type flows subscribe to, any data."""

    id: Annotated[str, Field(min_length=1, max_length=200)]
    type: EventType
    data: Any = Field(default_factory=dict)


@dataclass(frozen=True)
class EventOutcome:
    event_id: str
    run_ids: list[str]
    cancelled: list[str]
    rescheduled: list[str]


def receive_event(store: Store, account_id: str, event: AccountEvent) -> EventOutcome:
    trigger = TriggerEvent(
        trigger_id=trigger_id_for(f"event:{account_id}", event.id),
        account_id=account_id,
        kind="event",
        received_at=clock.iso(clock.now()),
        event_type=event.type,
        event_id=event.id,
        data=event.data,
        # the event id is the idempotency key: the same id with other content is refused (422)
        idempotency_key=event.id,
        request_hash=request_hash({"type": event.type, "data": event.data}),
    )
    flows = live_flows(store, account_id)
    subscribed = flows_on_event(flows, event.type)
    if len(subscribed) > MAX_FLOWS_PER_EVENT:  # (two flows saved at the same moment got past the check)
        raise Conflict(
            f"{len(subscribed)} flows start on event '{event.type}', and at most {MAX_FLOWS_PER_EVENT} may "
            "(one event records all its runs at once): nothing was recorded; delete one and send the event again"
        )
    recorded = record_runs(store, trigger, [event_run_plan(flow, trigger) for flow in subscribed])
    first = recorded.trigger
    if first is not None and first.cancelled is not None and first.rescheduled is not None:
        return EventOutcome(event.id, first.run_ids, first.cancelled, first.rescheduled)
    trigger = first or trigger.model_copy(update={"run_ids": recorded.run_ids})
    cancelled: list[str] = []
    rescheduled: list[str] = []
    for flow in flows:
        spec = flow.trigger
        if not isinstance(spec, EventTrigger):
            continue
        if event.type in spec.cancel_on:
            cancelled += _withdraw(store, flow, trigger)
        elif event.type in spec.reschedule_on:
            rescheduled += _reschedule(store, flow, trigger)
    store.record_trigger_effects(trigger.trigger_id, cancelled=cancelled, rescheduled=rescheduled)
    return EventOutcome(event.id, trigger.run_ids, cancelled, rescheduled)


def _key(flow: Flow, trigger: TriggerEvent) -> str | None:
    """The correlation key the event gives for ``flow`` (None: the event names none)."""
    spec = flow.trigger
    assert isinstance(spec, EventTrigger)
    return correlation_key(spec.key, {"trigger": trigger.variables()})


def _waiting_runs(store: Store, flow: Flow, key: str, trigger: TriggerEvent) -> list[str]:
    """The flow's runs waiting under ``key``, as its index shows them, but the event's own."""
    return [r for r in store.scheduled_run_ids_by_key(flow.flow_id, key) if r not in trigger.run_ids]


def _withdraw(store: Store, flow: Flow, trigger: TriggerEvent) -> list[str]:
    """The key's waiting runs are cancelled now; one its index does not show yet is cancelled before
    it starts, by the withdrawal remembered here (see ``logic.key_events``)."""
    key = _key(flow, trigger)
    if key is None:
        return []
    cause = f"withdrawn by event '{trigger.event_type}' ({trigger.event_id})"
    event = KeyEvent(kind="withdrawn", at=trigger.received_at, cause=cause, trigger_id=trigger.trigger_id)
    store.record_key_event(flow.flow_id, key, event)
    waiting = _waiting_runs(store, flow, key, trigger)
    return [run_id for run_id in waiting if cancel_scheduled_run(store, run_id, cause)]


def _reschedule(store: Store, flow: Flow, trigger: TriggerEvent) -> list[str]:
    """The key's waiting runs move now; one its index does not show yet moves before it would start,
    by the reschedule remembered here (see ``logic.key_events``)."""
    spec = flow.trigger
    assert isinstance(spec, EventTrigger)
    key = _key(flow, trigger)
    if key is None:
        return []
    try:
        due = due_time(spec.at, {"trigger": trigger.variables()}, now=clock.parse_iso(trigger.received_at))
    except NodeError as error:
        logger.warning("reschedule event gives no time; runs stay as they were", extra={"error": error.message})
        return []
    event = KeyEvent(
        kind="rescheduled",
        at=trigger.received_at,
        cause=f"rescheduled by event '{trigger.event_type}' ({trigger.event_id})",
        trigger_id=trigger.trigger_id,
        scheduled_for=clock.iso(due),
        deadline=deadline_after(due, spec.deadline),
    )
    # the runs it moves run with its data: kept as long as they may need it (by the flow's current version)
    longest_wait = graph.longest_wait(load_version(store, flow.flow_id, flow.version).definition)
    store.keep_trigger(trigger.trigger_id, until=clock.iso(due + longest_wait))
    store.record_key_event(flow.flow_id, key, event)
    moved = []
    for run_id in _waiting_runs(store, flow, key, trigger):
        detail = store.get_run_detail(run_id)
        if detail is None or detail.run.status != RunStatus.SCHEDULED:
            continue
        # (one under this event's trigger was moved by it already: a redelivery)
        if detail.run.trigger_id == trigger.trigger_id or key_events.move(store, detail, event):
            moved.append(run_id)
    return moved
