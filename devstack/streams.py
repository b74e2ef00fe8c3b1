"""Delivers the table's DynamoDB stream to the stream function, the way the event source mapping does.

Reads with ``get_records`` (moto's own stream->Lambda delivery re-enters itself), converts the
records to the Lambda event shape, and honours ``batchItemFailures``: the batch is retried
from the first failed record, up to ``MaximumRetryAttempts`` times, then the record goes to
the on-failure destination (here: a list /_local/stream-failures shows) and delivery moves on.

Like the event source mapping's ``FilterCriteria``, a record that matches none of the filters'
patterns (EventBridge's syntax, ``devstack.event_patterns``) is dropped before batching: never
delivered, and passed by the checkpoint as if it had been.

Like the event source mapping's ``ParallelizationFactor``, a batch is split into that many
concurrent batches by the items' partition key, so the changes of one item collection (a run
with its executions, steps and attempts) stay in order while different runs go in parallel.

It cannot stall: it re-reads the shard list every second, keeps the last sequence number it
delivered per shard and, whenever a shard has nothing new (or anything went wrong), asks for
an iterator after that number again, so a replaced shard or an expired iterator is followed.
An error is logged and retried, never fatal.

That per-shard number is its checkpoint: the local stack saves it with the table (see
``devstack.persistence``), between batches, and a restarted poller resumes after it, so
delivery goes on where it stopped, skipping nothing and repeating nothing.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config

from automations.observability import logger
from devstack import event_patterns
from devstack.functions import FunctionError, LocalFunction


@dataclass
class StreamSettings:
    batch_size: int = 100
    filters: list[dict[str, Any]] = field(default_factory=list)  # FilterCriteria's patterns; none: all pass
    max_retry_attempts: int = 5
    parallelization_factor: int = 1
    poll_interval_seconds: float = 0.05
    shard_refresh_seconds: float = 1.0
    error_backoff_seconds: float = 0.5


@dataclass
class StreamPoller:
    table_name: str
    function: LocalFunction
    settings: StreamSettings
    failures: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self.delivered = 0
        self.last_sequence: dict[str, str] = {}  # per shard: the last record handed to the function
        self._batch = threading.Lock()  # held from a batch's delivery to its checkpoint
        self._shards: set[str] = set()
        self._shards_refreshed_at = float("-inf")
        self._iterators: dict[str, str] = {}
        self._lanes = ThreadPoolExecutor(self.settings.parallelization_factor, thread_name_prefix="stream-lane")

    def start(self, resume_after: dict[str, str] | None = None) -> None:
        """Deliver from each shard's start, or after the records ``resume_after`` names (a checkpoint)."""
        self.last_sequence.update(resume_after or {})
        dynamodb = boto3.client("dynamodb")
        table = dynamodb.describe_table(TableName=self.table_name)["Table"]
        self.stream_arn = table["LatestStreamArn"]
        self.partition_key = next(k["AttributeName"] for k in table["KeySchema"] if k["KeyType"] == "HASH")
        # the Streams client answers 404 unless the account id is kept out of the endpoint
        self.streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
        self._thread.start()

    def begin_stop(self) -> None:
        """Ask its thread to wind down without waiting (``stop`` waits), so that the stack's parts
        stop side by side rather than one after another."""
        self._stop.set()

    def stop(self, timeout: float = 5.0) -> None:
        """No more polls; the batch under way gets ``timeout`` seconds to end (a snapshot waits for it
        anyway: ``between_batches``)."""
        self._stop.set()
        self._thread.join(timeout=timeout)

    def checkpoint(self) -> dict[str, str]:
        """Per shard, the last sequence number delivered (a copy: the poller moves on)."""
        return dict(self.last_sequence)

    @contextmanager
    def between_batches(self) -> Iterator[dict[str, str]]:
        """The checkpoint, with no batch half-delivered until the block ends: what the stream
        function wrote for the records it names is all written, and nothing for later ones.

        A snapshot taken here never makes a restart deliver a record twice (a second delivery of
        an execution's request would start, on a Step Functions that forgot its name, an execution
        that already ran)."""
        with self._batch:
            yield dict(self.last_sequence)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delivered = self._poll_once()
            except Exception:  # the poller must outlive any error: log it, then resume where it was
                logger.exception("stream poll failed; resuming from the last delivered record")
                self._iterators.clear()
                self._stop.wait(self.settings.error_backoff_seconds)
                continue
            if delivered:
                self._idle.clear()
            else:
                self._idle.set()
                self._stop.wait(self.settings.poll_interval_seconds)

    def _poll_once(self) -> bool:
        if time.monotonic() >= self._shards_refreshed_at + self.settings.shard_refresh_seconds:
            self._refresh_shards()
        delivered = False
        for shard_id in list(self._shards):
            iterator = self._iterators.pop(shard_id, None) or self._iterator_after_last(shard_id)
            response = self.streams.get_records(ShardIterator=iterator, Limit=self.settings.batch_size)
            records = [self._as_lambda_record(r) for r in response.get("Records", [])]
            if records:
                wanted = [r for r in records if self._passes(r)]
                with self._batch:
                    if wanted:
                        self._deliver_in_parallel(wanted)
                    self.last_sequence[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
                delivered = True
                if response.get("NextShardIterator"):
                    self._iterators[shard_id] = response["NextShardIterator"]
            elif not response.get("NextShardIterator"):
                self._shards.discard(shard_id)  # a closed shard, read to its end
        return delivered

    def _refresh_shards(self) -> None:
        description = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
        self._shards = {shard["ShardId"] for shard in description["Shards"]}
        self._shards_refreshed_at = time.monotonic()

    def _iterator_after_last(self, shard_id: str) -> str:
        """Where to read next: after the last record delivered, or the shard's start."""
        position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if shard_id in self.last_sequence:
            position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.last_sequence[shard_id]}
        return self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **position)["ShardIterator"]

    def _passes(self, record: dict[str, Any]) -> bool:
        filters = self.settings.filters
        return not filters or any(event_patterns.matches(pattern, record) for pattern in filters)

    def _as_lambda_record(self, record: dict[str, Any]) -> dict[str, Any]:
        converted = dict(record)
        converted["eventSourceARN"] = self.stream_arn
        change = dict(record["dynamodb"])
        created = change.get("ApproximateCreationDateTime")
        if isinstance(created, datetime):  # moto gives a datetime; Lambda events carry epoch seconds
            change["ApproximateCreationDateTime"] = created.timestamp()
        converted["dynamodb"] = change
        return converted

    def _deliver_in_parallel(self, records: list[dict[str, Any]]) -> None:
        """One concurrent batch per partition-key lane; the checkpoint moves when all are done."""
        lanes: dict[int, list[dict[str, Any]]] = {}
        for record in records:
            key = json.dumps(record["dynamodb"]["Keys"][self.partition_key], sort_keys=True)
            lane = zlib.crc32(key.encode()) % self.settings.parallelization_factor
            lanes.setdefault(lane, []).append(record)
        if len(lanes) == 1:
            self._deliver(records)
            return
        list(self._lanes.map(self._deliver, lanes.values()))

    def _deliver(self, records: list[dict[str, Any]]) -> None:
        attempts = 0
        while records:
            try:
                response = self.function.invoke({"Records": records}) or {}
                failed = [f["itemIdentifier"] for f in response.get("batchItemFailures", [])]
            except FunctionError as error:
                logger.warning("stream batch raised", extra={"error": error.payload["errorMessage"]})
                failed = [records[0]["dynamodb"]["SequenceNumber"]]
            if not failed:
                self.delivered += len(records)
                return
            position = next((i for i, r in enumerate(records) if r["dynamodb"]["SequenceNumber"] in failed), 0)
            self.delivered += position
            records = records[position:]
            attempts += 1
            if attempts > self.settings.max_retry_attempts:
                self.failures.append({"record": records[0], "attempts": attempts})
                logger.error(
                    "stream record sent to the on-failure destination", extra={"eventID": records[0]["eventID"]}
                )
                records, attempts = records[1:], 0
                self.delivered += 1
            else:
                time.sleep(min(0.05 * 2**attempts, 2))

    def wait_idle(self, timeout: float = 10) -> bool:
        """True once the poller has found the stream empty (for tests and demos)."""
        return self._idle.wait(timeout)
