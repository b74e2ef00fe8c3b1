"""Express first, Standard when it must wait: a run's hand-off between the two state machines.

A run starts on the Express machine: billed per execution and by duration, not per state
transition, so a run that goes well costs a fraction. Express executions live at most five
minutes and cannot wait long, so the run is handed off to the Standard machine, as a second
execution of the same run at the node in question, when

- the next node waits (a delay): ``route`` points the Express interpreter at ``HandOff``;
- the execution's time budget is spent (``route``, likewise);
- a node failed in a way a Standard retrier would retry, beyond the short retries Express makes
  itself (``errors.EXPRESS_RETRIERS``), or asked for a short Retry-After (the Express ASL's
  Catch and NextNode go to ``HandOff``): the Standard execution first waits the schedule's next
  wait, then runs the node in a Task state whose retriers continue the schedule
  (``errors.CONTINUED_RETRIERS``).

The hand-off is one transaction: the Standard execution is requested (the stream starts it, by
name, like any other), the run's current execution becomes it, and the Express execution ends
``handed_off``. The run's history stays one: its steps and attempts are the run's, whichever
execution made them; ``Run.path`` and the executions say which machine ran what.
"""

from __future__ import annotations

import math
import random
from datetime import timedelta
from typing import Any

from automations import errors
from automations.domain import clock
from automations.domain.interpreter import HAND_OFF_TASK, InterpreterState, LifecycleTask
from automations.domain.runs import Execution, Machine, Run, execution_name
from automations.domain.status import RunStatus
from automations.nodes import REGISTRY
from automations.observability import logger
from automations.ports import Store

# An Express execution lives at most 5 minutes (``EXPRESS_LIFETIME``). Past the budget, the run hands
# off at its next node: that node's task may still take 125 s (two attempts of up to 60 s, the
# retry's wait of up to 5 s: ``errors.EXPRESS_RETRIERS``), and the hand-off a few more.
EXPRESS_TIME_BUDGET = timedelta(seconds=150)


def route(run: Run, state: InterpreterState) -> InterpreterState:
    """On Express: ``HandOff`` instead of a node that waits, or once the time budget is spent."""
    if not run.on_express or state.node.id is None:
        return state
    waits = REGISTRY.get(state.node.type).waits
    started = clock.parse_iso(run.started_at) if run.started_at else clock.now()
    if not waits and clock.now() - started <= EXPRESS_TIME_BUDGET:
        return state
    return state.model_copy(update={"node": state.node.model_copy(update={"task": HAND_OFF_TASK})})


def _backoff(caught: dict[str, Any] | None, retry_after: int | None) -> tuple[int | None, str]:
    """How long the Standard execution waits before the node, and why it was handed off."""
    if caught is not None:
        name = str(caught.get("Error") or "")
        profile = errors.retrier_for(name) or errors.TRANSIENT  # Express catches only what these retry
        # FULL jitter, as the Retry block would have drawn it
        wait = max(1, math.ceil(random.uniform(0, errors.hand_off_wait_ceiling(profile))))  # noqa: S311
        return wait, f"a retryable {name}"
    if retry_after is not None:
        return retry_after, f"a Retry-After of {retry_after} s"
    return None, "the node waits, or the Express execution's time runs short"


def hand_off(store: Store, task: LifecycleTask) -> dict[str, Any] | None:
    """Request the Standard execution that goes on at the state's node, and end this one; None when
    the run is no longer this execution's to hand off (cancelled, or another took it)."""
    raw = dict(task.state or {})
    caught = raw.pop("error", None)  # a Catch's {Error, Cause}: not part of the interpreter's state
    state = InterpreterState.model_validate(raw)
    name = task.execution_name or task.run_id
    detail = store.get_run_detail(task.run_id)
    if detail is None or state.node.id is None:
        return None
    run, handing = detail.run, next((e for e in detail.executions if e.name == name), None)
    if handing is None or run.current_execution != name or run.status not in (RunStatus.RUNNING, RunStatus.RETRYING):
        return None
    wait, why = _backoff(caught, state.retry_after_seconds)
    now = clock.iso(clock.now())
    ordinal = len(detail.executions)
    standard = Execution(
        run_id=run.run_id,
        name=execution_name(run.run_id, ordinal),
        ordinal=ordinal,
        start_at=state.node.id,
        first_step_number=state.step_number,
        due_at=now,
        requested_at=now,
        reason=f"handed off by Express at '{state.node.id}': {why}",
        machine=Machine.STANDARD,
        wait_seconds=wait,
        continues_retries=True if caught is not None else None,
    )
    if not store.hand_off(run_id=run.run_id, handing=handing, from_arn=task.execution_arn, to=standard, at=now):
        return None
    logger.info("handed off to Standard", extra={"execution": standard.name, "node_id": state.node.id, "why": why})
    return {"runId": run.run_id, "handedOffTo": standard.name}
