"""The local stack's restart, piece by piece on a moto table: what a snapshot restores (items, the
stream and its numbering, the checkpoint) and what recovery does with each kind of execution.

The end-to-end tests (tests/e2e/test_local_data.py) stop and restart a real stack; the cases here
are the ones a stop only hits by chance, such as an execution started but not yet running.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from botocore.config import Config

from automations.adapters.dynamo.repository import DynamoRepository
from automations.adapters.scheduler import get_schedules
from automations.domain import clock
from automations.domain.runs import ExecutionOutcome
from automations.domain.status import RunStatus
from automations.ports import ExecutionEnd
from devstack import persistence
from devstack.recovery import CAUSE, recover_executions
from devstack.template import load_template, table_create_args
from tests.conftest import TABLE
from tests.integration.conftest import DEMO_RUN_ID, seed_demo_run
from tests.support.fakes import RecordingWorkflows

ACCOUNT, REGION = "123456789012", "us-east-1"  # moto's defaults, as in the local stack


@pytest.fixture
def run(repo: DynamoRepository) -> str:
    seed_demo_run(repo, [{"id": "note", "type": "set", "values": {"a": "1"}}], {"n": 1})
    return DEMO_RUN_ID


def recover(repo: DynamoRepository) -> tuple[Any, RecordingWorkflows]:
    workflows = RecordingWorkflows()
    return recover_executions(TABLE, boto3.client("dynamodb"), repo, workflows, get_schedules()), workflows


def now() -> str:
    return clock.iso(clock.now())


# --- recovery -------------------------------------------------------------------------------


def test_an_execution_requested_but_never_running_is_offered_to_the_outbox_again(repo, run) -> None:
    recovered, workflows = recover(repo)
    assert workflows.started == [run] and recovered.offered == [run] and recovered.aborted == []


def test_an_execution_that_had_taken_its_run_ended_aborted_for_the_stream_to_interrupt(repo, run) -> None:
    repo.start_execution(run_id=run, name=run, arn=None, at=now(), check_after=now())
    recovered, workflows = recover(repo)
    assert recovered.aborted == [run] and workflows.started == []
    execution = repo.get_execution(run, run)
    assert execution is not None and execution.outcome == ExecutionOutcome.ABORTED
    assert execution.error is not None and execution.error.message == CAUSE


def test_an_execution_that_recorded_its_own_end_is_left_to_the_stream(repo, run) -> None:
    repo.start_execution(run_id=run, name=run, arn=None, at=now(), check_after=now())
    repo.end_execution(run_id=run, name=run, end=ExecutionEnd(outcome=ExecutionOutcome.REACHED_END, ended_at=now()))
    recovered, workflows = recover(repo)
    assert recovered.aborted == [] and workflows.started == []
    execution = repo.get_execution(run, run)
    assert execution is not None and execution.outcome == ExecutionOutcome.REACHED_END


def test_a_run_no_longer_startable_is_not_started_again(repo, run) -> None:
    assert repo.transition_run(run, RunStatus.CANCELLED)
    recovered, workflows = recover(repo)
    assert workflows.started == [] and recovered.offered == []


# --- snapshots ------------------------------------------------------------------------------


class Poller:
    """The stream poller, as far as a snapshot reads it."""

    def __init__(self, checkpoint: dict[str, str]) -> None:
        self.delivered = checkpoint

    def checkpoint(self) -> dict[str, str]:
        return dict(self.delivered)

    @contextmanager
    def between_batches(self) -> Iterator[dict[str, str]]:
        yield dict(self.delivered)


def streams_client() -> Any:
    return boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))


def stream_records() -> list[dict[str, Any]]:
    streams = streams_client()
    arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    (shard,) = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def recreate_table() -> None:
    """What a restart does before restoring: the table as template.yaml defines it, empty."""
    client = boto3.client("dynamodb")
    client.delete_table(TableName=TABLE)
    client.create_table(**table_create_args(load_template(), TABLE))


def test_a_snapshot_restores_the_items_and_the_undelivered_stream_whose_numbers_go_on(repo, run) -> None:
    numbers = [r["dynamodb"]["SequenceNumber"] for r in stream_records()]
    assert len(numbers) >= 3
    shard_id = persistence.moto_tables(ACCOUNT, REGION, [TABLE])[TABLE].stream_shard.id
    checkpoint = {shard_id: numbers[1]}  # the poller delivered the first two
    data, _ = persistence.capture(ACCOUNT, REGION, [TABLE], Poller(checkpoint), "the-key")
    recreate_table()
    assert repo.get_run(run) is None

    snapshot = pickle.loads(data)
    persistence.restore(snapshot, ACCOUNT, REGION, [TABLE])
    assert snapshot.stream_checkpoint == checkpoint and snapshot.local_api_key == "the-key"
    restored = repo.get_run(run)
    assert restored is not None and restored.status == RunStatus.SCHEDULED
    # what was delivered is left out; the rest keeps its numbers, and reading after the checkpoint works
    assert [r["dynamodb"]["SequenceNumber"] for r in stream_records()] == numbers[2:]
    streams = streams_client()
    arn = boto3.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    iterator = streams.get_shard_iterator(
        StreamArn=arn, ShardId=shard_id, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=numbers[1]
    )["ShardIterator"]
    after_checkpoint = streams.get_records(ShardIterator=iterator)["Records"]
    assert [r["dynamodb"]["SequenceNumber"] for r in after_checkpoint] == numbers[2:]
    # a write after the restore numbers on
    assert repo.transition_run(run, RunStatus.CANCELLED)
    assert int(stream_records()[-1]["dynamodb"]["SequenceNumber"]) == int(numbers[-1]) + 1


def test_a_snapshot_is_whole_or_absent_and_dated_when_it_was_current(tmp_path) -> None:
    data_dir = persistence.DataDir(tmp_path)
    data_dir.lock()
    assert data_dir.read() is None
    data_dir.write(b"first", captured_at=1_000.0)
    assert data_dir.snapshot_path.read_bytes() == b"first" and data_dir.snapshot_path.stat().st_mtime == 1_000.0
    data_dir.still_current(2_000.0)
    assert data_dir.snapshot_path.stat().st_mtime == 2_000.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lock", "snapshot.pickle"]  # no temporary left over
    with pytest.raises(persistence.DataDirError, match="local-reset"):
        data_dir.read()  # not a snapshot: refused, naming the way to start clean
