"""Run and step statuses (the handbook's exact strings) and their transition tables.

A status only moves along an allowed edge, so a late or duplicated signal can never move
it backwards: every writer updates conditionally on ``allowed_previous(...)``.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    INTERRUPTED = "interrupted"
    CANCELLED = "cancelled"


class StepStatus(StrEnum):
    SCHEDULED = "scheduled"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    RETRYING = "retrying"
    INTERRUPTED = "interrupted"


class AttemptStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


_R = RunStatus
RUN_TRANSITIONS: dict[RunStatus, frozenset[RunStatus]] = {
    # queued: starts, is withdrawn, expires past its deadline, or is cut off by the platform
    _R.SCHEDULED: frozenset({_R.RUNNING, _R.CANCELLED, _R.FAILED, _R.INTERRUPTED}),
    _R.RUNNING: frozenset({_R.RETRYING, _R.COMPLETED, _R.FAILED, _R.INTERRUPTED, _R.CANCELLED}),
    # a retry that succeeds goes back to running; the last step may also finish the run
    _R.RETRYING: frozenset({_R.RUNNING, _R.COMPLETED, _R.FAILED, _R.INTERRUPTED, _R.CANCELLED}),
    # paused by the platform: resumed, given up on, or cancelled by an operator
    _R.INTERRUPTED: frozenset({_R.RUNNING, _R.FAILED, _R.CANCELLED}),
    _R.COMPLETED: frozenset(),
    _R.FAILED: frozenset(),
    _R.CANCELLED: frozenset(),
}

_S = StepStatus
STEP_TRANSITIONS: dict[StepStatus, frozenset[StepStatus]] = {
    # queued: begins, is cut off with its run, or fails before it began (its task crashed or timed out)
    _S.SCHEDULED: frozenset({_S.RUNNING, _S.INTERRUPTED, _S.FAILED}),
    _S.RUNNING: frozenset({_S.COMPLETED, _S.FAILED, _S.RETRYING, _S.INTERRUPTED}),
    _S.RETRYING: frozenset({_S.RUNNING, _S.FAILED, _S.INTERRUPTED}),
    _S.INTERRUPTED: frozenset({_S.RUNNING, _S.FAILED}),
    _S.COMPLETED: frozenset(),
    _S.FAILED: frozenset(),
}

TERMINAL_RUN_STATUSES = frozenset(s for s, nxt in RUN_TRANSITIONS.items() if not nxt)


def can_transition_run(current: RunStatus, new: RunStatus) -> bool:
    return new in RUN_TRANSITIONS[current]


def can_transition_step(current: StepStatus, new: StepStatus) -> bool:
    return new in STEP_TRANSITIONS[current]


def run_statuses_leading_to(new: RunStatus) -> list[RunStatus]:
    """The statuses a run may be in for ``new`` to be a legal next status."""
    return [s for s, nxt in RUN_TRANSITIONS.items() if new in nxt]


def step_statuses_leading_to(new: StepStatus) -> list[StepStatus]:
    return [s for s, nxt in STEP_TRANSITIONS.items() if new in nxt]
