"""The small state the generic state machine carries between its states.

Only ids travel through Step Functions (payload limit 256 KB); outputs and variables live
in the table and every task loads what it needs.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automations.models.base import CamelModel

END = "end"


class NodeRef(CamelModel):
    id: str | None = None
    type: str = END  # a Choice state routes on this; "end" finishes the run


class Wait(CamelModel):
    until: str  # ISO 8601 with Z: what a Wait state's TimestampPath accepts


class InterpreterState(CamelModel):
    run_id: str
    seq: int = Field(default=0, description="How many steps this run has reached so far")
    node: NodeRef = Field(default_factory=NodeRef)
    wait: Wait | None = None  # a delay node: the Wait state sleeps until then
    retry_after_seconds: int | None = None  # a 429 with a short Retry-After: wait, then run the node again


class NodeTask(CamelModel):
    """What a node Task state sends its Lambda."""

    run_id: str
    seq: int
    node_id: str
    phase: Literal["run", "finish_wait"] = "run"


class LifecycleTask(CamelModel):
    """What the run-lifecycle Task states send (start, step_failed, finish, engine_error)."""

    action: Literal["start", "step_failed", "finish", "engine_error"]
    run_id: str
    execution_name: str | None = None
    seq: int = 0
    node_id: str | None = None
    error: dict[str, Any] | None = Field(default=None, description="A Catch block's {Error, Cause}")
