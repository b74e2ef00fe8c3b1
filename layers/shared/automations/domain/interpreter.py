"""The small state the generic state machine carries between its states.

Only ids travel through Step Functions (payload limit 256 KB); outputs and variables live
in the table and every task loads what it needs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automations.domain.base import CamelModel

END = "end"
# The state the interpreter routes to when no node is left. Every route value is the name of the
# state it leads to, so `NextNode` reads {"Variable": "$.node.task", "StringEquals": X, "Next": X}.
END_TASK = "EndRun"
# On Express only: the state that hands the run off to the Standard machine (see ``logic.hand_off``).
HAND_OFF_TASK = "HandOff"
# On Standard only: a node handed off after a retryable failure runs in its Task state's twin whose
# Retry blocks go on with the schedule where Express left it (``errors.RetryProfile.after``).
AFTER_HAND_OFF = "AfterHandOff"


def continued_task(task: str) -> str:
    return task + AFTER_HAND_OFF


class NodeRef(CamelModel):
    """Where the interpreter goes next: a node (its id, type and Task state) or the end."""

    id: str | None = None
    type: str = END
    task: str = END_TASK


class Wait(CamelModel):
    until: str  # ISO 8601 with Z: what a Wait state's TimestampPath accepts


class InterpreterState(CamelModel):
    run_id: str
    step_number: int = Field(default=0, description="The number the step at `node` gets (1 for the run's first)")
    node: NodeRef = Field(default_factory=NodeRef)
    wait: Wait | None = None  # the node waits (a delay): the Wait state sleeps until then, then WakeUp
    retry_after_seconds: int | None = None  # a 429 with a short Retry-After: wait, then run the node again
    # handed off by Express after a retryable failure: the retry's wait, then the node (in its Task
    # state's AfterHandOff twin); a Wait state of its own, since it is a retry's wait, not a Retry-After
    backoff_seconds: int | None = None


class NodeTask(CamelModel):
    """What a node Task state sends its Lambda."""

    run_id: str
    step_number: int
    node_id: str


LifecycleAction = Literal["start", "wake_up", "step_failed", "end", "engine_error", "hand_off"]


class LifecycleTask(CamelModel):
    """What the run-lifecycle Task states send."""

    action: LifecycleAction
    run_id: str
    execution_name: str | None = None
    execution_arn: str | None = None
    step_number: int = 0
    node_id: str | None = None
    error: dict[str, Any] | None = Field(default=None, description="A Catch block's {Error, Cause}")
    state: dict[str, Any] | None = Field(
        default=None, description="engine_error, hand_off: the interpreter's state (with a caught error)"
    )

    def node_in_flight(self) -> str | None:
        """engine_error: the node the interpreter was at, if any."""
        node = (self.state or {}).get("node") or {}
        return self.node_id or node.get("id")

    def caught(self) -> dict[str, Any] | None:
        return self.error or (self.state or {}).get("error")
