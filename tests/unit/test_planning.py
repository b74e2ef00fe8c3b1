"""When a run is due, its deadline and key, from its flow's trigger and the event (pure logic)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automations.adapters.scheduler import at_expression
from automations.domain import clock
from automations.domain.triggers import TriggerEvent
from automations.errors import ConfigurationError, MissingVariable
from automations.flows.definition import Flow
from automations.logic.planning import correlation_key, deadline_after, due_time, event_run_plan

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)


def event(data: object) -> TriggerEvent:
    return TriggerEvent(
        trigger_id="trg_1",
        account_id="acct",
        kind="event",
        received_at=clock.iso(NOW),
        event_type="appointment.created",
        event_id="evt-1",
        data=data,
    )


def flow(**trigger: object) -> Flow:
    return Flow.model_validate(
        {
            "flowId": "flow_1",
            "accountId": "acct",
            "name": "reminder",
            "version": 1,
            "trigger": {"type": "event", "event": "appointment.created", **trigger},
            "webhookSecret": "whsec",
            "createdAt": clock.iso(NOW),
            "updatedAt": clock.iso(NOW),
        }
    )


def test_no_at_means_now_and_an_at_template_gives_the_time() -> None:
    variables = {"trigger": event({"start": "2027-03-05T10:00:00Z"}).variables()}
    assert due_time(None, variables, now=NOW) == NOW
    due = due_time("{{ trigger.data.start | add_days(-1) }}", variables, now=NOW)
    assert due == datetime(2027, 3, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "error"),
    [({}, MissingVariable), ({"start": "soon"}, ConfigurationError), ({"start": 42}, ConfigurationError)],
)
def test_an_at_that_gives_no_time_is_the_runs_permanent_error(data, error) -> None:
    with pytest.raises(error):
        due_time("{{ trigger.data.start }}", {"trigger": event(data).variables()}, now=NOW)


def test_the_deadline_is_a_duration_after_the_due_time() -> None:
    assert deadline_after(NOW, "PT2H") == "2027-03-01T14:00:00.000Z"
    assert deadline_after(NOW, None) is None


def test_a_key_that_does_not_resolve_is_no_key() -> None:
    variables = {"trigger": event({"id": 7}).variables()}
    assert correlation_key("{{ trigger.data.id }}", variables) == "7"
    assert correlation_key("{{ trigger.data.missing }}", variables) is None
    assert correlation_key(None, variables) is None


def test_an_event_plan_carries_due_time_deadline_and_key_or_says_why_it_cannot() -> None:
    reminder = flow(at="{{ trigger.data.start | add_days(-1) }}", key="{{ trigger.data.id }}", deadline="PT1H")
    plan = event_run_plan(reminder, event({"id": "apt-1", "start": "2027-03-05T10:00:00Z"}))
    assert (plan.scheduled_for, plan.deadline, plan.correlation_key, plan.error) == (
        "2027-03-04T10:00:00.000Z",
        "2027-03-04T11:00:00.000Z",
        "apt-1",
        None,
    )
    failed = event_run_plan(reminder, event({"id": "apt-2"}))
    assert failed.error is not None and failed.error.type == "MissingVariable"
    assert failed.correlation_key == "apt-2"  # still withdrawable by key, though it will never run


def test_a_schedule_fires_in_whole_seconds_never_before_its_time() -> None:
    assert at_expression("2027-03-04T10:00:00.000Z") == "at(2027-03-04T10:00:00)"
    assert at_expression("2027-03-04T10:00:00.001Z") == "at(2027-03-04T10:00:01)"
