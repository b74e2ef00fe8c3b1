"""A node type that exists only in the tests, added through the node registry alone.

The local stack the tests start imports this module (``--node-module``), so the type is known
to the flow model, validation, the node runner and the interpreter without any other change:
it computes, so it runs in the shared ComputeNode Task state and ComputeNodeFunction.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from automations.nodes.base import REGISTRY, NodeBase, NodeContext, NodeOutcome, NodeServices, NodeType, TemplateText


class ShoutNode(NodeBase):
    """Upper-cases ``text`` and adds an exclamation mark; ``vars.shouted`` holds the result."""

    template_fields: ClassVar[tuple[str, ...]] = ("text",)

    type: Literal["shout"]
    text: TemplateText


class Shout(NodeType[ShoutNode]):
    model = ShoutNode

    def execute(
        self, node: ShoutNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        text = str(params["text"])
        if text == "crash":
            raise RuntimeError("the shout node has a bug")  # stands for an engine defect
        return NodeOutcome(output={"text": f"{text.upper()}!"})

    def is_empty(self, output: Any) -> bool:
        """Shouting nothing ("!") counts as empty output."""
        return not str(output.get("text", "")).rstrip("!")

    def variables(self, node: ShoutNode, output: Any) -> dict[str, Any]:
        return {"shouted": output["text"]}

    def assigned_variables(self, node: ShoutNode) -> set[str]:
        return {"shouted"}


REGISTRY.register(Shout())
