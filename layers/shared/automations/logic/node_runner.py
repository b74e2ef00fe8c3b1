"""Running one node as one attempt of its step, and recording what happened.

Every node type goes through ``run_node``: it claims the attempt (step -> running), resolves
the node's placeholders, calls the node type's executor (from the registry), applies its output
rules, records the attempt and the step, and either returns the interpreter's next state or
raises the node's error for the state machine's Retry/Catch blocks to act on. Two outcomes hand
control back to the state machine without raising: a wait (the node waits until a time; the
lifecycle's ``wake_up`` completes it) and a 429 with a short Retry-After (wait exactly that long,
then run the node again).

Wherever the interpreter goes on to a next node (``proceed``), pure nodes (``runs_inline``:
``condition``, ``set``) run right there, each as a step of its own: they cost no Task state.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from automations.domain import clock, item_budget
from automations.domain.interpreter import InterpreterState, NodeRef, NodeTask
from automations.domain.node_settings import NodeSettings
from automations.domain.redaction import redact_values
from automations.domain.runs import ErrorInfo, HttpExchange, Run, StatusChange, Step
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.domain.templating import render
from automations.errors import EmptyOutput, NodeError, RateLimited
from automations.flows import graph
from automations.flows.definition import Node
from automations.logic import hand_off
from automations.logic.run_context import RunContext, load_run_context
from automations.logic.steps import queued_at, queued_step
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
    """One attempt of the node a Task state names; then on to the next node (see ``proceed``)."""
    done = _attempt(store, task, services)
    if done.error is not None:
        raise done.error
    if done.state.wait is not None or done.state.retry_after_seconds is not None:  # this node again, later
        return done.state
    return proceed(store, done.state, done.context.run)


def proceed(store: Store, state: InterpreterState, run: Run) -> InterpreterState:
    """Go to ``state.node``: nodes that run inline (pure: ``condition``, ``set``) run here and now,
    each as a step of its own, until a node that needs its Task state, or the end; the state machine
    goes there (on Express, maybe by way of a hand-off). That node's step is next in line (derived:
    ``steps.next_in_line``) until its claim writes it."""
    while state.node.id is not None and REGISTRY.get(state.node.type).runs_inline:
        state = _run_inline(store, state)
    return hand_off.route(run, state)


class _ReadsNoSecrets:
    def get(self, name: str) -> str | None:
        raise RuntimeError(f"a node that runs inline read the secret '{name}'")


# what an inline node gets as services: it reads nothing from outside (see NodeType.runs_inline)
_INLINE_SERVICES = NodeServices(secrets=_ReadsNoSecrets(), settings=NodeSettings())


def _run_inline(store: Store, state: InterpreterState) -> InterpreterState:
    """One inline node, from its step next in line (or interrupted) to the state after it. It has no Task
    state, so no Retry or Catch: what ``StepFailed`` does for a Task's error is done here (its
    errors are permanent: the same input fails the same way)."""
    assert state.node.id is not None
    task = NodeTask(run_id=state.run_id, step_number=state.step_number, node_id=state.node.id)
    done = _attempt(store, task, _INLINE_SERVICES, inline=True)
    if done.state.wait is not None or done.state.retry_after_seconds is not None:
        raise RuntimeError(f"node type '{state.node.type}' runs inline but asked to wait")
    if done.error is None and not done.failed_before:
        return done.state
    assert done.node is not None
    following = graph.after_failure(done.context.definition, done.node)
    return InterpreterState(
        run_id=task.run_id, step_number=task.step_number + 1, node=graph.ref(done.context.definition, following)
    )


@dataclass
class _Done:
    """One attempt's end: the state after it (the next node, or this one to wait or run again), or
    the node's error (recorded already)."""

    state: InterpreterState
    context: RunContext
    error: NodeError | None = None
    node: Node | None = None
    failed_before: bool = False  # an inline node's step recorded failed by an earlier invocation


