"""The store's view of time: the sparse indexes of runs still `scheduled` (Overdue, ScheduledByFlow,
ScheduledByKey) read only what they answer, a run leaves them all when it leaves `scheduled`, and a
reschedule moves a run only while it waits under the execution it replaces (issue #8).

Runs are recorded through the one recording path (``record_runs``) on a moto table built from
template.yaml; every DynamoDB Query the repository makes is watched, so "items read" is what
DynamoDB says it read (``ScannedCount``), summed over the queries (one per shard for Overdue).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3
import pytest

from automations.adapters.dynamo import keys
from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain import clock
from automations.domain.runs import ErrorInfo, Execution, Run, execution_name
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.flows.definition import Flow, FlowDefinition
from automations.logic.flows import create_flow
from automations.logic.recording import RunPlan, record_runs
from automations.ports import Reschedule, TransitionRejected
from devstack import moto_patches
from tests.conftest import TABLE

ACCOUNT = "acct_time"
BASE = clock.now().replace(microsecond=0)  # "now" for these tests: due before it is overdue
NOW = clock.iso(BASE)
RUNS_PER_TRIGGER = 25  # a trigger and its runs are one transaction (3 items a run, at most 100 items)


# --- fixtures and helpers ----------------------------------------------------------------------


@dataclass
class QuerySpy:
    """Every Query the repository's client makes: the request and what DynamoDB read and returned."""

    calls: list[dict[str, Any]] = field(default_factory=list)

    def on(self, index: str) -> list[dict[str, Any]]:
        return [c for c in self.calls if c["request"].get("IndexName") == index]

    def scanned(self, index: str) -> int:
        return sum(c["scanned"] for c in self.on(index))

    def returned(self, index: str) -> int:
        return sum(c["count"] for c in self.on(index))

    def clear(self) -> None:
        self.calls.clear()


@pytest.fixture
def spy(repo: DynamoRepository, monkeypatch: pytest.MonkeyPatch) -> QuerySpy:
    watched = QuerySpy()
    query = repo.client.query

    def spying_query(**request: Any) -> dict[str, Any]:
        response = query(**request)
        watched.calls.append({"request": request, "scanned": response["ScannedCount"], "count": response["Count"]})
        return response

    monkeypatch.setattr(repo.client, "query", spying_query)
    return watched


def make_flow(repo: DynamoRepository, name: str, trigger: dict[str, Any] | None = None) -> Flow:
    definition = FlowDefinition.model_validate(
        {
            "name": name,
            "trigger": trigger or {"type": "webhook"},
            "nodes": [{"id": "call", "type": "http_request", "url": "http://127.0.0.1:9/"}],
        }
    )
    return create_flow(repo, ACCOUNT, definition).flow


