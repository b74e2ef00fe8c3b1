"""The ``condition`` node: evaluate an expression and choose ``then`` or ``else``."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Field

from automations.domain import expressions
from automations.domain.templating import Path
from automations.nodes.base import REGISTRY, NodeBase, NodeContext, NodeId, NodeOutcome, NodeServices, NodeType


class ConditionNode(NodeBase):
    """Choose the next node: ``then`` when the expression is true, else ``else``."""

    type: Literal["condition"]
    if_: Annotated[str, Field(min_length=1, max_length=2000)] = Field(alias="if")
    then: NodeId
    else_: NodeId = Field(alias="else")


class Condition(NodeType[ConditionNode]):
    model = ConditionNode
    runs_inline = True

    def execute(
        self, node: ConditionNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        """Evaluate ``if`` over the run's variables; a missing path is MissingVariable."""
        result = expressions.parse(node.if_).evaluate(context.variables)
        chosen = node.then if result else node.else_
        return NodeOutcome(output={"result": result, "next": chosen}, next_node=chosen)

    def branches(self, node: ConditionNode) -> dict[str, str]:
        return {"then": node.then, "else": node.else_}

    def check(self, node: ConditionNode) -> Iterable[tuple[str | None, str]]:
        if node.on_error == "continue":
            why = "a failed condition chose no branch, so there is nothing to continue with"
            yield "onError", f"condition '{node.id}' cannot use onError: continue: {why}"
        if node.next:
            yield "next", f"condition '{node.id}' must not have 'next': its 'then' and 'else' decide what runs next"
        try:
            expressions.parse(node.if_)
        except expressions.ExpressionSyntaxError as exc:
            yield "if", f"node '{node.id}', if: {exc}"

    def read_paths(self, node: ConditionNode) -> Iterable[tuple[str, Path, bool]]:
        try:
            expression = expressions.parse(node.if_)
        except expressions.ExpressionSyntaxError:
            return  # reported by check()
        optional = set(expression.optional_paths)
        for path in expression.paths:
            yield "if", path, path in optional


REGISTRY.register(Condition())
