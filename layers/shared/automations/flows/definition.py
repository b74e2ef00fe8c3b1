"""Flow definitions: a trigger plus nodes. Saved flows are versioned and immutable per version.

The node union is built from the node registry (``automations.nodes``): a node type is known
here because its module registered it, nothing else lists node types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from automations.domain.base import CamelModel, RecordModel
from automations.nodes import REGISTRY
from automations.nodes.base import NodeBase

MAX_NODES = 50


# --- triggers ---------------------------------------------------------------------


class WebhookTrigger(CamelModel):
    """``POST /hooks/{flowId}``, signed with the flow's secret; ``trigger.body`` is its JSON."""

    type: Literal["webhook"]


Trigger = Annotated[WebhookTrigger, Field(discriminator="type")]


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
    created_at: str
    updated_at: str
