"""The nodes that compute rather than call out: ``condition``, ``set`` and ``delay``."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from automations import clock, expressions
from automations.errors import ConfigurationError
from automations.logic.node_runner import Executor, NodeOutcome
from automations.logic.run_context import RunContext
from automations.models.flow import ConditionNode, DelayNode, Node, SetNode
from automations.models.interpreter import Wait


def condition(node: Node, params: dict[str, Any], context: RunContext) -> NodeOutcome:
    """Evaluate ``if`` over the run's variables; a missing path is MissingVariable."""
    assert isinstance(node, ConditionNode)
    result = expressions.parse(node.if_).evaluate(context.variables())
    chosen = node.then if result else node.else_
    return NodeOutcome(output={"result": result, "next": chosen}, next_node=chosen)


def set_values(node: Node, params: dict[str, Any], context: RunContext) -> NodeOutcome:
    """The resolved ``values`` become ``vars.<name>`` for every later node."""
    assert isinstance(node, SetNode)
    return NodeOutcome(output=params["values"])


def delay(node: Node, params: dict[str, Any], context: RunContext) -> NodeOutcome:
    """Compute the wake-up time; the state machine's Wait state does the waiting."""
    assert isinstance(node, DelayNode)
    now = clock.now()
    if node.seconds is not None:
        wake = now + timedelta(seconds=node.seconds)
    else:
        text = params.get("until")
        try:
            wake = clock.parse_iso(str(text))
        except ValueError as error:
            raise ConfigurationError(f"delay 'until' gave '{text}', which is not an ISO 8601 time") from error
        if wake - now > timedelta(days=365):
            raise ConfigurationError(f"delay 'until' {text} is more than a year away")
    # Wait states take whole seconds with a Z suffix; round up so it never wakes early
    wake = max(wake, now).replace(microsecond=0) + timedelta(seconds=math.ceil(wake.microsecond / 1e6))
    until = wake.strftime("%Y-%m-%dT%H:%M:%SZ")
    return NodeOutcome(output={"until": until}, wait=Wait(until=until), step_fields={"wakeAt": until})


EXECUTORS: dict[str, Executor] = {"condition": condition, "set": set_values, "delay": delay}
