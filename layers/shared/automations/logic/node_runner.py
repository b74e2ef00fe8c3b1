"""Running one node as one attempt of its step, and recording what happened.

Every node type goes through ``run_node``: it claims the attempt (step -> running), resolves
the node's placeholders, calls the node's executor, records the attempt and the step, and
either returns the interpreter's next state or raises the node's error for the state
machine's Retry/Catch blocks to act on. Two outcomes hand control back to the state machine
without raising: a delay (wait until a time, then ``finish_waiting_node``) and a 429 with a
short Retry-After (wait exactly that long, then run the node again).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from automations import clock, flow_graph
from automations.errors import EmptyOutput, NodeError, NotFound, RateLimited
from automations.logic.run_context import RunContext, load_run_context, load_step_at_node
from automations.models.flow import Node
from automations.models.interpreter import InterpreterState, NodeRef, NodeTask, Wait
from automations.models.run import ErrorInfo, HttpExchange
from automations.models.status import AttemptStatus, StepStatus
from automations.observability import logger
from automations.redaction import redact_values
from automations.repository.interfaces import FlowStore, RunStore, StepUpdate, TriggerStore
from automations.templating import render

# A 429 whose Retry-After is at most this long is honoured exactly by a Wait state, for the
# first few attempts; longer or repeated ones go to the slower RateLimited retrier.
INLINE_RETRY_AFTER_MAX_SECONDS = 60
INLINE_RATE_LIMIT_ATTEMPTS = 3


@dataclass
class NodeOutcome:
    """What an executor reports. ``error`` set means the attempt failed (``http`` may still be set)."""

    output: Any = None
    http: HttpExchange | None = None
    error: NodeError | None = None
    next_node: str | None = None  # a condition picks its branch
    wait: Wait | None = None  # a delay: the state machine waits, then the step completes
    step_fields: dict[str, Any] = field(default_factory=dict)  # e.g. a delay's wakeAt


Executor = Callable[[Node, dict[str, Any], RunContext], NodeOutcome]


def error_info(error: BaseException) -> ErrorInfo:
    if isinstance(error, NodeError):
        return ErrorInfo(type=error.type, message=error.message, retryable=error.retryable)
    return ErrorInfo(type=type(error).__name__, message=str(error) or repr(error), retryable=False)


def is_empty(output: Any) -> bool:
    if isinstance(output, dict) and "body" in output and "status" in output:
        output = output["body"]  # an HTTP result is empty when its body is
    return output is None or output == "" or output == {} or output == []


def template_params(node: Node) -> dict[str, Any]:
    """The node's fields that may hold placeholders, with their wire names."""
    data = node.model_dump(mode="json", by_alias=True)
    return {name: data[name] for name in node.template_fields if data.get(name) is not None}


def _inline_retry_after(error: NodeError | None, attempt: int) -> int | None:
    if not isinstance(error, RateLimited) or error.retry_after_seconds is None:
        return None
    if error.retry_after_seconds > INLINE_RETRY_AFTER_MAX_SECONDS or attempt >= INLINE_RATE_LIMIT_ATTEMPTS:
        return None
    return max(1, math.ceil(error.retry_after_seconds))


