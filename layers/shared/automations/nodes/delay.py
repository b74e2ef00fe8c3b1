"""The ``delay`` node: wait for a number of seconds or until a time, with nothing running.

The executor only computes the wake-up time; the interpreter's Wait state does the waiting
(``TimestampPath``) and ``WakeUp`` completes the step.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from automations.domain import clock
from automations.domain.interpreter import Wait
from automations.errors import ConfigurationError
from automations.nodes.base import REGISTRY, NodeBase, NodeContext, NodeOutcome, NodeServices, NodeType, TemplateText

MAX_DELAY_SECONDS = 365 * 24 * 3600  # a Standard execution lives at most a year
MAX_DELAY = timedelta(seconds=MAX_DELAY_SECONDS)  # for ``until`` too (checked when it runs)


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


def wake_up_time(node: DelayNode, params: dict[str, Any]) -> str:
    """When the delay ends: whole seconds with a Z (what Wait states take), never earlier than asked."""
    now = clock.now()
    if node.seconds is not None:
        wake = now + timedelta(seconds=node.seconds)
    else:
        text = params.get("until")
        try:
            wake = clock.parse_iso(str(text))
        except ValueError as error:
            raise ConfigurationError(f"delay 'until' gave '{text}', which is not an ISO 8601 time") from error
        if wake - now > MAX_DELAY:
            raise ConfigurationError(f"delay 'until' {text} is more than a year away")
    wake = max(wake, now).replace(microsecond=0) + timedelta(seconds=math.ceil(wake.microsecond / 1e6))
    return wake.strftime("%Y-%m-%dT%H:%M:%SZ")


class Delay(NodeType[DelayNode]):
    model = DelayNode
    waits = True

    def execute(
        self, node: DelayNode, params: dict[str, Any], context: NodeContext, services: NodeServices
    ) -> NodeOutcome:
        until = wake_up_time(node, params)
        return NodeOutcome(output={"until": until}, wait=Wait(until=until), step_fields={"wakeAt": until})

    def longest_wait(self, node: DelayNode) -> timedelta:
        return timedelta(seconds=node.seconds) if node.seconds is not None else MAX_DELAY


REGISTRY.register(Delay())
