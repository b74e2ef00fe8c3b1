"""Flow definitions: a trigger plus nodes. Saved flows are versioned and immutable per version."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from automations.models.base import CamelModel, RecordModel

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

MAX_NODES = 50
MAX_TEMPLATE_CHARS = 10_000
MAX_DELAY_SECONDS = 365 * 24 * 3600  # a Standard execution lives at most a year


# --- triggers ---------------------------------------------------------------------


class WebhookTrigger(CamelModel):
    """``POST /hooks/{flowId}``, signed with the flow's secret; ``trigger.body`` is its JSON."""

    type: Literal["webhook"]


Trigger = Annotated[WebhookTrigger, Field(discriminator="type")]


# --- nodes ------------------------------------------------------------------------


class NodeBase(CamelModel):
    # the parameters (wire names) whose strings may hold {{ placeholders }}
    template_fields: ClassVar[tuple[str, ...]] = ()

    id: NodeId
    name: str | None = Field(default=None, max_length=200)
    next: NodeId | None = None
    on_error: Literal["fail", "continue"] = "fail"
    fail_on_empty_output: bool = False


class HttpRequestNode(NodeBase):
    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    type: Literal["http_request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_CHARS)]
    headers: dict[str, Annotated[str, Field(max_length=MAX_TEMPLATE_CHARS)]] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10


Node = Annotated[HttpRequestNode, Field(discriminator="type")]


class FlowDefinition(CamelModel):
    """What an account saves: ``POST /flows`` and (later) ``PUT /flows/{flowId}``."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    trigger: Trigger
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]

    @model_validator(mode="after")
    def _unique_node_ids(self) -> FlowDefinition:
        seen: set[str] = set()
        for node in self.nodes:
            if node.id in seen:
                raise ValueError(f"duplicate node id '{node.id}'")
            seen.add(node.id)
        return self

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
    created_at: str
    updated_at: str