def _attempt(store: Store, task: NodeTask, services: NodeServices, *, inline: bool = False) -> _Done:
    context = load_run_context(store, task.run_id)
    if context.run.status == RunStatus.CANCELLED:  # an operator cancelled it; its execution is being stopped
        logger.info("run cancelled; not running the node", extra={"node_id": task.node_id})
        return _Done(InterpreterState(run_id=task.run_id), context)
    node = context.definition.node(task.node_id)
    node_type = REGISTRY.of(node)
    earlier = context.step(node.id)
    if earlier is not None and earlier.status in (StepStatus.COMPLETED, *((StepStatus.FAILED,) if inline else ())):
        # a retried invocation (the first ran the node, or ran it inline, then died or timed out
        # before its answer reached the state machine): go on from the recorded step
        logger.warning("step recorded already; going on from it", extra={"node_id": node.id})
        if earlier.status == StepStatus.FAILED:
            return _Done(InterpreterState(run_id=task.run_id), context, node=node, failed_before=True)
        next_id = earlier.next_node or graph.default_next(context.definition, node)
        following = graph.ref(context.definition, next_id)
        return _Done(InterpreterState(run_id=task.run_id, step_number=task.step_number + 1, node=following), context)
    now = clock.iso(clock.now())
    queued = queued_at(context.run, context.steps, task.step_number)
    attempt: _Attempt
    if inline:  # one attempt, recorded with its step in one write: no claim
        attempt = _InlineAttempt(store, task, node, started_at=now, queued_at=queued, earlier=earlier)
    else:
        claim = store.begin_attempt(
            run_id=task.run_id,
            node_id=node.id,
            node_type=node.type,
            step_number=task.step_number,
            queued_at=queued,
            at=now,
        )
        if claim.dangling_attempt:
            _close_dangling_attempts(store, earlier, task.run_id, node.id, claim.dangling_attempt)
        attempt = _Attempt(store, task, node, claim.number, started_at=now)
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
    if outcome.next_node is not None:  # the branch it chose, kept with the step (see `earlier` above)
        outcome.step_fields["nextNode"] = outcome.next_node
    attempt.record(params, outcome, error_info(outcome.error) if outcome.error else None)
    here = NodeRef(id=node.id, type=node.type, task=node_type.task)
    retry_after = inline_retry_after(outcome.error, attempt.number)
    if retry_after is not None:
        state = InterpreterState(
            run_id=task.run_id, step_number=task.step_number, node=here, retry_after_seconds=retry_after
        )
        return _Done(state, context)
    if outcome.error is not None:
        return _Done(InterpreterState(run_id=task.run_id), context, outcome.error, node)
    if outcome.wait is not None:
        # what the run recorded so far (its steps' outputs above all) must outlive the wait
        store.keep_run_until(context.run, at=outcome.wait.until)
        state = InterpreterState(run_id=task.run_id, step_number=task.step_number, node=here, wait=outcome.wait)
        return _Done(state, context)
    next_id = outcome.next_node if outcome.next_node is not None else graph.default_next(context.definition, node)
    following = graph.ref(context.definition, next_id)
    return _Done(InterpreterState(run_id=task.run_id, step_number=task.step_number + 1, node=following), context)


def _node_context(context: RunContext, node: Node, variables: dict[str, Any]) -> NodeContext:
    return NodeContext(
        account_id=context.run.account_id, run_id=context.run.run_id, node_id=node.id, variables=variables
    )


class _Attempt:
    """Records the outcome of one attempt and the step it belongs to."""

    def __init__(self, store: Store, task: NodeTask, node: Node, number: int, *, started_at: str) -> None:
        self.store, self.task, self.node, self.number = store, task, node, number
        self.started_at, self.started = started_at, time.monotonic()

    def fitted(self, params: dict[str, Any], outcome: NodeOutcome, error: ErrorInfo | None) -> item_budget.Fitted:
        """The step's input and output fitted to the items' budget (``domain.item_budget``), so that no
        write can fail for size after the node's call went out; the input is cut first (later nodes
        read the output)."""
        recorded = item_budget.fit(
            {"input": redact_values(params), "output": outcome.output if error is None else None}
        )
        if recorded.truncated:
            logger.warning("step values recorded truncated", extra={"node_id": self.node.id, "at": recorded.truncated})
        return recorded

    def record(self, params: dict[str, Any], outcome: NodeOutcome, error: ErrorInfo | None) -> None:
        run_id, node = self.task.run_id, self.node
        ended_at = clock.iso(clock.now())
        recorded = self.fitted(params, outcome, error)
        marks = {"truncated": recorded.truncated or None}
        if error is None and outcome.wait is not None:
            # the attempt goes on while the state machine waits; the step shows when it wakes up
            fields = {**outcome.step_fields, **recorded.values, **marks}
            self.store.annotate_step(run_id=run_id, node_id=node.id, fields=fields)
            return
        http, http_marks = _fitted_exchange(outcome.http)
        result = AttemptResult(
            status=AttemptStatus.FAILED if error else AttemptStatus.COMPLETED,
            started_at=self.started_at,
            ended_at=ended_at,
            duration_ms=int((time.monotonic() - self.started) * 1000),
            error=error,
            http=http,
            truncated=http_marks,
        )
        status = StepStatus.COMPLETED
        if error is not None:
            status = StepStatus.RETRYING if error.retryable else StepStatus.FAILED
        finished = status in (StepStatus.COMPLETED, StepStatus.FAILED)
        # the attempt that ends its step is recorded on the step, in the same write, when the two fit
        # one item's budget; an attempt the step goes on after (retrying) gets an item of its own
        on_step = finished and item_budget.item_size({**recorded.values, "http": http and http.dump()}) <= (
            item_budget.RECORDED_BUDGET_BYTES
        )
        if not on_step and not self.store.finish_attempt(
            run_id=run_id, node_id=node.id, number=self.number, result=result
        ):
            # a late outcome: this attempt was given up on (its invocation timed out) and closed
            logger.warning("attempt closed already; outcome ignored", extra={"run_id": run_id, "node_id": node.id})
            return
        update = StepUpdate(
            status=status,
            ended_at=ended_at if finished else None,
            input=recorded.values["input"],
            output=recorded.values["output"],
            error=error,
            fields={**outcome.step_fields, **marks, **({"error": None} if error is None else {})},
            attempt=self.number,
            ended_attempt=result if on_step else None,
        )
        if not self.store.update_step(run_id=run_id, node_id=node.id, node_type=node.type, update=update):
            # the platform marked the step interrupted while this attempt was in flight, or (its
            # invocation timed out) a later attempt began
            logger.warning("step moved on before this attempt ended", extra={"run_id": run_id, "node_id": node.id})


