"""Flow definitions: a trigger plus nodes. Saved flows are versioned and immutable per version.

The node union is built from the node registry (``automations.nodes``): a node type is known
here because its module registered it, nothing else lists node types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import AfterValidator, Field, model_validator

from automations.domain import schedules
from automations.domain.base import CamelModel, RecordModel
from automations.nodes import REGISTRY
from automations.nodes.base import NodeBase, TemplateText

MAX_NODES = 50


# --- triggers ---------------------------------------------------------------------


def _duration(text: str) -> str:
    schedules.parse_duration(text)  # ValueError names what is wrong
    return text


def _expression(text: str) -> str:
    if schedules.parse_expression(text).kind == "at":
        raise ValueError(
            "a schedule trigger recurs: use cron(...) or rate(...) (one run later: POST /flows/{flowId}/runs with at)"
        )
    return text


def _timezone(name: str) -> str:
    schedules.check_timezone(name)
    return name


EventType = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,127}$")]
Duration = Annotated[str, AfterValidator(_duration), Field(description="ISO 8601 duration, e.g. PT24H or P1D")]


class WebhookTrigger(CamelModel):
    """``POST /hooks/{flowId}``, signed with the flow's secret; ``trigger.body`` is its JSON."""

    type: Literal["webhook"]


class EventTrigger(CamelModel):
    """``POST /events`` with ``{"id", "type", "data"}``: one run per event of type ``event``.

    ``at`` schedules the run relative to the event (a template giving an ISO 8601 time, e.g.
    ``{{ trigger.data.start | add_days(-1) }}``; absent: now). ``key`` (a template) correlates
    later events with the runs still scheduled: an event in ``cancelOn`` cancels them, one in
    ``rescheduleOn`` moves them to the time ``at`` gives for its data (and they run with it).
    A run not started by ``scheduledFor + deadline`` never starts: it fails with ``Expired``.
    """

    type: Literal["event"]
    event: EventType
    at: TemplateText | None = None
    key: TemplateText | None = None
    cancel_on: Annotated[list[EventType], Field(max_length=20)] = Field(default_factory=list)
    reschedule_on: Annotated[list[EventType], Field(max_length=20)] = Field(default_factory=list)
    deadline: Duration | None = None

    @model_validator(mode="after")
    def _correlated(self) -> EventTrigger:
        if (self.cancel_on or self.reschedule_on) and not self.key:
            raise ValueError("cancelOn and rescheduleOn match runs by their key: set 'key' too")
        if self.reschedule_on and not self.at:
            raise ValueError("rescheduleOn moves runs to the time 'at' gives: set 'at' too")
        return self


class ScheduleTrigger(CamelModel):
    """A recurring flow: EventBridge Scheduler's ``cron(...)`` or ``rate(...)`` in an IANA zone.

    Each occurrence is a run (``trigger.firedAt`` is its time), recorded ahead as ``scheduled``,
    so an occurrence the engine misses shows as overdue and still runs (or expires) later.
    """

    type: Literal["schedule"]
    expression: Annotated[
        str, AfterValidator(_expression), Field(description="cron(0 9 ? * MON-FRI *) or rate(15 minutes)")
    ]
    timezone: Annotated[str, AfterValidator(_timezone), Field(description="IANA time zone, e.g. Europe/Berlin")] = "UTC"
    deadline: Duration | None = None


Trigger = Annotated[WebhookTrigger | EventTrigger | ScheduleTrigger, Field(discriminator="type")]


# --- nodes ------------------------------------------------------------------------

if TYPE_CHECKING:
    Node = NodeBase
else:
    _models = REGISTRY.close()
    Node = Annotated[Union[_models], Field(discriminator="type")]  # noqa: UP007 - a runtime tuple of classes


class FlowDefinition(CamelModel):
    """What an account saves: ``POST /flows`` and ``PUT /flows/{flowId}``."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    trigger: Trigger
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]

    @model_validator(mode="before")
    @classmethod
    def _known_node_types(cls, data: Any) -> Any:
        """Name the node with an unknown type (pydantic alone only gives its position)."""
        nodes = data.get("nodes") if isinstance(data, dict) else None
        known = REGISTRY.names()
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict) and node.get("type") not in known:
                raise ValueError(
                    f"node '{node.get('id')}': unknown type '{node.get('type')}' (one of: {', '.join(known)})"
                )
        return data

    def node(self, node_id: str) -> Node:
        for node in self.nodes:
            if node.id == node_id:
                return node
        raise KeyError(node_id)


# --- stored records ---------------------------------------------------------------


class FlowVersion(RecordModel):
    flow_id: str
    version: int
    definition: FlowDefinition
    created_at: str


class Flow(RecordModel):
    """The flow's head record: what points at the latest version."""

    flow_id: str
    account_id: str
    name: str
    version: int
    trigger: Trigger
    webhook_secret: str
    # after a rotation, the secret it replaced still verifies until then (senders switch over)
    previous_webhook_secret: str | None = None
    previous_secret_valid_until: str | None = None
    created_at: str
    updated_at: str
    deleted_at: str | None = Field(default=None, description="Deleted flows take no triggers; history stays")

    def webhook_secrets(self, now: str) -> list[str]:
        """The secrets a webhook signature may be made with now: the current one, and the one it
        replaced while its grace period lasts."""
        previous = self.previous_webhook_secret
        still_valid = previous is not None and (self.previous_secret_valid_until or "") > now
        return [self.webhook_secret, *([previous] if still_valid and previous else [])]
