"""The run's life inside the state machine: start, a step that failed for good, the end.

The interpreter only records facts here (started, step failed, execution ended); the stream
handler derives the run's final status from its steps (see ``rollup``).
"""

from __future__ import annotations

import json
from typing import Any

from automations import clock, flow_graph
from automations.errors import NotFound
from automations.logic.flows import load_version
from automations.logic.run_context import load_step_at_node
from automations.models.interpreter import InterpreterState, LifecycleTask
from automations.models.run import ErrorInfo
from automations.models.status import AttemptStatus, StepStatus
from automations.observability import logger
from automations.repository.interfaces import FlowStore, RunStore, StepUpdate, TransitionRejected


def start_run(runs: RunStore, flows: FlowStore, task: LifecycleTask) -> InterpreterState:
    """scheduled -> running, then point at the first node. A cancelled run ends at once."""
    try:
        run = runs.start_run(task.run_id, task.execution_name or task.run_id, clock.iso(clock.now()))
    except TransitionRejected:
        logger.info("run is no longer runnable; ending without running a node", extra={"run_id": task.run_id})
        return InterpreterState(run_id=task.run_id)
    definition = load_version(flows, run.flow_id, run.flow_version).definition
    return InterpreterState(run_id=run.run_id, seq=1, node=flow_graph.first(definition))


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


def step_failed(runs: RunStore, flows: FlowStore, task: LifecycleTask) -> InterpreterState:
    """Retries are exhausted or the error was permanent: the step fails; go on only if allowed."""
    if task.node_id is None:
        raise NotFound(f"run '{task.run_id}': step_failed names no node")
    found = load_step_at_node(runs, flows, task.run_id, task.node_id)
    run, definition, node, step = found.run, found.definition, found.node, found.step
    error = error_from_catch(task.error)
    now = clock.iso(clock.now())
    if step is not None and step.status == StepStatus.RUNNING and step.attempt_count:
        # the attempt never reported: its task timed out or its function crashed
        runs.finish_attempt(run.run_id, node.id, step.attempt_count, AttemptStatus.FAILED, now, 0, error, None)
    # the node usually recorded its own error already; this covers what it could not record
    runs.update_step(run.run_id, node.id, node.type, StepUpdate(status=StepStatus.FAILED, ended_at=now, error=error))
    following = flow_graph.default_next(definition, node) if node.on_error == "continue" else None
    return InterpreterState(run_id=run.run_id, seq=task.seq + 1, node=flow_graph.ref(definition, following))


def finish_run(runs: RunStore, task: LifecycleTask) -> dict[str, Any]:
    """Record that the interpreter reached the end; says whether a step failed (for the console)."""
    runs.mark_execution_ended(task.run_id, clock.iso(clock.now()), None)
    found = runs.get_run_and_steps(task.run_id)
    failed = [s.node_id for s in found[1] if s.status == StepStatus.FAILED] if found else []
    return {"runId": task.run_id, "failed": bool(failed), "failedSteps": failed}


def engine_error(runs: RunStore, task: LifecycleTask) -> dict[str, Any]:
    """The interpreter itself broke (not a node): record why, so the run ends failed, not stuck."""
    error = error_from_catch(task.error)
    logger.error("interpreter error", extra={"run_id": task.run_id, "error": error.dump()})
    runs.mark_execution_ended(task.run_id, clock.iso(clock.now()), error)
    return {"runId": task.run_id, "error": error.dump()}
