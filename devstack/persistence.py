"""The local stack's data directory: what survives a restart, and how it is written.

A snapshot holds what the engine recorded: the table's items, the stream records not yet
delivered (with the shard's id and numbering, so sequence numbers go on where they were), the
stream poller's checkpoint, the SSM parameters (connection secrets), the local account's key,
the local clock's reading (so a restarted stack's time never goes back) and EventBridge
Scheduler's schedules with what the dispatcher did of each (so none fires twice, and none that
fell due while the stack was down is forgotten).
Records already delivered are left out: nothing needs them again, and they would make every
snapshot carry the table's whole history. Step Functions' executions are left out too: moto runs
them in this process's threads, so none can outlive it (see ``devstack.recovery`` for what a
restart does about them).

A ``Saver`` takes a snapshot about once a second when something changed, and once more at a clean
stop. Each is written to a temporary file, flushed to disk and renamed over the previous one, so
after ``kill -9`` the data directory holds the last whole snapshot: at most the last second of
changes is lost and nothing is half-written. The file's modification time is the moment its
contents were known to be current (when nothing changed, the saver only moves it forward).

Snapshots are pickles of moto's own objects: the data directory is the developer's own, and a
moto upgrade that cannot read an old one says so and names the way to start clean.
"""

from __future__ import annotations

import copy
import fcntl
import os
import pickle
import threading
import time
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol

from automations.observability import logger
from devstack import moto_patches
from devstack.clock import ClockReading

SNAPSHOT_FILE = "snapshot.pickle"
LOCK_FILE = "lock"
# Bumped whenever Snapshot changes shape: an older snapshot is refused, not misread. (Fields
# added with a None default are no change of shape: an older snapshot reads them as None.)
FORMAT = 1
# Snapshots stop every DynamoDB request while they are taken: however big the table, saving
# takes at most this share of the time (a table that takes 0.5 s to pickle is saved every 5 s).
MAX_SHARE_OF_TIME_SAVING = 0.1


class StreamCheckpoint(Protocol):
    """The stream poller, as far as a snapshot needs it (``devstack.streams.StreamPoller``)."""

    def checkpoint(self) -> dict[str, str]: ...

    def between_batches(self) -> AbstractContextManager[dict[str, str]]: ...


class ClockSource(Protocol):
    """The local clock, as far as a snapshot needs it (``devstack.clock.LocalClock``)."""

    @property
    def offset(self) -> Any: ...

    def reading(self) -> ClockReading: ...


class ScheduleProgress(Protocol):
    """The scheduler dispatcher, as far as a snapshot needs it (``devstack.scheduler.Dispatcher``)."""

    changes: int

    def held(self) -> AbstractContextManager[dict[str, Any]]: ...


class DataDirError(Exception):
    """The data directory cannot be used (in use by another stack, or unreadable)."""


@dataclass
class TableData:
    items: Any  # moto's items: {hash key: Item} or {hash key: {range key: Item}}
    shard_id: str
    starting_sequence_number: int  # the first undelivered record's
    records: list[Any]  # moto's StreamRecords not yet delivered, in sequence order


@dataclass
class SchedulerData:
    groups: dict[str, Any]  # moto's ScheduleGroups by name, each with its Schedules
    progress: dict[str, Any]  # schedule ARN -> devstack.scheduler.Progress


@dataclass
class Snapshot:
    tables: dict[str, TableData]
    parameters: dict[str, list[Any]]  # SSM: name -> every version (moto's Parameters)
    stream_checkpoint: dict[str, str]  # shard id -> the last sequence number delivered
    local_api_key: str | None
    captured_at: float
    format: int = FORMAT
    clock: ClockReading | None = None
    scheduler: SchedulerData | None = None


