"""Saving, reading and listing flows. Every save is a new immutable version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from automations.domain import clock, ids, signing
from automations.errors import Conflict, NotFound, ValidationFailed
from automations.flows.definition import EventTrigger, Flow, FlowDefinition, FlowVersion
from automations.flows.validation import validate_flow
from automations.ports import FlowStore, Page, TransitionRejected

# An event records its trigger and one run per flow it starts in one DynamoDB transaction (all or
# none: see ``logic.recording``), and a transaction holds at most 100 writes.
MAX_FLOWS_PER_EVENT = 99


@dataclass(frozen=True)
class FlowWithDefinition:
    flow: Flow
    version: FlowVersion


def create_flow(store: FlowStore, account_id: str, definition: FlowDefinition) -> FlowWithDefinition:
    validate_flow(definition)
    _check_room_on_event(store, account_id, definition, flow_id=None)
    now = clock.iso(clock.now())
    flow_id = ids.new_id("flow")
    flow = Flow(
        flow_id=flow_id,
        account_id=account_id,
        name=definition.name,
        version=1,
        trigger=definition.trigger,
        webhook_secret=signing.new_secret(),
        created_at=now,
        updated_at=now,
    )
    version = FlowVersion(flow_id=flow_id, version=1, definition=definition, created_at=now)
    store.create_flow(flow, version)
    return FlowWithDefinition(flow, version)


def publish_version(store: FlowStore, account_id: str, flow_id: str, definition: FlowDefinition) -> FlowWithDefinition:
    """A new immutable version; runs already recorded keep the version they started with."""
    current = get_owned_flow(store, account_id, flow_id)
    if current.deleted_at is not None:
        raise Conflict(f"flow '{flow_id}' was deleted at {current.deleted_at}; create a new flow")
    validate_flow(definition)
    if definition.trigger.type != current.trigger.type:
        raise ValidationFailed(f"the trigger type cannot change from '{current.trigger.type}'; create a new flow")
    _check_room_on_event(store, account_id, definition, flow_id=flow_id)
    now = clock.iso(clock.now())
    number = current.version + 1
    flow = current.model_copy(
        update={"version": number, "name": definition.name, "trigger": definition.trigger, "updated_at": now}
    )
    version = FlowVersion(flow_id=flow_id, version=number, definition=definition, created_at=now)
    try:
        store.publish_version(flow, version, expected_version=current.version)
    except TransitionRejected as error:
        raise Conflict(f"flow '{flow_id}' was changed at the same time; read it again and retry") from error
    return FlowWithDefinition(flow, version)


def flows_on_event(flows: list[Flow], event_type: str) -> list[Flow]:
    """The flows an event of ``event_type`` starts a run of."""
    return [f for f in flows if isinstance(f.trigger, EventTrigger) and f.trigger.event == event_type]


def _check_room_on_event(store: FlowStore, account_id: str, definition: FlowDefinition, flow_id: str | None) -> None:
    trigger = definition.trigger
    if not isinstance(trigger, EventTrigger):
        return
    others = [f for f in flows_on_event(live_flows(store, account_id), trigger.event) if f.flow_id != flow_id]
    if len(others) >= MAX_FLOWS_PER_EVENT:
        raise Conflict(
            f"{len(others)} flows start on event '{trigger.event}' already, and at most {MAX_FLOWS_PER_EVENT} "
            "may (one event records all its runs at once): delete one, or start this flow on another event"
        )


def delete_flow(store: FlowStore, account_id: str, flow_id: str) -> Flow:
    """The flow takes no more triggers; its history stays readable. Its waiting runs are cancelled
    and its schedules removed by the stream (see ``reactions.follow_flow``). Deleting twice is fine."""
    get_owned_flow(store, account_id, flow_id)
    return store.delete_flow(flow_id, at=clock.iso(clock.now()))


# How long a rotated-out webhook secret keeps verifying, unless the caller says otherwise.
DEFAULT_SECRET_GRACE = timedelta(hours=24)
MAX_SECRET_GRACE = timedelta(days=7)


def rotate_webhook_secret(store: FlowStore, account_id: str, flow_id: str, grace: timedelta | None) -> Flow:
    """A new webhook secret (shown once); the old one still verifies for ``grace`` (0: not at all),
    so senders can switch without dropping calls. Rotating again ends an earlier grace period."""
    grace = DEFAULT_SECRET_GRACE if grace is None else grace
    if not timedelta(0) <= grace <= MAX_SECRET_GRACE:
        raise ValidationFailed("graceSeconds must be between 0 and 604800 (7 days)")
    flow = get_owned_flow(store, account_id, flow_id)
    if flow.deleted_at is not None:
        raise Conflict(f"flow '{flow_id}' was deleted at {flow.deleted_at}")
    if flow.trigger.type != "webhook":
        raise Conflict(
            f"flow '{flow_id}' is triggered by {flow.trigger.type}, not a webhook: it has no secret to rotate"
        )
    valid_until = clock.iso(clock.wall_now() + grace)  # senders' clocks are real ones, like the signature window
    try:
        return store.rotate_webhook_secret(
            flow_id, expected=flow.webhook_secret, new=signing.new_secret(), previous_valid_until=valid_until
        )
    except TransitionRejected as error:
        raise Conflict(f"flow '{flow_id}' had its secret rotated at the same time; read it again") from error


def get_owned_flow(store: FlowStore, account_id: str, flow_id: str) -> Flow:
    """Another account's flow is reported exactly like a missing one."""
    flow = store.get_flow(flow_id)
    if flow is None or flow.account_id != account_id:
        raise NotFound(f"flow '{flow_id}' not found")
    return flow


def get_flow(store: FlowStore, account_id: str, flow_id: str) -> FlowWithDefinition:
    flow = get_owned_flow(store, account_id, flow_id)
    return FlowWithDefinition(flow, load_version(store, flow_id, flow.version))


def load_version(store: FlowStore, flow_id: str, version: int) -> FlowVersion:
    found = store.get_flow_version(flow_id, version)
    if found is None:
        raise NotFound(f"flow '{flow_id}' has no version {version}")
    return found


def live_flows(store: FlowStore, account_id: str) -> list[Flow]:
    """Every flow of the account that takes triggers (deleted ones do not), all pages."""
    flows: list[Flow] = []
    cursor: str | None = None
    while True:
        page = store.list_flows(account_id, limit=100, cursor=cursor)
        flows += [f for f in page.items if f.deleted_at is None]
        if page.next_cursor is None:
            return flows
        cursor = page.next_cursor


def list_flows(store: FlowStore, account_id: str, *, limit: int, cursor: str | None) -> Page[Flow]:
    return store.list_flows(account_id, limit=limit, cursor=cursor)
