"""Executors that need no network: delay, set, the SendGrid payload, the inline Retry-After rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from automations.domain import clock
from automations.errors import ConfigurationError, RateLimited, TransientError
from automations.logic.node_runner import inline_retry_after
from automations.nodes.delay import Delay, DelayNode
from automations.nodes.send_email import mail_send_payload
from automations.nodes.set_variables import SetNode, SetVariables


def delay_node(**fields) -> DelayNode:
    return DelayNode.model_validate({"id": "d", "type": "delay", **fields})


def test_a_delay_in_seconds_wakes_whole_seconds_later_never_earlier(monkeypatch) -> None:
    now = datetime(2026, 3, 1, 9, 0, 0, 250_000, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    outcome = Delay().execute(delay_node(seconds=30), {}, None, None)  # type: ignore[arg-type]
    assert outcome.wait.until == "2026-03-01T09:00:31Z"  # 09:00:30.25 rounded up
    assert outcome.step_fields == {"wakeAt": "2026-03-01T09:00:31Z"}


def test_a_delay_until_a_time_in_the_past_wakes_at_once(monkeypatch) -> None:
    now = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    outcome = Delay().execute(delay_node(until="{{ x }}"), {"until": "2026-02-28T09:00:00+01:00"}, None, None)  # type: ignore[arg-type]
    assert outcome.wait.until == "2026-03-01T09:00:00Z"


@pytest.mark.parametrize(
    ("until", "message"),
    [("tomorrow", "not an ISO 8601 time"), ((datetime.now(UTC) + timedelta(days=400)).isoformat(), "more than a year")],
)
def test_a_delay_until_something_unusable_is_a_configuration_error(until: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Delay().execute(delay_node(until="{{ x }}"), {"until": until}, None, None)  # type: ignore[arg-type]


def test_a_delay_needs_exactly_one_of_seconds_or_until() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        delay_node(seconds=1, until="2026-01-01T00:00:00Z")
    with pytest.raises(ValueError, match="exactly one"):
        delay_node()


def test_set_outputs_its_resolved_values() -> None:
    node = SetNode.model_validate({"id": "s", "type": "set", "values": {"total": "{{ x }}"}})
    assert SetVariables().execute(node, {"values": {"total": 12}}, None, None).output == {"total": 12}  # type: ignore[arg-type]


def test_the_sendgrid_payload_has_recipients_sender_subject_and_both_bodies() -> None:
    payload = mail_send_payload(
        {"to": ["a@x.io", "b@x.io"], "subject": "Hi", "text": "t", "html": "<b>h</b>"}, default_from="no-reply@x.io"
    )
    assert payload == {
        "personalizations": [{"to": [{"email": "a@x.io"}, {"email": "b@x.io"}]}],
        "from": {"email": "no-reply@x.io"},
        "subject": "Hi",
        "content": [{"type": "text/plain", "value": "t"}, {"type": "text/html", "value": "<b>h</b>"}],
    }
    assert mail_send_payload({"to": "a@x.io, c@x.io", "subject": "s", "text": "t", "from": "me@x.io"}, "x@x.io")[
        "personalizations"
    ] == [{"to": [{"email": "a@x.io"}, {"email": "c@x.io"}]}]


@pytest.mark.parametrize("to", ["", "not-an-address", ["ok@x.io", "broken"], None])
def test_recipients_that_are_not_addresses_are_a_configuration_error(to) -> None:
    with pytest.raises(ConfigurationError, match="'to' must be email addresses"):
        mail_send_payload({"to": to, "subject": "s", "text": "t"}, "me@x.io")


@pytest.mark.parametrize(
    ("error", "attempt", "wait"),
    [
        (RateLimited("429", retry_after_seconds=1.2), 1, 2),
        (RateLimited("429", retry_after_seconds=60), 2, 60),
        (RateLimited("429", retry_after_seconds=61), 1, None),  # too long: the slow retrier
        (RateLimited("429", retry_after_seconds=5), 3, None),  # honoured enough times already
        (RateLimited("429"), 1, None),  # no Retry-After
        (TransientError("503"), 1, None),
    ],
)
def test_only_short_retry_afters_are_waited_for_exactly(error, attempt: int, wait: int | None) -> None:
    assert inline_retry_after(error, attempt) == wait
