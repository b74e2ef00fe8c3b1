"""How control moves between a flow's nodes: ``next``, a condition's branches, or list order."""

from __future__ import annotations

from automations.models.flow import FlowDefinition, Node
from automations.models.interpreter import NodeRef


def successors(definition: FlowDefinition, node: Node) -> list[str]:
    """Every node that may run right after ``node`` (both branches of a condition)."""
    branches = [getattr(node, "then", None), getattr(node, "else_", None)]
    if any(branches):
        return [b for b in branches if b]
    following = default_next(definition, node)
    return [following] if following else []


def default_next(definition: FlowDefinition, node: Node) -> str | None:
    if node.next:
        return node.next
    position = [n.id for n in definition.nodes].index(node.id)
    return definition.nodes[position + 1].id if position + 1 < len(definition.nodes) else None


def ref(definition: FlowDefinition, node_id: str | None) -> NodeRef:
    """The interpreter's pointer to a node, or the end of the flow."""
    if node_id is None:
        return NodeRef()
    return NodeRef(id=node_id, type=definition.node(node_id).type)


def first(definition: FlowDefinition) -> NodeRef:
    return ref(definition, definition.nodes[0].id)
