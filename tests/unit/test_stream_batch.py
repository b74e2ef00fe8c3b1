"""A stream batch: every change handed on in order, failures reported by sequence number, and a
batch that failed whole raised so that the event source mapping retries and bisects it."""

from __future__ import annotations

import copy
import logging
from typing import Any

import pytest

from automations.adapters.dynamo.stream_batch import EveryRecordFailed, handle_batch
from tests.conftest import load_event


def records() -> list[dict[str, Any]]:
    """Three records (the sample step change, as INSERT, MODIFY, REMOVE), sequence numbers 1-3."""
    sample = load_event("stream_step_retrying.json")["Records"][0]
    made = []
    for number, name in enumerate(("INSERT", "MODIFY", "REMOVE"), start=1):
        record = copy.deepcopy(sample)
        record["eventName"], record["dynamodb"]["SequenceNumber"] = name, str(number)
        if name == "INSERT":
            del record["dynamodb"]["OldImage"]
        if name == "REMOVE":
            del record["dynamodb"]["NewImage"]
        made.append(record)
    return made


def test_each_change_is_handed_on_in_order_with_plain_images() -> None:
    # Given a batch of three changes
    handed: list[tuple[str, Any, Any]] = []
    # When it is handled
    answer = handle_batch({"Records": records()}, lambda event, new, old: handed.append((event, new, old)))
    # Then every change came, in order, its images as plain values (numbers as int), and none failed
    assert [(event, new is None, old is None) for event, new, old in handed] == [
        ("INSERT", False, True),
        ("MODIFY", False, False),
        ("REMOVE", True, False),
    ]
    new = handed[1][1]
    assert new["entity"] == "step" and new["status"] == "retrying"
    assert isinstance(new["attemptCount"], int) and not isinstance(new["attemptCount"], bool)
    assert answer == {"batchItemFailures": []}


def test_a_failed_record_is_reported_and_logged_and_the_ones_after_it_still_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handed: list[str] = []

    def handle(event: str, new: Any, old: Any) -> None:
        handed.append(event)
        if event == "MODIFY":
            raise RuntimeError("no state machine")

    with caplog.at_level(logging.ERROR):
        answer = handle_batch({"Records": records()}, handle)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert handed == ["INSERT", "MODIFY", "REMOVE"]
    assert "no state machine" in caplog.text and "reported for retry" in caplog.text


def test_a_batch_whose_every_record_failed_is_raised_to_be_retried_whole() -> None:
    def handle(event: str, new: Any, old: Any) -> None:
        raise RuntimeError("table unreachable")

    with pytest.raises(EveryRecordFailed) as failed:
        handle_batch({"Records": records()}, handle)
    assert failed.value.failed == 3


def test_an_empty_batch_is_no_failure() -> None:
    assert handle_batch({"Records": []}, lambda *change: None) == {"batchItemFailures": []}