class _InlineAttempt(_Attempt):
    """An inline node's one attempt: the whole step (input, output, error, times, history) in one
    write. Run history reads the attempt from the step (``Step.inline_attempt``)."""

    def __init__(
        self, store: Store, task: NodeTask, node: Node, *, started_at: str, queued_at: str, earlier: Step | None
    ) -> None:
        super().__init__(store, task, node, 1, started_at=started_at)
        # the step so far: an execution left it interrupted, or (none) it was next in line since `queued_at`
        self.so_far = earlier or queued_step(task.run_id, node.id, node.type, task.step_number, queued_at)

    def record(self, params: dict[str, Any], outcome: NodeOutcome, error: ErrorInfo | None) -> None:
        ended_at = clock.iso(clock.now())
        recorded = self.fitted(params, outcome, error)
        status = StepStatus.FAILED if error is not None else StepStatus.COMPLETED
        step = Step(
            run_id=self.task.run_id,
            node_id=self.node.id,
            node_type=self.node.type,
            step_number=self.task.step_number,
            status=status,
            queued_at=self.so_far.queued_at,
            started_at=self.started_at,
            ended_at=ended_at,
            input=recorded.values["input"],
            output=recorded.values["output"],
            error=error,
            attempt_count=1,
            next_node=outcome.next_node,
            truncated=recorded.truncated or None,
            ran_inline=True,
            history=[
                *self.so_far.history,
                StatusChange(status=StepStatus.RUNNING, at=self.started_at),
                StatusChange(status=status, at=ended_at),
            ],
        )
        if not self.store.record_inline_step(step):  # another invocation of the same task recorded it
            logger.warning("inline step recorded already", extra={"run_id": step.run_id, "node_id": step.node_id})


def _fitted_exchange(http: HttpExchange | None) -> tuple[HttpExchange | None, list[str] | None]:
    """The HTTP exchange as the attempt records it, within the item budget; where it was cut."""
    if http is None:
        return None, None
    fitted = item_budget.fit({"request": http.request, "response": http.response}, prefix="/http")
    if not fitted.truncated:
        return http, None
    return HttpExchange(request=fitted.values["request"], response=fitted.values["response"]), fitted.truncated


def _close_dangling_attempts(store: Store, step: Step | None, run_id: str, node_id: str, latest: int) -> None:
    """Earlier attempts never reported (their invocations timed out or crashed): say so.

    From the latest down, until one that had ended: an invocation can die before it recorded its
    attempt's end (then only its step's claim knows of it), and so can the next one.
    """
    error = ErrorInfo(
        type="AttemptLost",
        message="no outcome was recorded: the invocation timed out or crashed before it finished",
        retryable=True,
    )
    now = clock.iso(clock.now())
    for number in range(latest, 0, -1):
        started = step.attempt_started_at(number) if step is not None else None
        result = AttemptResult(
            status=AttemptStatus.FAILED, started_at=started, ended_at=now, duration_ms=0, error=error
        )
        if not store.finish_attempt(run_id=run_id, node_id=node_id, number=number, result=result):
            return
