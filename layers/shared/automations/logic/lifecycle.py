"""A run's executions, from the inside: start, wake up after a wait, a step that failed for good,
the end, an engine error. (From the outside, an execution that ended without reaching its end:
``ended_executions``.)

The interpreter only records facts here (started, step failed, execution ended and how); the
stream handler derives the run's status from them (see ``reactions``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from automations.domain import clock
from automations.domain.interpreter import InterpreterState, LifecycleTask, continued_task
from automations.domain.runs import ErrorInfo, ExecutionOutcome, Run
from automations.domain.status import AttemptStatus, RunStatus, StepStatus
from automations.errors import NotFound
from automations.flows import graph
from automations.logic import hand_off, key_events
from automations.logic.flows import load_version
from automations.logic.liveness import LIVENESS_CHECK_INTERVAL
from automations.logic.node_runner import proceed
from automations.logic.run_context import StepAtNode, load_step_at_node
from automations.logic.steps import end_step
from automations.logic.waiting_runs import settle_before_start
from automations.nodes import REGISTRY
from automations.observability import Metric, count, log_run_keys, logger
from automations.ports import AttemptResult, ExecutionEnd, StepUpdate, Store, TransitionRejected


def start(store: Store, task: LifecycleTask) -> InterpreterState:
    """The run becomes running under this execution, which points at its first node.

    A run that is no longer startable (cancelled, rescheduled to another execution, or taken by
    another) ends at once; so does a waiting run past its deadline (it expires), whose flow was
    deleted or replaced meanwhile, or whose key an event withdrew (it is cancelled), or that an
    event moved later (``key_events.catch_up``: it waits again).
    """
    name = task.execution_name or task.run_id
    run, execution = store.get_run_and_execution(task.run_id, name)
    if execution is None or run is None:
        logger.warning("no such execution of the run recorded; ending", extra={"execution": name})
        return InterpreterState(run_id=task.run_id)
    log_run_keys(run)
    if run.current_execution == name and key_events.catch_up(store, run):
        return InterpreterState(run_id=task.run_id)  # it waits again, under the execution it was moved to
    if run.current_execution == name and settle_before_start(store, run):
        logger.info("waiting run ended instead of starting", extra={"execution": name})
        return InterpreterState(run_id=task.run_id)
    first_start = run.status == RunStatus.SCHEDULED
    try:
        now = clock.now()
        run = store.start_execution(
            run_id=task.run_id,
            name=name,
            arn=task.execution_arn,
            at=clock.iso(now),
            check_after=clock.iso(now + LIVENESS_CHECK_INTERVAL),
            # a resume says who asked for it in the run's history
            cause=execution.reason if run.status == RunStatus.INTERRUPTED else None,
        )
    except TransitionRejected:
        # or an Express start repeated (Express does not dedupe names): the execution is another's
        logger.info("run is no longer startable; ending without running a node", extra={"execution": name})
        return InterpreterState(run_id=task.run_id)
    logger.info("run started", extra={"machine": run.path[-1] if run.path else None, "start_at": execution.start_at})
    if first_start:  # (counted here, once: a start redelivered to Step Functions may be answered as new)
        count(Metric.RUNS_STARTED)
        _count_start_delay(run, now)
    definition = load_version(store, run.flow_id, run.flow_version).definition
    first = execution.start_at or definition.nodes[0].id
    state = InterpreterState(
        run_id=run.run_id, step_number=execution.first_step_number, node=graph.ref(definition, first)
    )
    if execution.continues_retries:  # handed off after a retryable failure: its schedule goes on
        state.node.task = continued_task(state.node.task)
        state.backoff_seconds = execution.wait_seconds
    else:
        state.retry_after_seconds = execution.wait_seconds
    # the first node is next in line (its step is written by its claim); one that runs inline runs now
    return proceed(store, state, run) if REGISTRY.of(definition.node(first)).runs_inline else hand_off.route(run, state)


def _count_start_delay(run: Run, now: datetime) -> None:
    """How long a run waited to start: from its trigger (due at once), or from its due time."""
    due, created = clock.parse_iso(run.scheduled_for), clock.parse_iso(run.created_at)
    if due <= created:
        count(Metric.TRIGGER_TO_START, round((now - created).total_seconds() * 1000))
    else:
        count(Metric.SCHEDULE_LATENESS, round(max(0.0, (now - due).total_seconds()), 3))


def wake_up(store: Store, task: LifecycleTask) -> InterpreterState:
    """After the Wait state: the waiting attempt and its step complete; go to the next node."""
    if task.node_id is None:
        raise NotFound(f"run '{task.run_id}': wake_up names no node")
    found = load_step_at_node(store, task.run_id, task.node_id)
    run, definition, node, step = found.run, found.definition, found.node, found.step
    if step is None:
        raise NotFound(f"run '{run.run_id}' has no waiting step at '{node.id}'")
    now = clock.iso(clock.now())
    started = step.attempt_started_at(step.attempt_count) or step.started_at
    began = clock.parse_iso(started) if started else clock.now()
    duration_ms = int((clock.now() - began).total_seconds() * 1000)
    result = AttemptResult(status=AttemptStatus.COMPLETED, started_at=started, ended_at=now, duration_ms=duration_ms)
    output = {**(step.output or {}), "wokeAt": now}
    update = StepUpdate(
        status=StepStatus.COMPLETED, ended_at=now, output=output, attempt=step.attempt_count, ended_attempt=result
    )
    store.update_step(run_id=run.run_id, node_id=node.id, node_type=node.type, update=update)
    following = graph.ref(definition, graph.default_next(definition, node))
    return proceed(store, InterpreterState(run_id=run.run_id, step_number=task.step_number + 1, node=following), run)


def error_from_catch(caught: dict[str, Any] | None) -> ErrorInfo:
    """A Catch block's ``{"Error", "Cause"}``; a Lambda's Cause is JSON with errorMessage."""
    caught = caught or {}
    name = str(caught.get("Error") or "States.TaskFailed")
    cause = caught.get("Cause") or ""
    message = cause
    try:
        parsed = json.loads(cause)
        if isinstance(parsed, dict):
            message = str(parsed.get("errorMessage") or cause)
    except (TypeError, ValueError):
        pass
    return ErrorInfo(type=name, message=message or name, retryable=False)


def step_failed(store: Store, task: LifecycleTask) -> InterpreterState:
    """Retries are exhausted or the error was permanent: the step fails; go on only if allowed."""
    if task.node_id is None:
        raise NotFound(f"run '{task.run_id}': step_failed names no node")
    found = load_step_at_node(store, task.run_id, task.node_id)
    _fail_step(store, found, error_from_catch(task.error))
    node, definition = found.node, found.definition
    following = graph.ref(definition, graph.after_failure(definition, node))
    state = InterpreterState(run_id=task.run_id, step_number=task.step_number + 1, node=following)
    return proceed(store, state, found.run)


def _fail_step(store: Store, found: StepAtNode, error: ErrorInfo) -> None:
    """The step failed for good; an attempt still open never reported (its task timed out or crashed)."""
    node = found.node
    end_step(
        store,
        run_id=found.run.run_id,
        node_id=node.id,
        node_type=node.type,
        step=found.step,
        status=StepStatus.FAILED,
        error=error,
    )


def end(store: Store, task: LifecycleTask) -> dict[str, Any]:
    """The execution reached its end: record it (the run's status follows); say whether a step failed."""
    name = task.execution_name or task.run_id
    ending = ExecutionEnd(outcome=ExecutionOutcome.REACHED_END, ended_at=clock.iso(clock.now()))
    # an Express start repeated under the same name ends here too: the ARN keeps its end off the record
    store.end_execution(run_id=task.run_id, name=name, end=ending, arn=task.execution_arn)
    found = store.get_run_and_steps(task.run_id)
    if found is None or found[0].current_execution != name:  # it never took the run (see start)
        return {"runId": task.run_id, "failed": False, "failedSteps": [], "ownedRun": False}
    failed = [s.node_id for s in found[1] if s.status == StepStatus.FAILED]
    return {"runId": task.run_id, "failed": bool(failed), "failedSteps": failed}


def engine_error(store: Store, task: LifecycleTask) -> dict[str, Any]:
    """The interpreter itself broke (not a step): record why, so the run ends failed, not stuck.

    Counted as ``EngineErrors`` and ending the execution in its own Fail state, apart from runs
    that failed at a step (those executions succeed: the engine did its job).
    """
    error = error_from_catch(task.caught())
    count(Metric.ENGINE_ERRORS)
    logger.error("interpreter error", extra={"run_id": task.run_id, "error": error.dump()})
    node_id = task.node_in_flight()
    if node_id is not None:
        try:
            _fail_step(store, load_step_at_node(store, task.run_id, node_id), error)
        except (NotFound, KeyError):  # the node or its flow version cannot be read: the run still ends
            logger.exception("could not mark the step in flight failed", extra={"node_id": node_id})
    name = task.execution_name or task.run_id
    ending = ExecutionEnd(outcome=ExecutionOutcome.ENGINE_ERROR, ended_at=clock.iso(clock.now()), error=error)
    store.end_execution(run_id=task.run_id, name=name, end=ending, arn=task.execution_arn)
    return {"runId": task.run_id, "error": error.dump()}


def hand_off_to_standard(store: Store, task: LifecycleTask) -> dict[str, Any]:
    """Express's ``HandOff``: the run goes on in a Standard execution (see ``logic.hand_off``); when
    it is no longer this execution's to hand off (cancelled meanwhile), this execution just ends."""
    return hand_off.hand_off(store, task) or end(store, task)
