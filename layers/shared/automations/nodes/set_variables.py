"""The ``set`` node: compute named variables (``vars.<name>``) for later nodes."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field

from automations.nodes.base import REGISTRY, NodeBase, NodeContext, NodeOutcome, NodeServices, NodeType

VariableName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class SetNode(NodeBase):
    """Compute named variables (``vars.<name>``) for later nodes."""

    template_fields: ClassVar[tuple[str, ...]] = ("values",)

    type: Literal["set"]
    values: Annotated[dict[VariableName, Any], Field(min_length=1, max_length=50)]


class SetVariables(NodeType[SetNode]):
    model = SetNode
    runs_inline = True

    def execute(
        self, node: SetNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        """The resolved ``values`` become ``vars.<name>`` for every later node."""
        return NodeOutcome(output=params["values"])

    def variables(self, node: SetNode, output: Any) -> dict[str, Any]:
        return dict(output) if isinstance(output, dict) else {}

    def assigned_variables(self, node: SetNode) -> set[str]:
        return set(node.values)


REGISTRY.register(SetVariables())
