"""Flow definitions: a trigger plus nodes. Saved flows are versioned and immutable per version."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from automations.models.base import CamelModel, RecordModel

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

TemplateText = Annotated[str, Field(max_length=10_000)]
ConnectionName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]

MAX_NODES = 50
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
    """Call an HTTP endpoint; the output is ``{status, headers, body}``."""

    template_fields: ClassVar[tuple[str, ...]] = ("url", "headers", "body")

    type: Literal["http_request"]
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: Annotated[str, Field(min_length=1, max_length=10_000)]
    headers: dict[str, TemplateText] = Field(default_factory=dict)
    body: Any = None
    timeout_seconds: Annotated[float, Field(gt=0, le=30)] = 10


class SendEmailNode(NodeBase):
    """Send an email through SendGrid's v3 mail-send API with the account's connection key."""

    template_fields: ClassVar[tuple[str, ...]] = ("to", "subject", "text", "html", "from")

    type: Literal["send_email"]
    to: TemplateText | Annotated[list[TemplateText], Field(min_length=1, max_length=50)]
    subject: TemplateText
    text: TemplateText | None = None
    html: TemplateText | None = None
    from_: TemplateText | None = Field(default=None, alias="from")
    connection: ConnectionName = Field(
        default="sendgrid", description="Name of the account's SendGrid connection (a SecureString parameter)"
    )

    @model_validator(mode="after")
    def _has_content(self) -> SendEmailNode:
        if not (self.text or self.html):
            raise ValueError("send_email needs 'text' or 'html'")
        return self


class DelayNode(NodeBase):
    """Wait (a Step Functions Wait state: nothing runs meanwhile) for seconds or until a time."""

    template_fields: ClassVar[tuple[str, ...]] = ("until",)

    type: Literal["delay"]
    seconds: Annotated[int, Field(ge=0, le=MAX_DELAY_SECONDS)] | None = None
    until: TemplateText | None = Field(default=None, description="A template giving an ISO 8601 time")

    @model_validator(mode="after")
    def _one_of(self) -> DelayNode:
        if (self.seconds is None) == (self.until is None):
            raise ValueError("delay needs exactly one of 'seconds' or 'until'")
        return self


class ConditionNode(NodeBase):
    """Choose the next node: ``then`` when the expression is true, else ``else``."""

    type: Literal["condition"]
    if_: Annotated[str, Field(min_length=1, max_length=2000)] = Field(alias="if")
    then: NodeId
    else_: NodeId = Field(alias="else")


class SetNode(NodeBase):
    """Compute named variables (``vars.<name>``) for later nodes."""

    template_fields: ClassVar[tuple[str, ...]] = ("values",)

    type: Literal["set"]
    values: Annotated[dict[VariableName, Any], Field(min_length=1, max_length=50)]


NODE_CLASSES: tuple[type[NodeBase], ...] = (HttpRequestNode, SendEmailNode, DelayNode, ConditionNode, SetNode)
NODE_TYPES: tuple[str, ...] = tuple(cls.model_fields["type"].annotation.__args__[0] for cls in NODE_CLASSES)  # type: ignore[union-attr]
Node = Annotated[
    HttpRequestNode | SendEmailNode | DelayNode | ConditionNode | SetNode,
    Field(discriminator="type"),
]


class FlowDefinition(CamelModel):
    """What an account saves: ``POST /flows`` and (later) ``PUT /flows/{flowId}``."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: Annotated[str, Field(max_length=2000)] | None = None
    trigger: Trigger
    nodes: Annotated[list[Node], Field(min_length=1, max_length=MAX_NODES)]

    @model_validator(mode="before")
    @classmethod
    def _known_node_types(cls, data: Any) -> Any:
        """Name the node with an unknown type (pydantic alone only gives its position)."""
        nodes = data.get("nodes") if isinstance(data, dict) else None
        for node in nodes if isinstance(nodes, list) else []:
            if isinstance(node, dict) and node.get("type") not in NODE_TYPES:
                known = ", ".join(NODE_TYPES)
                raise ValueError(f"node '{node.get('id')}': unknown type '{node.get('type')}' (one of: {known})")
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
    created_at: str
    updated_at: str