@pytest.fixture
def whole_transactions(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto copies the whole table for each item of a transaction (O(table) a write: a thousand runs
    would take minutes); the local stack's all-or-nothing TransactWriteItems, for this test only."""
    from moto.dynamodb.models import DynamoDBBackend

    monkeypatch.setattr(DynamoDBBackend, "transact_write_items", DynamoDBBackend.transact_write_items)
    moto_patches.atomic_transactions()  # undone with the monkeypatch at teardown


@pytest.fixture
def flows(repo: DynamoRepository, whole_transactions: None) -> tuple[Flow, Flow]:
    return make_flow(repo, "a"), make_flow(repo, "b")


def at_minutes(minutes: float) -> str:
    return clock.iso(BASE + timedelta(minutes=minutes))


def record(
    repo: DynamoRepository,
    flow: Flow,
    due: list[str],
    *,
    key: str | None = None,
    deadline: str | None = None,
) -> list[str]:
    """One run of ``flow`` per due time, recorded ``scheduled`` through ``record_runs``, in batches."""
    run_ids: list[str] = []
    for start in range(0, len(due), RUNS_PER_TRIGGER):
        trigger = TriggerEvent(
            trigger_id=f"trg_{uuid.uuid4().hex}",
            account_id=flow.account_id,
            kind="manual",
            flow_id=flow.flow_id,
            received_at=clock.iso(clock.now()),
            body={},
        )
        plans = [
            RunPlan(flow=flow, scheduled_for=when, deadline=deadline, correlation_key=key)
            for when in due[start : start + RUNS_PER_TRIGGER]
        ]
        recorded = record_runs(repo, trigger, plans)
        assert not recorded.replayed
        run_ids += recorded.run_ids
    return run_ids


def raw_run(run_id: str) -> dict[str, Any]:
    item = boto3.client("dynamodb").get_item(TableName=TABLE, Key={"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}})
    return item["Item"]


def index_items(index: str) -> list[dict[str, Any]]:
    """Everything an index holds (a scan of it: for assertions only, the engine never does this)."""
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": TABLE, "IndexName": index}
    while True:
        response = boto3.client("dynamodb").scan(**request)
        items += response["Items"]
        if "LastEvaluatedKey" not in response:
            return items
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def run_ids_in(index: str) -> set[str]:
    return {item["pk"]["S"].removeprefix("RUN#") for item in index_items(index)}


def every_page_of_flow(repo: DynamoRepository, flow_id: str, *, due_before: str | None, limit: int) -> list[Run]:
    runs: list[Run] = []
    cursor = None
    for _ in range(1000):
        page = repo.scheduled_runs_of_flow(flow_id, due_before=due_before, limit=limit, cursor=cursor)
        runs += page.items
        cursor = page.next_cursor
        if cursor is None:
            return runs
    raise AssertionError("the pages never ended")


@dataclass(frozen=True)
class Table:
    """What ``crowded`` recorded: per flow, the overdue runs and those due later."""

    overdue: dict[str, list[str]]
    later: dict[str, list[str]]
    ended: list[str]

    @property
    def all_overdue(self) -> set[str]:
        return {r for runs in self.overdue.values() for r in runs}


@pytest.fixture
def crowded(repo: DynamoRepository, flows: tuple[Flow, Flow]) -> Iterator[Table]:
    """1,000 runs due later beside 50 overdue ones (25 + 25 over two flows), and 40 runs that were
    due long ago but left `scheduled` (started, cancelled, expired, interrupted): only the 50 are overdue."""
    a, b = flows
    overdue = {
        a.flow_id: record(repo, a, [at_minutes(-(i + 1)) for i in range(25)]),
        b.flow_id: record(repo, b, [at_minutes(-(i + 1) - 0.5) for i in range(25)]),
    }
    later = {
        a.flow_id: record(repo, a, [at_minutes(i + 1) for i in range(500)]),
        b.flow_id: record(repo, b, [at_minutes(i + 1.5) for i in range(500)]),
    }
    ended = record(repo, a, [at_minutes(-600 - i) for i in range(40)])
    leaving = [RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED, RunStatus.INTERRUPTED]
    for n, run_id in enumerate(ended):
        assert repo.transition_run(run_id, leaving[n % 4], only_from=RunStatus.SCHEDULED)
    yield Table(overdue, later, ended)


# --- the Overdue index --------------------------------------------------------------------------


def test_the_overdue_query_reads_only_the_overdue_runs(repo: DynamoRepository, crowded: Table, spy: QuerySpy) -> None:
    # Given 1,000 runs due later and 40 that left `scheduled`, beside 50 overdue runs (see `crowded`)
    # When the sweeper's query asks for the runs due before now
    runs = repo.overdue_runs(due_before=NOW, limit=500)
    # Then it returns exactly the 50 overdue runs, each once
    assert sorted(r.run_id for r in runs) == sorted(crowded.all_overdue)
    assert all(r.status == RunStatus.SCHEDULED and r.scheduled_for < NOW for r in runs)
    # And it made one query per shard, which together read exactly the items they returned
    queries = spy.on(keys.OVERDUE)
    assert sorted(q["request"]["ExpressionAttributeValues"][":p"]["S"] for q in queries) == sorted(
        keys.overdue_shards()
    )
    assert spy.scanned(keys.OVERDUE) == spy.returned(keys.OVERDUE) == 50
    # And they come oldest first, across the shards
    assert [r.scheduled_for for r in runs] == sorted(r.scheduled_for for r in runs)


def test_the_overdue_query_stops_reading_at_its_limit(repo: DynamoRepository, crowded: Table, spy: QuerySpy) -> None:
    # When the sweeper asks for at most 20 of the 50
    runs = repo.overdue_runs(due_before=NOW, limit=20)
    # Then it gets 20 overdue runs, and read no more than it returned
    assert len(runs) == len({r.run_id for r in runs}) == 20
    assert {r.run_id for r in runs} <= crowded.all_overdue
    assert spy.scanned(keys.OVERDUE) == spy.returned(keys.OVERDUE) == 20
    # (each query asked for its shard's share of what was left: never more than the limit in all)
    first_round = [q["request"]["Limit"] for q in spy.on(keys.OVERDUE)[: len(keys.overdue_shards())]]
    assert sum(first_round) == 20 and max(first_round) - min(first_round) <= 1


def test_the_overdue_count_grows_as_time_passes_and_reads_only_what_is_due(
    repo: DynamoRepository, crowded: Table, spy: QuerySpy
) -> None:
    # Before the first due time nothing is overdue, and nothing is read
    assert repo.overdue_runs(due_before=at_minutes(-100), limit=500) == []
    assert spy.scanned(keys.OVERDUE) == 0
    # When the due-before time is 100 minutes after now
    runs = repo.overdue_runs(due_before=at_minutes(100.25), limit=1000)
    # Then 50 + 100 (flow a, due at +1..+100) + 99 (flow b, due at +1.5..+99.5) runs are returned and read
    assert len(runs) == 50 + 100 + 99
    assert spy.scanned(keys.OVERDUE) == spy.returned(keys.OVERDUE) == 249


# --- ScheduledByFlow: one flow's waiting runs ---------------------------------------------------------


def test_a_flows_overdue_runs_are_read_alone(
    repo: DynamoRepository, flows: tuple[Flow, Flow], crowded: Table, spy: QuerySpy
) -> None:
    a, b = flows
    for flow in (a, b):
        spy.clear()
        # When one flow's overdue runs are read, page by page
        runs = every_page_of_flow(repo, flow.flow_id, due_before=NOW, limit=10)
        # Then they are its 25 overdue runs, oldest first, and nothing else was read
        assert [r.run_id for r in runs] == [
            r.run_id for r in sorted((repo.get_run(i) for i in crowded.overdue[flow.flow_id]), key=sort_key)
        ]
        assert {r.flow_id for r in runs} == {flow.flow_id}
        assert spy.scanned(keys.SCHEDULED_BY_FLOW) == spy.returned(keys.SCHEDULED_BY_FLOW) == 25


def test_a_flows_waiting_runs_page_through_without_gaps_or_repeats(
    repo: DynamoRepository, flows: tuple[Flow, Flow], crowded: Table, spy: QuerySpy
) -> None:
    a, _ = flows
    # When every waiting run of a flow is read (as deleting it does), 100 at a time
    runs = every_page_of_flow(repo, a.flow_id, due_before=None, limit=100)
    # Then each of its 525 waiting runs comes once, by due time; the 40 that left `scheduled` never
    expected = crowded.overdue[a.flow_id] + crowded.later[a.flow_id]
    assert sorted(r.run_id for r in runs) == sorted(expected)
    assert [r.scheduled_for for r in runs] == sorted(r.scheduled_for for r in runs)
    assert spy.scanned(keys.SCHEDULED_BY_FLOW) == spy.returned(keys.SCHEDULED_BY_FLOW) == 525


def sort_key(run: Run | None) -> tuple[str, str]:
    assert run is not None
    return run.scheduled_for, run.run_id


# --- leaving `scheduled` ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "leave",
    ["start_execution", "running", "cancelled", "failed", "interrupted"],
)
def test_a_run_that_leaves_scheduled_leaves_every_sparse_index(
    repo: DynamoRepository, flows: tuple[Flow, Flow], leave: str
) -> None:
    a, _ = flows
    # Given two overdue runs waiting under a correlation key
    leaving, staying = record(repo, a, [at_minutes(-5), at_minutes(-4)], key="apt-1")
    for index in (keys.OVERDUE, keys.SCHEDULED_BY_FLOW, keys.SCHEDULED_BY_KEY):
        assert {leaving, staying} <= run_ids_in(index), index
    assert set(keys.WHILE_SCHEDULED_ATTRIBUTES) <= set(raw_run(leaving))  # (due at once: nothing to follow up)
    # When one leaves `scheduled`
    if leave == "start_execution":
        repo.start_execution(run_id=leaving, name=leaving, arn=None, at=NOW, check_after=NOW)
    else:
        assert repo.transition_run(leaving, RunStatus(leave), only_from=RunStatus.SCHEDULED)
    # Then it carries none of their keys (nor the mark), and no index nor query finds it; the other one stays
    assert not set(keys.WHILE_SCHEDULED_ATTRIBUTES) & set(raw_run(leaving))
    for index in (keys.OVERDUE, keys.SCHEDULED_BY_FLOW, keys.SCHEDULED_BY_KEY):
        assert leaving not in run_ids_in(index) and staying in run_ids_in(index), index
    assert [r.run_id for r in repo.overdue_runs(due_before=NOW, limit=10)] == [staying]
    assert [r.run_id for r in every_page_of_flow(repo, a.flow_id, due_before=None, limit=10)] == [staying]
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-1") == [staying]
    # And it cannot come back to `scheduled` through a transition
    assert not repo.transition_run(leaving, RunStatus.SCHEDULED)


def test_a_run_recorded_failed_never_enters_the_sparse_indexes(
    repo: DynamoRepository, flows: tuple[Flow, Flow]
) -> None:
    a, _ = flows
    trigger = TriggerEvent(
        trigger_id="trg_unplannable",
        account_id=ACCOUNT,
        kind="event",
        received_at=NOW,
        event_type="booked",
        event_id="e1",
        data={},
    )
    error = ErrorInfo(type="MissingVariable", message="trigger 'at': no trigger.data.start")
    (run_id,) = record_runs(repo, trigger, [RunPlan(flow=a, correlation_key="apt-9", error=error)]).run_ids
    assert repo.get_run(run_id).status == RunStatus.FAILED
    assert not set(keys.WHILE_SCHEDULED_ATTRIBUTES) & set(raw_run(run_id))
    assert repo.overdue_runs(due_before=at_minutes(60), limit=10) == []
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-9") == []


# --- ScheduledByKey ---------------------------------------------------------------------------------


def test_scheduled_run_ids_by_key_finds_exactly_the_runs_waiting_under_that_key_in_that_flow(
    repo: DynamoRepository, flows: tuple[Flow, Flow], spy: QuerySpy
) -> None:
    a, b = flows
    long_key = "appointment/" + "ü" * 600  # any text an account chooses
    first = record(repo, a, [at_minutes(60), at_minutes(-60)], key="apt-1")
    other_key = record(repo, a, [at_minutes(60)], key="apt-2")
    other_flow = record(repo, b, [at_minutes(60)], key="apt-1")
    no_key = record(repo, a, [at_minutes(60)])
    long = record(repo, a, [at_minutes(60)], key=long_key)
    # Then each (flow, key) finds its own waiting runs, due later or overdue alike
    assert sorted(repo.scheduled_run_ids_by_key(a.flow_id, "apt-1")) == sorted(first)
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-2") == other_key
    assert repo.scheduled_run_ids_by_key(b.flow_id, "apt-1") == other_flow
    assert repo.scheduled_run_ids_by_key(a.flow_id, long_key) == long
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-3") == []
    assert no_key[0] not in run_ids_in(keys.SCHEDULED_BY_KEY)
    # And reading them read nothing else
    assert spy.scanned(keys.SCHEDULED_BY_KEY) == spy.returned(keys.SCHEDULED_BY_KEY) == 5
    # When one of them is cancelled, it is found no more
    assert repo.transition_run(first[0], RunStatus.CANCELLED, only_from=RunStatus.SCHEDULED, cause="withdrawn")
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-1") == [first[1]]


# --- reschedule ----------------------------------------------------------------------------------------


def move(run: Run, *, replaced: str, ordinal: int, minutes: float, trigger_id: str = "trg_moved") -> Reschedule:
    due = at_minutes(minutes)
    execution = Execution(
        run_id=run.run_id,
        name=execution_name(run.run_id, ordinal),
        ordinal=ordinal,
        due_at=due,
        requested_at=NOW,
        reason="moved",
    )
    return Reschedule(
        run_id=run.run_id,
        replaced_execution=replaced,
        execution=execution,
        scheduled_for=due,
        deadline=clock.iso(clock.parse_iso(due) + timedelta(hours=2)),
        trigger_id=trigger_id,
        cause=f"rescheduled by {trigger_id}",
    )


def test_a_reschedule_moves_the_time_and_the_execution_of_a_waiting_run(
    repo: DynamoRepository, flows: tuple[Flow, Flow]
) -> None:
    a, _ = flows
    # Given an overdue run waiting under its first execution, with a key
    (run_id,) = record(repo, a, [at_minutes(-30)], key="apt-1", deadline=at_minutes(90))
    run = repo.get_run(run_id)
    assert run.current_execution == run_id
    assert keys.NOTHING_TO_FOLLOW_UP in raw_run(run_id)  # due when it was recorded: it had no schedule
    # When it is moved an hour later, under a new execution
    assert repo.reschedule_run(move(run, replaced=run_id, ordinal=1, minutes=60))
    # Then its due time, deadline, trigger and execution changed together, and its history says why
    moved = repo.get_run(run_id)
    assert (moved.status, moved.scheduled_for, moved.current_execution, moved.trigger_id) == (
        RunStatus.SCHEDULED,
        at_minutes(60),
        f"{run_id}-r1",
        "trg_moved",
    )
    assert moved.deadline == clock.iso(BASE + timedelta(minutes=180))
    assert [(h.status, h.cause) for h in moved.history][-1] == (RunStatus.SCHEDULED, "rescheduled by trg_moved")
    execution = repo.get_execution(run_id, f"{run_id}-r1")
    assert execution is not None and execution.due_at == at_minutes(60) and execution.ordinal == 1
    # And the indexes follow: it is not overdue any more, still found by its flow and its key
    assert repo.overdue_runs(due_before=NOW, limit=10) == []
    assert [r.scheduled_for for r in repo.overdue_runs(due_before=at_minutes(61), limit=10)] == [at_minutes(60)]
    (waiting,) = every_page_of_flow(repo, a.flow_id, due_before=None, limit=10)
    assert waiting.scheduled_for == at_minutes(60)
    assert raw_run(run_id)["scheduledByFlowSk"]["S"] == f"{at_minutes(60)}#{run_id}"
    assert repo.scheduled_run_ids_by_key(a.flow_id, "apt-1") == [run_id]
    # (now due later, it has a schedule to delete when it leaves `scheduled`: the stream must see that)
    assert keys.NOTHING_TO_FOLLOW_UP not in raw_run(run_id)
    # And the execution it replaced can no longer start it; the new one can
    with pytest.raises(TransitionRejected):
        repo.start_execution(run_id=run_id, name=run_id, arn=None, at=NOW, check_after=NOW)
    started = repo.start_execution(run_id=run_id, name=f"{run_id}-r1", arn=None, at=NOW, check_after=NOW)
    assert started.status == RunStatus.RUNNING


def test_a_reschedule_under_an_execution_already_replaced_changes_nothing(
    repo: DynamoRepository, flows: tuple[Flow, Flow]
) -> None:
    a, _ = flows
    (run_id,) = record(repo, a, [at_minutes(30)])
    run = repo.get_run(run_id)
    assert repo.reschedule_run(move(run, replaced=run_id, ordinal=1, minutes=60, trigger_id="trg_first"))
    before = raw_run(run_id)
    # When a second, late mover still thinks the first execution is the current one
    late = move(run, replaced=run_id, ordinal=2, minutes=120, trigger_id="trg_late")
    # Then it is refused, and nothing of it is written (not even its execution)
    assert not repo.reschedule_run(late)
    assert raw_run(run_id) == before
    assert repo.get_execution(run_id, f"{run_id}-r2") is None
    # While a mover that knows the current execution moves it again
    assert repo.reschedule_run(move(run, replaced=f"{run_id}-r1", ordinal=2, minutes=120, trigger_id="trg_second"))
    assert repo.get_run(run_id).current_execution == f"{run_id}-r2"


@pytest.mark.parametrize("left_as", ["running", "cancelled", "failed"])
def test_a_run_no_longer_scheduled_is_not_rescheduled(
    repo: DynamoRepository, flows: tuple[Flow, Flow], left_as: str
) -> None:
    a, _ = flows
    (run_id,) = record(repo, a, [at_minutes(-5)], key="apt-1")
    run = repo.get_run(run_id)
    if left_as == "running":
        repo.start_execution(run_id=run_id, name=run_id, arn=None, at=NOW, check_after=NOW)
    else:
        assert repo.transition_run(run_id, RunStatus(left_as), only_from=RunStatus.SCHEDULED)
    before = raw_run(run_id)
    # When an event tries to move it
    assert not repo.reschedule_run(move(run, replaced=run_id, ordinal=1, minutes=60))
    # Then nothing changed: it did not come back to `scheduled` nor into any index
    assert raw_run(run_id) == before
    assert repo.get_execution(run_id, f"{run_id}-r1") is None
    for index in (keys.OVERDUE, keys.SCHEDULED_BY_FLOW, keys.SCHEDULED_BY_KEY):
        assert run_id not in run_ids_in(index)


def test_a_missing_run_is_not_rescheduled(repo: DynamoRepository, flows: tuple[Flow, Flow]) -> None:
    a, _ = flows
    (run_id,) = record(repo, a, [at_minutes(5)])
    ghost = repo.get_run(run_id).model_copy(update={"run_id": "run_does_not_exist"})
    assert not repo.reschedule_run(move(ghost, replaced="run_does_not_exist", ordinal=1, minutes=60))
    assert repo.get_run("run_does_not_exist") is None