def run_node(
    runs: RunStore, flows: FlowStore, triggers: TriggerStore, task: NodeTask, execute: Executor
) -> InterpreterState:
    context = load_run_context(runs, flows, triggers, task.run_id)
    node = context.definition.node(task.node_id)
    claim = runs.begin_attempt(task.run_id, node.id, node.type, task.seq, clock.iso(clock.now()))
    if claim.dangling_attempt:
        _close_dangling_attempt(runs, task.run_id, node.id, claim.dangling_attempt)
    started = time.monotonic()
    params: dict[str, Any] = {}
    try:
        params = render(template_params(node), context.variables())
        outcome = execute(node, params, context)
    except NodeError as error:
        outcome = NodeOutcome(error=error)
    except Exception as unexpected:  # a bug: record it on the attempt, then let it surface
        logger.exception("node executor crashed", extra={"run_id": task.run_id, "node_id": node.id})
        _record(runs, task, node, claim.number, started, params, NodeOutcome(error=None), error_info(unexpected))
        raise
    if outcome.error is None and node.fail_on_empty_output and is_empty(outcome.output):
        outcome.error = EmptyOutput(f"node '{node.id}' produced empty output and declares failOnEmptyOutput")
    _record(
        runs, task, node, claim.number, started, params, outcome, error_info(outcome.error) if outcome.error else None
    )
    here = NodeRef(id=node.id, type=node.type)
    retry_after = _inline_retry_after(outcome.error, claim.number)
    if retry_after is not None:
        return InterpreterState(run_id=task.run_id, seq=task.seq, node=here, retry_after_seconds=retry_after)
    if outcome.error is not None:
        raise outcome.error
    if outcome.wait is not None:
        return InterpreterState(run_id=task.run_id, seq=task.seq, node=here, wait=outcome.wait)
    next_id = outcome.next_node if outcome.next_node is not None else flow_graph.default_next(context.definition, node)
    return InterpreterState(run_id=task.run_id, seq=task.seq + 1, node=flow_graph.ref(context.definition, next_id))


def finish_waiting_node(runs: RunStore, flows: FlowStore, task: NodeTask) -> InterpreterState:
    """After the Wait state: the waiting attempt and its step complete; go to the next node."""
    found = load_step_at_node(runs, flows, task.run_id, task.node_id)
    run, definition, node, step = found.run, found.definition, found.node, found.step
    if step is None:
        raise NotFound(f"run '{run.run_id}' has no waiting step at '{node.id}'")
    now = clock.iso(clock.now())
    duration_ms = int((clock.now() - clock.parse_iso(step.started_at)).total_seconds() * 1000)
    runs.finish_attempt(run.run_id, node.id, step.attempt_count, AttemptStatus.COMPLETED, now, duration_ms, None, None)
    output = {**(step.output or {}), "wokeAt": now}
    runs.update_step(
        run.run_id, node.id, node.type, StepUpdate(status=StepStatus.COMPLETED, ended_at=now, output=output)
    )
    next_id = flow_graph.default_next(definition, node)
    return InterpreterState(run_id=run.run_id, seq=task.seq + 1, node=flow_graph.ref(definition, next_id))


def _record(
    runs: RunStore,
    task: NodeTask,
    node: Node,
    number: int,
    started: float,
    params: dict[str, Any],
    outcome: NodeOutcome,
    error: ErrorInfo | None,
) -> None:
    ended_at = clock.iso(clock.now())
    if error is None and outcome.wait is not None:
        # the attempt goes on while the state machine waits; the step shows when it wakes up
        runs.annotate_step(
            task.run_id, node.id, {**outcome.step_fields, "input": redact_values(params), "output": outcome.output}
        )
        return
    duration_ms = int((time.monotonic() - started) * 1000)
    attempt_status = AttemptStatus.FAILED if error else AttemptStatus.COMPLETED
    runs.finish_attempt(task.run_id, node.id, number, attempt_status, ended_at, duration_ms, error, outcome.http)
    status = StepStatus.COMPLETED
    if error is not None:
        status = StepStatus.RETRYING if error.retryable else StepStatus.FAILED
    finished = status in (StepStatus.COMPLETED, StepStatus.FAILED)
    update = StepUpdate(
        status=status,
        ended_at=ended_at if finished else None,
        input=redact_values(params),
        output=outcome.output if error is None else None,
        error=error,
        fields={**outcome.step_fields, **({"error": None} if error is None else {})},
    )
    if not runs.update_step(task.run_id, node.id, node.type, update):
        # e.g. the platform marked the step interrupted while this attempt was in flight
        logger.warning("step moved on before this attempt ended", extra={"run_id": task.run_id, "node_id": node.id})


def _close_dangling_attempt(runs: RunStore, run_id: str, node_id: str, number: int) -> None:
    """An earlier attempt never reported (its invocation timed out or crashed): say so."""
    error = ErrorInfo(
        type="AttemptLost",
        message="no outcome was recorded: the invocation timed out or crashed before it finished",
        retryable=True,
    )
    runs.finish_attempt(run_id, node_id, number, AttemptStatus.FAILED, clock.iso(clock.now()), 0, error, None)
