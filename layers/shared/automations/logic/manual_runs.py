"""Manual runs (``POST /flows/{flowId}/runs``): an operator's "run now", or a test run, later if asked.

The run gets what the flow's trigger would give it, so its placeholders resolve the same way:
``data`` is a webhook flow's ``trigger.body``, an event flow's ``trigger.data`` (with its key and
deadline), and a recurring flow's occurrence is ``trigger.firedAt`` (its ``at`` or now).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from automations.domain import clock
from automations.domain.base import CamelModel, Moment
from automations.domain.triggers import TriggerEvent
from automations.errors import Conflict
from automations.flows.definition import EventTrigger, ScheduleTrigger
from automations.logic.flows import get_owned_flow
from automations.logic.planning import correlation_key, deadline_after, trigger_deadline
from automations.logic.recording import Recorded, RunPlan, record_runs, request_hash, trigger_id_for
from automations.ports import Store


class ManualRunRequest(CamelModel):
    data: Annotated[Any, Field(description="What the run's trigger carries (a webhook flow's body)")] = Field(
        default_factory=dict
    )
    at: Moment | None = Field(default=None, description="ISO 8601 with Z or an offset; absent: now")


def run_manually(
    store: Store, account_id: str, flow_id: str, request: ManualRunRequest, *, idempotency_key: str | None
) -> Recorded:
    flow = get_owned_flow(store, account_id, flow_id)
    if flow.deleted_at is not None:
        raise Conflict(f"flow '{flow_id}' was deleted at {flow.deleted_at}; it takes no runs")
    now = clock.now()
    due: datetime = request.at or now
    spec = flow.trigger
    trigger = TriggerEvent(
        trigger_id=trigger_id_for(f"manual:{flow_id}", idempotency_key),
        account_id=account_id,
        kind="manual",
        flow_id=flow_id,
        received_at=clock.iso(now),
        idempotency_key=idempotency_key,
        request_hash=request_hash(request.model_dump(mode="json", by_alias=True)),
    )
    if isinstance(spec, EventTrigger):
        trigger = trigger.model_copy(update={"event_type": spec.event, "data": request.data})
    elif isinstance(spec, ScheduleTrigger):
        trigger = trigger.model_copy(update={"fired_at": clock.iso(due), "data": request.data})
    else:
        trigger = trigger.model_copy(update={"body": request.data})
    key = correlation_key(spec.key, {"trigger": trigger.variables()}) if isinstance(spec, EventTrigger) else None
    plan = RunPlan(
        flow=flow,
        scheduled_for=clock.iso(due),
        deadline=deadline_after(due, trigger_deadline(flow)),
        correlation_key=key,
    )
    return record_runs(store, trigger, [plan])
