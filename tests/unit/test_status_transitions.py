"""Every allowed and every forbidden transition of the run and step status tables."""

from __future__ import annotations

import itertools

import pytest

from automations.domain.status import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    TERMINAL_RUN_STATUSES,
    RunStatus,
    StepStatus,
    can_transition_run,
    can_transition_step,
    run_statuses_leading_to,
)

ALLOWED_RUN = {
    ("scheduled", "running"),
    ("scheduled", "cancelled"),
    ("scheduled", "failed"),
    ("scheduled", "interrupted"),
    ("running", "retrying"),
    ("running", "completed"),
    ("running", "failed"),
    ("running", "interrupted"),
    ("running", "cancelled"),
    ("retrying", "running"),
    ("retrying", "completed"),
    ("retrying", "failed"),
    ("retrying", "interrupted"),
    ("retrying", "cancelled"),
    ("interrupted", "running"),
    ("interrupted", "failed"),
    ("interrupted", "cancelled"),
}
ALLOWED_STEP = {
    ("scheduled", "running"),
    ("scheduled", "interrupted"),
    ("scheduled", "failed"),  # its task crashed or timed out before the attempt began
    ("running", "completed"),
    ("running", "failed"),
    ("running", "retrying"),
    ("running", "interrupted"),
    ("retrying", "running"),
    ("retrying", "failed"),
    ("retrying", "interrupted"),
    ("interrupted", "running"),
    ("interrupted", "failed"),
}


def test_statuses_are_exactly_the_handbooks_strings() -> None:
    assert [s.value for s in RunStatus] == [
        "scheduled",
        "running",
        "completed",
        "failed",
        "retrying",
        "interrupted",
        "cancelled",
    ]
    assert [s.value for s in StepStatus] == ["scheduled", "running", "completed", "failed", "retrying", "interrupted"]


@pytest.mark.parametrize(("current", "new"), list(itertools.product(list(RunStatus), repeat=2)))
def test_every_run_transition_is_allowed_or_forbidden_as_specified(current: RunStatus, new: RunStatus) -> None:
    # Given a run in `current`, When a signal asks for `new`, Then only the listed edges are legal
    assert can_transition_run(current, new) == ((current.value, new.value) in ALLOWED_RUN)


@pytest.mark.parametrize(("current", "new"), list(itertools.product(list(StepStatus), repeat=2)))
def test_every_step_transition_is_allowed_or_forbidden_as_specified(current: StepStatus, new: StepStatus) -> None:
    assert can_transition_step(current, new) == ((current.value, new.value) in ALLOWED_STEP)


def test_terminal_run_statuses_never_move_again() -> None:
    assert {s.value for s in TERMINAL_RUN_STATUSES} == {"completed", "failed", "cancelled"}
    for status in TERMINAL_RUN_STATUSES:
        assert not RUN_TRANSITIONS[status]


def test_a_completed_run_can_never_become_running_again() -> None:
    assert RunStatus.COMPLETED not in run_statuses_leading_to(RunStatus.RUNNING)


def test_tables_cover_every_status() -> None:
    assert set(RUN_TRANSITIONS) == set(RunStatus)
    assert set(STEP_TRANSITIONS) == set(StepStatus)
