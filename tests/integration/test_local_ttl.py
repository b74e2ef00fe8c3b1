"""The local stack's DynamoDB TTL (``devstack.ttl.Expiry``) on moto: what it deletes, and what it
leaves (the end-to-end version, with the stack's clock moved by months: tests/e2e/test_retention.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest

from devstack.ttl import Expiry
from tests.conftest import TABLE
from tests.support.stack_client import wait_for

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EPOCH_NOW = int(NOW.timestamp())


def put(pk: str, expires_at: int | None) -> None:
    item: dict[str, Any] = {"pk": {"S": pk}, "sk": {"S": "X"}}
    if expires_at is not None:
        item["expiresAt"] = {"N": str(expires_at)}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


def keys_left() -> set[str]:
    return {i["pk"]["S"] for i in boto3.client("dynamodb").scan(TableName=TABLE)["Items"]}


def expiry(client: Any = None) -> Expiry:
    return Expiry(client or boto3.client("dynamodb"), TABLE, attribute="expiresAt", key=["pk", "sk"], now=lambda: NOW)


@pytest.fixture
def table(repo) -> None:
    """The template's table on moto, with an item expired a second ago, one that expires in a second,
    one that expires right now, and one without a TTL (kept for good)."""
    put("EXPIRED", EPOCH_NOW - 1)
    put("LATER", EPOCH_NOW + 1)
    put("NOW", EPOCH_NOW)
    put("FOREVER", None)


def test_a_pass_deletes_the_items_whose_ttl_has_passed_and_only_those(table) -> None:
    # When a pass runs at NOW
    deleted = expiry().run_pass()
    # Then the item expired before now is gone; one expiring now, later or never stays (DynamoDB
    # deletes an item once its TTL is in the past)
    assert deleted == 1
    assert keys_left() == {"LATER", "NOW", "FOREVER"}


class KeptLongerMeanwhile:
    """The table's client, but a write keeps EXPIRED longer between the pass's read and its delete."""

    def __init__(self) -> None:
        self.client = boto3.client("dynamodb")

    def scan(self, **request: Any) -> Any:
        page = self.client.scan(**request)
        put("EXPIRED", EPOCH_NOW + 3600)
        return page

    def delete_item(self, **request: Any) -> Any:
        return self.client.delete_item(**request)


def test_an_item_kept_longer_after_the_pass_read_it_is_not_deleted(table) -> None:
    # When a write keeps the expired item longer while the pass runs
    deleted = expiry(KeptLongerMeanwhile()).run_pass()
    # Then that write wins: the item stays, as on AWS (each deletion is conditional)
    assert deleted == 0
    assert "EXPIRED" in keys_left()


def test_a_nudge_runs_a_pass_at_once_and_a_stop_ends_the_thread(table) -> None:
    # Given the expiry thread, looking only once an hour
    thread = expiry()
    thread.interval = 3600
    thread.start()
    try:
        # When it is nudged (the stack's clock moved) Then it looks now
        thread.nudge()
        wait_for(lambda: thread.passes == 1, timeout=10, what="a pass after the nudge")
        assert thread.deleted == 1
    finally:
        thread.stop(timeout=5)
    # and a stop ends it
    assert not thread.running