@dataclass
class DataDir:
    """One stack's data directory; ``lock`` before reading or writing it."""

    path: Path
    _lock_file: IO[str] | None = field(default=None, init=False, repr=False)

    @property
    def snapshot_path(self) -> Path:
        return self.path / SNAPSHOT_FILE

    def lock(self) -> None:
        """Only one stack uses a data directory; the lock goes when the process does (even kill -9)."""
        self.path.mkdir(parents=True, exist_ok=True)
        lock_file = (self.path / LOCK_FILE).open("w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock_file.close()
            raise DataDirError(
                f"the data directory {self.path} is used by another local stack; "
                "set AUTOMATIONS_DATA_DIR or pass --data-dir"
            ) from None
        self._lock_file = lock_file

    def reset(self) -> None:
        self.snapshot_path.unlink(missing_ok=True)

    def read(self) -> Snapshot | None:
        if not self.snapshot_path.exists():
            return None
        try:
            snapshot = pickle.loads(self.snapshot_path.read_bytes())  # noqa: S301 (our own file)
        except Exception as error:
            raise DataDirError(
                f"cannot read {self.snapshot_path} ({type(error).__name__}: {error}); "
                "`make local-reset` (or --reset) starts clean"
            ) from error
        if not isinstance(snapshot, Snapshot) or snapshot.format != FORMAT:
            raise DataDirError(
                f"{self.snapshot_path} was written by another version of the local stack; "
                "`make local-reset` (or --reset) starts clean"
            )
        return snapshot

    def write(self, data: bytes, captured_at: float) -> None:
        """Whole or not at all: a temporary file, flushed, then renamed over the snapshot."""
        temporary = self.path / f"{SNAPSHOT_FILE}.tmp"
        with temporary.open("wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.utime(temporary, (captured_at, captured_at))
        os.replace(temporary, self.snapshot_path)
        self._sync_directory()  # the rename itself survives a power cut, not only a killed process

    def still_current(self, at: float) -> None:
        """Nothing changed since the snapshot was taken: it is current as of ``at``."""
        if self.snapshot_path.exists():
            os.utime(self.snapshot_path, (at, at))

    def _sync_directory(self) -> None:
        directory = os.open(self.path, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


# --- moto's state ---------------------------------------------------------------------------


def moto_tables(account: str, region: str, names: list[str]) -> dict[str, Any]:
    """moto's own Table objects (this process's: moto runs in-process) by name."""
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[account][region].tables
    return {name: tables[name] for name in names}


def _ssm_parameters(account: str, region: str) -> Any:
    from moto.ssm.models import ssm_backends

    return ssm_backends[account][region]._parameters


def _own_parameters(account: str, region: str) -> dict[str, list[Any]]:
    """Every parameter but AWS's public ones (``/aws/...``), which moto loads on demand."""
    # dict.items: a copy taken at once (SSM has no lock; a request may add a parameter meanwhile)
    return {
        name: list(versions)
        for name, versions in list(dict.items(_ssm_parameters(account, region)))
        if not name.startswith("/aws/")
    }


def _schedule_groups(account: str, region: str) -> Any:
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[account][region].schedule_groups


def _schedule_marks(account: str, region: str) -> tuple[Any, ...]:
    """Every schedule's ARN and when it was last made or changed."""
    groups = list(_schedule_groups(account, region).values())
    return tuple(
        sorted(
            (schedule.arn, schedule.creation_date, schedule.last_modified_date)
            for group in groups
            for schedule in list(group.schedules.values())
        )
    )


def change_marker(
    account: str,
    region: str,
    table_names: list[str],
    checkpoint: dict[str, str],
    local_api_key: str | None,
    *,
    clock: ClockSource | None = None,
    scheduler: ScheduleProgress | None = None,
) -> tuple[Any, ...]:
    """Cheap to compute, and different whenever anything a snapshot holds changed.

    Every item write appends a stream record, so the end of each table's stream marks its writes.
    The clock changes only when moved (its offset); the scheduler's progress counts its changes.
    """
    with moto_patches.DYNAMODB_LOCK:
        streams = tuple(
            (name, table.stream_shard.id, table.stream_shard.starting_sequence_number + len(table.stream_shard.items))
            for name, table in moto_tables(account, region, table_names).items()
        )
    parameters = tuple(
        sorted(
            (name, len(versions), versions[-1].version, str(versions[-1].last_modified_date))
            for name, versions in _own_parameters(account, region).items()
            if versions
        )
    )
    scheduling = (
        clock.offset if clock is not None else None,
        (scheduler.changes, _schedule_marks(account, region)) if scheduler is not None else None,
    )
    return streams, parameters, tuple(sorted(checkpoint.items())), local_api_key, scheduling


def capture(
    account: str,
    region: str,
    table_names: list[str],
    stream: StreamCheckpoint,
    local_api_key: str | None,
    *,
    clock: ClockSource | None = None,
    scheduler: ScheduleProgress | None = None,
) -> tuple[bytes, float]:
    """The snapshot, pickled, and when it was taken.

    Between two stream batches, so the checkpoint and what the deliveries wrote agree (a restart
    skips no record and delivers none twice), and under the DynamoDB lock, so the table and its
    stream are one moment's (every request waits; pickling 2,000 items takes about 0.02 s).
    """
    with stream.between_batches() as delivered, moto_patches.DYNAMODB_LOCK:
        captured_at = time.time()
        tables = {
            name: _undelivered(table, delivered) for name, table in moto_tables(account, region, table_names).items()
        }
        snapshot = Snapshot(
            tables=tables,
            parameters=_own_parameters(account, region),
            stream_checkpoint=delivered,
            local_api_key=local_api_key,
            captured_at=captured_at,
            clock=clock.reading() if clock is not None else None,
            scheduler=_scheduler_data(account, region, scheduler) if scheduler is not None else None,
        )
        return pickle.dumps(snapshot, protocol=pickle.HIGHEST_PROTOCOL), captured_at


def _scheduler_data(account: str, region: str, scheduler: ScheduleProgress) -> SchedulerData:
    """The schedules and the dispatcher's progress, one moment's: no firing settles and no schedule
    changes meanwhile. Groups are copied (requests change moto's dicts while the pickle is made)."""
    with scheduler.held() as progress, moto_patches.SCHEDULER_LOCK:
        groups = {}
        for name, group in list(_schedule_groups(account, region).items()):
            kept = copy.copy(group)
            kept.schedules = dict(group.schedules)
            groups[name] = kept
        return SchedulerData(groups=groups, progress=progress)


def _undelivered(table: Any, delivered: dict[str, str]) -> TableData:
    """The table's items, and its stream from the first record not delivered yet.

    A record's sequence number is the shard's starting number plus its position, so the
    starting number moves up with what is left out and every record kept keeps its number.
    """
    shard = table.stream_shard
    last = delivered.get(shard.id)
    skip = int(last) - shard.starting_sequence_number + 1 if last is not None else 0
    return TableData(
        items=table.items,
        shard_id=shard.id,
        starting_sequence_number=shard.starting_sequence_number + skip,
        records=shard.items[skip:],
    )


def restore(snapshot: Snapshot, account: str, region: str, table_names: list[str]) -> None:
    """Into the tables just created from the template (its indexes and settings win; moto computes
    indexes from the items) and before anything reads or writes them; the schedules into moto's
    Scheduler (the dispatcher takes its progress, and the clock its reading, from the snapshot)."""
    tables = moto_tables(account, region, table_names)
    with moto_patches.DYNAMODB_LOCK:
        for name, saved in snapshot.tables.items():
            table = tables.get(name)
            if table is None:
                logger.warning("a saved table is not in template.yaml any more; dropped", extra={"table": name})
                continue
            table.items = saved.items
            shard = table.stream_shard
            shard.id, shard.starting_sequence_number = saved.shard_id, saved.starting_sequence_number
            shard.items = saved.records
    parameters = _ssm_parameters(account, region)
    for name, versions in snapshot.parameters.items():
        parameters[name] = versions
    if snapshot.scheduler is not None:  # groups the template made again are replaced by the kept ones
        _schedule_groups(account, region).update(snapshot.scheduler.groups)


@dataclass
class Saver:
    """Snapshots about once a second while something changes, and at a clean stop.

    For a table so big that taking a snapshot (which stops DynamoDB) costs more than a tenth of
    that second, less often: the stack stays responsive, and a crash loses a little more.
    """

    data_dir: DataDir
    account: str
    region: str
    table_names: list[str]
    stream: StreamCheckpoint
    local_api_key: str | None
    interval_seconds: float = 1.0
    clock: ClockSource | None = None
    scheduler: ScheduleProgress | None = None

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="data-saver", daemon=True)
        self._saved_marker: tuple[Any, ...] | None = None

    def start(self) -> None:
        self.save_if_changed()  # what the start itself recorded (a restored stack's recovery)
        self._thread.start()

    def begin_stop(self) -> None:
        """Ask its thread to wind down without waiting (``stop`` waits), so that the stack's parts
        stop side by side rather than one after another."""
        self._stop.set()

    def stop(self, timeout: float = 10.0) -> None:
        """The save under way gets ``timeout`` seconds to end; then the last one, always."""
        self._stop.set()
        self._thread.join(timeout=timeout)
        self.save_if_changed()

    def _run(self) -> None:
        pause = self.interval_seconds
        while not self._stop.wait(pause):
            began = time.monotonic()
            try:
                self.save_if_changed()
            except Exception:  # a full disk must not stop the stack: say so, and try again next time
                logger.exception("could not save the local stack's data; retrying")
            pause = max(self.interval_seconds, (time.monotonic() - began) / MAX_SHARE_OF_TIME_SAVING)

    def save_if_changed(self) -> None:
        checked_at = time.time()
        marker = change_marker(
            self.account,
            self.region,
            self.table_names,
            self.stream.checkpoint(),
            self.local_api_key,
            clock=self.clock,
            scheduler=self.scheduler,
        )
        if marker == self._saved_marker:
            self.data_dir.still_current(checked_at)
            return
        data, captured_at = capture(
            self.account,
            self.region,
            self.table_names,
            self.stream,
            self.local_api_key,
            clock=self.clock,
            scheduler=self.scheduler,
        )
        self.data_dir.write(data, captured_at)
        # the marker read before the capture: a change in between is saved on the next tick
        self._saved_marker = marker
