"""Running one node as one attempt of its step, and recording what happened.

Every node type goes through ``run_node``: it claims the attempt (step -> running), resolves
the node's placeholders, calls the node type's executor (from the registry), applies its output
rules, records the attempt and the step, and either returns the interpreter's next state or
raises the node's error for the state machine's Retry/Catch blocks to act on. Two outcomes hand
control back to the state machine without raising: a wait (the node waits until a time; the
lifecycle's ``wake_up`` completes it) and a 429 with a short Retry-After (wait exactly that long,
then run the node again).
"""

from __future__ import annotations

import math
import time
from typing import Any

from automations.domain import clock, item_budget
from automations.domain.interpreter import InterpreterState, NodeRef, NodeTask
from automations.domain.redaction import redact_values
from automations.domain.runs import ErrorInfo, HttpExchange
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.domain.templating import render
from automations.errors import EmptyOutput, NodeError, RateLimited
from automations.flows import graph
from automations.flows.definition import Node
from automations.logic.run_context import RunContext, load_run_context
from automations.logic.steps import queue_next
from automations.nodes import REGISTRY
from automations.nodes.base import NodeContext, NodeOutcome, NodeServices
from automations.observability import logger
from automations.ports import AttemptResult, StepUpdate, Store

# A 429 whose Retry-After is at most this long is honoured exactly by a Wait state, for the
# first few attempts; longer or repeated ones go to the slower RateLimited retrier.
INLINE_RETRY_AFTER_MAX_SECONDS = 60
INLINE_RATE_LIMIT_ATTEMPTS = 3


def error_info(error: BaseException) -> ErrorInfo:
    if isinstance(error, NodeError):
        return ErrorInfo(type=error.type, message=error.message, retryable=error.retryable)
    return ErrorInfo(type=type(error).__name__, message=str(error) or repr(error), retryable=False)


def template_params(node: Node) -> dict[str, Any]:
    """The node's fields that may hold placeholders, with their wire names."""
    data = node.model_dump(mode="json", by_alias=True)
    return {name: data[name] for name in node.template_fields if data.get(name) is not None}


def inline_retry_after(error: NodeError | None, attempt: int) -> int | None:
    if not isinstance(error, RateLimited) or error.retry_after_seconds is None:
        return None
    if error.retry_after_seconds > INLINE_RETRY_AFTER_MAX_SECONDS or attempt >= INLINE_RATE_LIMIT_ATTEMPTS:
        return None
    return max(1, math.ceil(error.retry_after_seconds))


def run_node(store: Store, task: NodeTask, services: NodeServices) -> InterpreterState:
    context = load_run_context(store, task.run_id)
    if context.run.status == RunStatus.CANCELLED:  # an operator cancelled it; its execution is being stopped
        logger.info("run cancelled; not running the node", extra={"node_id": task.node_id})
        return InterpreterState(run_id=task.run_id)
    node = context.definition.node(task.node_id)
    node_type = REGISTRY.of(node)
    claim = store.begin_attempt(
        run_id=task.run_id,
        node_id=node.id,
        node_type=node.type,
        step_number=task.step_number,
        at=clock.iso(clock.now()),
    )
    if claim.dangling_attempt:
        _close_dangling_attempts(store, task.run_id, node.id, claim.dangling_attempt)
    attempt = _Attempt(store, task, node, claim.number)
    params: dict[str, Any] = {}
    try:
        variables = context.variables()
        params = render(template_params(node), variables)
        outcome = node_type.execute(node, params, _node_context(context, node, variables), services)
    except NodeError as error:
        outcome = NodeOutcome(error=error)
    except Exception as unexpected:  # a bug: record it on the attempt, then let it surface as an engine error
        logger.exception("node executor crashed", extra={"run_id": task.run_id, "node_id": node.id})
        attempt.record(params, NodeOutcome(), error_info(unexpected))
        raise
    if outcome.error is None and node.fail_on_empty_output and node_type.is_empty(outcome.output):
        outcome.error = EmptyOutput(f"node '{node.id}' produced empty output and declares failOnEmptyOutput")
    attempt.record(params, outcome, error_info(outcome.error) if outcome.error else None)
    here = NodeRef(id=node.id, type=node.type, task=node_type.task)
    retry_after = inline_retry_after(outcome.error, claim.number)
    if retry_after is not None:
        return InterpreterState(
            run_id=task.run_id, step_number=task.step_number, node=here, retry_after_seconds=retry_after
        )
    if outcome.error is not None:
        raise outcome.error
    if outcome.wait is not None:
        return InterpreterState(run_id=task.run_id, step_number=task.step_number, node=here, wait=outcome.wait)
    next_id = outcome.next_node if outcome.next_node is not None else graph.default_next(context.definition, node)
    following = graph.ref(context.definition, next_id)
    return queue_next(store, InterpreterState(run_id=task.run_id, step_number=task.step_number + 1, node=following))


