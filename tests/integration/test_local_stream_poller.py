"""The local stack's stream poller honours the template's FilterCriteria, as the event source
mapping does: a record no filter matches is never delivered, and the checkpoint passes it."""

from __future__ import annotations

import json
import threading
from typing import Any

import boto3

from automations.adapters.dynamo import keys
from devstack.streams import StreamPoller, StreamSettings
from devstack.template import load_template
from tests.conftest import TABLE
from tests.support.stack_client import wait_for


class RecordingFunction:
    """Stands in for the stream function: keeps each batch it is invoked with."""

    def __init__(self) -> None:
        self.batches: list[list[dict[str, Any]]] = []
        self.lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.batches.append(event["Records"])
        return {"batchItemFailures": []}

    def entities(self) -> list[str]:
        with self.lock:
            return [r["dynamodb"]["NewImage"]["entity"]["S"] for batch in self.batches for r in batch]


def template_filters() -> list[dict[str, Any]]:
    events = load_template()["Resources"]["StreamFunction"]["Properties"]["Events"]
    return [json.loads(f["Pattern"]) for f in events["TableStream"]["Properties"]["FilterCriteria"]["Filters"]]


def put(item: dict[str, Any]) -> None:
    boto3.resource("dynamodb").Table(TABLE).put_item(Item=item)


def test_records_no_filter_matches_are_not_delivered_and_the_checkpoint_passes_them(repo) -> None:
    # Given a poller over the table with the template's filters
    function = RecordingFunction()
    poller = StreamPoller(TABLE, function, StreamSettings(filters=template_filters()))  # type: ignore[arg-type]
    poller.start()
    try:
        # When a trigger, a step's claim and an execution's request are written, in that order
        put({**keys.trigger("trg_1"), "entity": "trigger"})
        put({**keys.step("run_1", "fetch"), "entity": "step", "status": "running", "runId": "run_1"})
        put({**keys.execution("run_1", "run_1"), "entity": "execution", "runId": "run_1", "name": "run_1"})
        # Then only the execution's record reaches the function
        wait_for(lambda: function.entities() == ["execution"], timeout=10, what="the execution's record")
        # and the checkpoint is at the last record (the execution's), past the two dropped before it
        stream_arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams")
        (shard,) = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
        iterator = streams.get_shard_iterator(
            StreamArn=stream_arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert len(records) == 3
        assert poller.checkpoint() == {shard["ShardId"]: records[-1]["dynamodb"]["SequenceNumber"]}
    finally:
        poller.stop()
