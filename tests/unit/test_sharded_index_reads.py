"""The sweeper's reads of a sharded index: every shard at once, each for its share of what is left,
round after round; never an item read that is not returned, oldest first across the shards."""

from __future__ import annotations

import threading
from typing import Any

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain.runs import Run

BEFORE = "2026-12-06T12:00:00Z"


class ShardedIndex:
    """A fake DynamoDB client answering Query on the Overdue index as DynamoDB does: items in sort
    key order, at most ``Limit`` of them, and a LastEvaluatedKey whenever the limit was reached."""

    def __init__(self, due_by_shard: dict[str, list[str]], *, meet: int = 1) -> None:
        self.items = {
            shard: [run_item(shard, due, n) for n, due in enumerate(sorted(dues))]
            for shard, dues in due_by_shard.items()
        }
        self.queries: list[dict[str, Any]] = []
        self.threads: set[str] = set()  # the names of the threads that queried
        self.read = 0  # items returned, which is what a query with no filter reads
        self._lock = threading.Lock()
        # the first `meet` queries wait for each other: made one after another, they never would
        self._meeting = threading.Barrier(meet, timeout=10)

    def query(self, **request: Any) -> dict[str, Any]:
        with self._lock:
            self.queries.append(request)
            self.threads.add(threading.current_thread().name)
            first = len(self.queries) <= self._meeting.parties
        if first:
            self._meeting.wait()
        shard = request["ExpressionAttributeValues"][":p"]["S"]
        assert request["ExpressionAttributeValues"][":before"]["S"] == BEFORE
        items = self.items.get(shard, [])
        start = int(request.get("ExclusiveStartKey", {}).get("n", {"N": "-1"})["N"]) + 1
        page = items[start : start + request["Limit"]]
        with self._lock:
            self.read += len(page)
        answer: dict[str, Any] = {"Items": page, "Count": len(page), "ScannedCount": len(page)}
        if len(page) == request["Limit"]:
            answer["LastEvaluatedKey"] = {"n": {"N": str(start + len(page) - 1)}}
        return answer


def run_item(shard: str, due: str, n: int) -> dict[str, Any]:
    run_id = f"run_{shard[-1]}{n:03d}"
    plain = {
        "runId": run_id,
        "accountId": "acct_1",
        "flowId": "flow_1",
        "flowVersion": 1,
        "triggerId": "trg_1",
        "status": "scheduled",
        "createdAt": "2026-12-01T00:00:00Z",
        "scheduledFor": due,
        "overduePk": shard,
        "overdueSk": f"{due}#{run_id}",
    }
    return {k: {"N": str(v)} if isinstance(v, int) else {"S": v} for k, v in plain.items()}


def due(minute: int) -> str:
    return f"2026-12-06T11:{minute:02d}:00Z"


def overdue(index: ShardedIndex, limit: int) -> list[Run]:
    return DynamoRepository("table", index).overdue_runs(due_before=BEFORE, limit=limit)


def test_a_backlog_in_one_shard_is_read_to_the_limit_in_rounds_and_no_further() -> None:
    # Given 10 overdue runs in one shard and 1 in another (the other six are empty)
    shards = keys.overdue_shards()
    index = ShardedIndex({shards[3]: [due(m) for m in range(10, 20)], shards[5]: [due(5)]})
    # When the sweeper asks for 8
    runs = overdue(index, limit=8)
    # Then it gets the 8 oldest, oldest first
    assert [r.scheduled_for for r in runs] == [due(5), *(due(m) for m in range(10, 17))]
    # having asked every shard for 1 at once; then the two that answered a full page (DynamoDB says
    # there may be more whenever a page is full) for 3 each of the 6 still wanted; then the one
    # with more for the last 3
    asked = [(q["ExpressionAttributeValues"][":p"]["S"], q["Limit"]) for q in index.queries]
    assert sorted(asked[:8]) == [(shard, 1) for shard in shards]
    assert sorted(asked[8:10]) == [(shards[3], 3), (shards[5], 3)]
    assert asked[10:] == [(shards[3], 3)]
    # and read exactly what it returned
    assert index.read == len(runs) == 8


def test_few_overdue_runs_take_one_round_of_queries_made_at_once() -> None:
    # Given 4 overdue runs in 4 shards, and queries that only answer once all 8 are in flight
    shards = keys.overdue_shards()
    index = ShardedIndex({shard: [due(n)] for n, shard in enumerate(shards[:4])}, meet=len(shards))
    # When the sweeper reads them, Then all 8 queries were made at once, one each, and it has the 4
    runs = overdue(index, limit=500)
    assert [r.scheduled_for for r in runs] == [due(n) for n in range(4)]
    assert len(index.queries) == len(shards) and index.read == 4
    # on threads named after the caller's (how the local stack tells which function made a call)
    assert len(index.threads) == len(shards)
    assert all(name.startswith(threading.current_thread().name + "_") for name in index.threads)


def test_nothing_overdue_is_one_round_and_an_empty_answer() -> None:
    index = ShardedIndex({})
    assert overdue(index, limit=500) == []
    assert len(index.queries) == len(keys.overdue_shards())
