"""What reading the overdue runs costs as the table grows: it must not grow with it.

    python -m bench --only overdue [--overdue-sizes 1000 100000]

For each size, a fresh table (moto, in this process, built from template.yaml) holds that many
waiting runs, of which ``OVERDUE`` are overdue and the rest due later, written as the engine
records them (``DynamoRepository.new_run_item``; batch writes, so that seeding 100,000 takes
seconds). The sweeper's read, ``overdue_runs``, then runs once, and every query it makes is
counted: items read (ScannedCount), read request units (0.5 per 4 KB read per query, as an
eventually consistent index query is billed) and items returned. ``overdue.read_per_returned.<size>``
is items read per overdue run returned (1.0: it reads nothing else), with the read units per
returned run beside it.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import boto3
from moto import mock_aws

from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain import clock, ids
from automations.domain.runs import Run, StatusChange
from automations.domain.status import RunStatus
from devstack.template import load_template, table_create_args
from tests.support.dynamodb_size import item_bytes

PREFIX = "overdue"
SIZES = (1_000, 100_000)
OVERDUE = 50
TABLE = "bench-overdue"
FLOWS = 20  # the runs spread over this many flows of one account


def waiting_run(n: int, due: str, now: str) -> Run:
    return Run(
        run_id=ids.new_id("run"),
        account_id="acct_bench",
        flow_id=f"flow_bench{n % FLOWS:02d}",
        flow_version=1,
        trigger_id=ids.new_id("trg"),
        trigger_kind="event",
        status=RunStatus.SCHEDULED,
        created_at=now,
        scheduled_for=due,
        history=[StatusChange(status=RunStatus.SCHEDULED, at=now)],
    )


def seed(repo: DynamoRepository, client: Any, size: int, overdue: int) -> None:
    """``size`` waiting runs: ``overdue`` of them due in the last hours, the rest in the coming days."""
    now = clock.now()
    created = clock.iso(now - timedelta(days=2))

    def due(n: int) -> str:
        if n < overdue:
            return clock.iso(now - timedelta(minutes=n + 1))
        return clock.iso(now + timedelta(minutes=n))

    batch: list[dict[str, Any]] = []
    for n in range(size):
        item = repo.new_run_item(waiting_run(n, due(n), created))
        batch.append({"PutRequest": {"Item": _serialize(item)}})
        if len(batch) == 25 or n == size - 1:
            client.batch_write_item(RequestItems={TABLE: batch})
            batch = []


def _serialize(item: dict[str, Any]) -> dict[str, Any]:
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in item.items() if v is not None}


class CountingClient:
    """The DynamoDB client the repository reads through, counting what its queries read."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.queries = self.scanned = 0
        self.read_units = 0.0

    def query(self, **request: Any) -> Any:
        response = self._client.query(**request)
        self.queries += 1
        self.scanned += int(response.get("ScannedCount", 0))
        size = sum(item_bytes(item) for item in response.get("Items", []))
        self.read_units += 0.5 * max(1, math.ceil(size / 4096))  # eventually consistent (an index)
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def measure_size(size: int, overdue: int = OVERDUE) -> dict[str, Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(**table_create_args(load_template(), TABLE))
        started = time.monotonic()
        seed(DynamoRepository(TABLE, client), client, size, overdue)
        seeded = time.monotonic() - started
        counting = CountingClient(client)
        runs = DynamoRepository(TABLE, counting).overdue_runs(due_before=clock.iso(clock.now()), limit=500)
    returned = len(runs)
    if returned != overdue:
        raise AssertionError(f"{size} runs: the overdue read returned {returned} runs, not the {overdue} overdue")
    return {
        "runs": size,
        "overdue": overdue,
        "returned": returned,
        "queries": counting.queries,
        "items_read": counting.scanned,
        "read_units": counting.read_units,
        "read_per_returned": round(counting.scanned / returned, 3),
        "read_units_per_returned": round(counting.read_units / returned, 3),
        "seed_seconds": round(seeded, 1),
    }


def measure(sizes: Iterable[int] = SIZES, log: Any = print) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for size in sizes:
        found = measure_size(size)
        log(f"overdue: {size} runs: read {found['items_read']} items for {found['returned']} overdue")
        # one read per size: a count, not a timing, so min = median = max
        value = found["read_per_returned"]
        figures[f"{PREFIX}.read_per_returned.{size}"] = {"min": value, "median": value, "max": value, **found}
    figures[f"{PREFIX}.measured_at"] = clock.iso(clock.now())
    return figures


def rows(figures: dict[str, Any]) -> list[str]:
    """The README's rows for the overdue read, if measured."""
    sizes = sorted(int(k.rsplit(".", 1)[1]) for k in figures if k.startswith(f"{PREFIX}.read_per_returned."))
    if not sizes:
        return []
    lines = [
        "| overdue read (the sweeper's) | overdue returned | items read | per returned | read units per returned |",
        "|---|---|---|---|---|",
    ]
    for size in sizes:
        f = figures[f"{PREFIX}.read_per_returned.{size}"]
        lines.append(
            f"| {size:,} waiting runs | {f['returned']} | {f['items_read']} | {f['median']}"
            f" | {f['read_units_per_returned']} |"
        )
    return [
        *lines,
        "",
        f"One read per size, {OVERDUE} runs overdue; measured {figures.get(f'{PREFIX}.measured_at', '?')}.",
    ]
