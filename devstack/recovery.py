"""What a restart does about the executions the stopped stack was running.

moto runs Step Functions executions in the stack's own threads, so none survives the process:
to the engine, a restart is a platform event, and it goes through the paths the engine already
has for those.

- An execution that had taken its run (the run ``running`` or ``retrying`` under its
  ``currentExecution``) ended without reaching its end: reported as Step Functions' status-change
  event would, ``ended_executions.execution_ended(status="ABORTED")``; the stream reaction
  ``follow_execution_end`` then marks the run and its step in flight ``interrupted``. If the
  interpreter had recorded its end already, this records nothing and the end is delivered as usual.
- An execution requested but never started (its run still ``scheduled``, or ``interrupted`` and
  awaiting a resume; a waiting run's first execution, requested by the run itself) may have been
  started by the stream just before the stop and lost with it.
  It is offered to the outbox again, as a redelivered stream record would be: the reaction starts
  it when it is due. Should the stream deliver its record too, Standard refuses the second start
  of the same name, and a second Express execution finds the execution claimed and runs nothing.

Runs here after the snapshot is restored and before the stream poller starts; the writes reach
the stream like any other and are delivered once the poller runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from automations.domain.status import RunStatus
from automations.logic import ended_executions
from automations.logic.change_router import TableChange
from automations.logic.reactions import ReactionDeps, start_first_execution, start_requested_execution
from automations.ports import Schedules, Store, Workflows

CAUSE = "the local stack stopped while this execution ran"
IN_FLIGHT = (RunStatus.RUNNING, RunStatus.RETRYING)
STARTABLE = (RunStatus.SCHEDULED, RunStatus.INTERRUPTED)

_deserializer = TypeDeserializer()


@dataclass
class Recovered:
    aborted: list[str] = field(default_factory=list)  # executions reported ABORTED
    offered: list[str] = field(default_factory=list)  # executions offered to the outbox again


def recover_executions(
    table_name: str, dynamodb: Any, store: Store, workflows: Workflows, schedules: Schedules
) -> Recovered:
    recovered = Recovered()
    in_flight = {":run": "run", **{f":{status}": str(status) for status in IN_FLIGHT}}
    condition = f"entity = :run AND #status IN ({', '.join(list(in_flight)[1:])})"
    for run in _items(table_name, dynamodb, condition, in_flight):
        name = run.get("currentExecution")
        if not name:
            continue
        if ended_executions.execution_ended(store, run_id=run["runId"], name=name, status="ABORTED", cause=CAUSE):
            recovered.aborted.append(name)
    unstarted = "entity = :execution AND attribute_not_exists(startedAt) AND attribute_not_exists(outcome)"
    deps = ReactionDeps(store=store, workflows=workflows, schedules=schedules)
    requested = set()
    for execution in _items(table_name, dynamodb, unstarted, {":execution": "execution"}):
        requested.add(execution["name"])
        owner = store.get_run(execution["runId"])
        if owner is None or owner.status not in STARTABLE:
            continue
        outcome = start_requested_execution(TableChange(event="INSERT", new=execution, old=None), deps)
        if outcome == "started":
            recovered.offered.append(execution["name"])
    # a run's first execution has no item until it starts: the waiting run is its request
    waiting = {":run": "run", ":waiting": str(RunStatus.SCHEDULED)}
    for run in _items(table_name, dynamodb, "entity = :run AND #status = :waiting", waiting):
        if run.get("currentExecution") in requested:  # (rescheduled: its current execution has an item)
            continue
        if start_first_execution(TableChange(event="INSERT", new=run, old=None), deps) == "started":
            recovered.offered.append(run["currentExecution"])
    return recovered


def _items(table_name: str, dynamodb: Any, condition: str, values: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The table's items matching ``condition`` (a whole-table scan: dev tooling, once at start;
    the engine itself never scans)."""
    request: dict[str, Any] = {
        "TableName": table_name,
        "FilterExpression": condition,
        "ExpressionAttributeValues": {key: {"S": value} for key, value in values.items()},
    }
    if "#status" in condition:
        request["ExpressionAttributeNames"] = {"#status": "status"}
    for page in dynamodb.get_paginator("scan").paginate(**request):
        for item in page["Items"]:
            yield {key: _deserializer.deserialize(value) for key, value in item.items()}