def _node_context(context: RunContext, node: Node, variables: dict[str, Any]) -> NodeContext:
    return NodeContext(
        account_id=context.run.account_id, run_id=context.run.run_id, node_id=node.id, variables=variables
    )


class _Attempt:
    """Records the outcome of one attempt and the step it belongs to."""

    def __init__(self, store: Store, task: NodeTask, node: Node, number: int) -> None:
        self.store, self.task, self.node, self.number = store, task, node, number
        self.started = time.monotonic()

    def record(self, params: dict[str, Any], outcome: NodeOutcome, error: ErrorInfo | None) -> None:
        """Fits what is recorded to the items' budget first (``domain.item_budget``), so that no write
        can fail for size after the node's call went out."""
        run_id, node = self.task.run_id, self.node
        ended_at = clock.iso(clock.now())
        # the input goes first: later nodes read the output
        recorded = item_budget.fit(
            {"input": redact_values(params), "output": outcome.output if error is None else None}
        )
        marks = {"truncated": recorded.truncated or None}
        if recorded.truncated:
            logger.warning("step values recorded truncated", extra={"node_id": node.id, "at": recorded.truncated})
        if error is None and outcome.wait is not None:
            # the attempt goes on while the state machine waits; the step shows when it wakes up
            fields = {**outcome.step_fields, **recorded.values, **marks}
            self.store.annotate_step(run_id=run_id, node_id=node.id, fields=fields)
            return
        http, http_marks = _fitted_exchange(outcome.http)
        result = AttemptResult(
            status=AttemptStatus.FAILED if error else AttemptStatus.COMPLETED,
            ended_at=ended_at,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            error=error,
            http=http,
            truncated=http_marks,
        )
        if not self.store.finish_attempt(run_id=run_id, node_id=node.id, number=self.number, result=result):
            # a late outcome: this attempt was given up on (its invocation timed out) and closed
            logger.warning("attempt closed already; outcome ignored", extra={"run_id": run_id, "node_id": node.id})
            return
        status = StepStatus.COMPLETED
        if error is not None:
            status = StepStatus.RETRYING if error.retryable else StepStatus.FAILED
        finished = status in (StepStatus.COMPLETED, StepStatus.FAILED)
        update = StepUpdate(
            status=status,
            ended_at=ended_at if finished else None,
            input=recorded.values["input"],
            output=recorded.values["output"],
            error=error,
            fields={**outcome.step_fields, **marks, **({"error": None} if error is None else {})},
            attempt=self.number,
        )
        if not self.store.update_step(run_id=run_id, node_id=node.id, node_type=node.type, update=update):
            # e.g. the platform marked the step interrupted while this attempt was in flight
            logger.warning("step moved on before this attempt ended", extra={"run_id": run_id, "node_id": node.id})


def _fitted_exchange(http: HttpExchange | None) -> tuple[HttpExchange | None, list[str] | None]:
    """The HTTP exchange as the attempt records it, within the item budget; where it was cut."""
    if http is None:
        return None, None
    fitted = item_budget.fit({"request": http.request, "response": http.response}, prefix="/http")
    if not fitted.truncated:
        return http, None
    return HttpExchange(request=fitted.values["request"], response=fitted.values["response"]), fitted.truncated


def _close_dangling_attempts(store: Store, run_id: str, node_id: str, latest: int) -> None:
    """Earlier attempts never reported (their invocations timed out or crashed): say so.

    From the latest down, until one that had ended: an invocation can die before it even
    recorded its attempt (then nothing but the count knows of it), and so can the next one.
    """
    error = ErrorInfo(
        type="AttemptLost",
        message="no outcome was recorded: the invocation timed out or crashed before it finished",
        retryable=True,
    )
    result = AttemptResult(status=AttemptStatus.FAILED, ended_at=clock.iso(clock.now()), duration_ms=0, error=error)
    for number in range(latest, 0, -1):
        if not store.finish_attempt(run_id=run_id, node_id=node_id, number=number, result=result):
            return
