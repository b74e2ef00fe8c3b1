"""The one path that records runs: a trigger and the runs it causes, in one transaction.

Every trigger kind comes through here (webhook, event, schedule, manual run, re-trigger). A
run is recorded ``scheduled``, which requests its first execution (``first_execution_of``; its
first node is next in line: ``steps.next_in_line``); the table's stream starts that execution when
it is due, or gives it a one-time schedule when it is due later (the outbox: the run's INSERT), so
nothing here has a side effect beyond the one write.
With an idempotency key the trigger id is derived from it, so a retried call finds the first
recording and records nothing twice; the trigger keeps a hash of the request (``request_hash``),
so the same key sent with another request is refused (``IdempotencyKeyReused``, 422) instead of
answering with a recording of something else.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from automations.domain import clock, ids
from automations.domain.runs import ErrorInfo, Run, StatusChange, Step, first_execution_name
from automations.domain.status import RunStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import IdempotencyKeyReused, ValidationFailed
from automations.flows import graph
from automations.flows.definition import Flow
from automations.logic.flows import load_version
from automations.observability import Metric, count
from automations.ports import AcceptedSignature, DuplicateTrigger, RunRecord, Store


@dataclass(frozen=True)
class RunPlan:
    """One run to record for a trigger."""

    flow: Flow
    scheduled_for: str | None = None  # when it is due; now when absent
    start_at: str | None = None  # the node it starts at; the flow's first when absent
    carried_steps: list[Step] = field(default_factory=list)  # completed steps it reuses (start_at later)
    deadline: str | None = None  # not started by then, it never starts (fails with Expired)
    correlation_key: str | None = None  # what later events withdraw or reschedule it by
    error: ErrorInfo | None = None  # it could not be planned (its `at` gave no time): recorded failed
    retrigger_of: str | None = None  # the run it re-triggers


@dataclass(frozen=True)
class Recorded:
    trigger_id: str
    run_ids: list[str]
    replayed: bool = False  # the trigger was recorded before (same idempotency key)
    trigger: TriggerEvent | None = None  # as first recorded, when replayed


def trigger_id_for(scope: str, idempotency_key: str | None) -> str:
    """With an idempotency key the id is derived from it, so a replay finds the first recording."""
    if not idempotency_key:
        return ids.new_id("trg")
    digest = hashlib.sha256(f"{scope}\n{idempotency_key}".encode()).hexdigest()[:32]
    return f"trg_{digest}"


def request_hash(request: bytes | Any) -> str:
    """SHA-256 of a request: raw bytes as they are (a webhook's signed body), anything else as
    canonical JSON (sorted keys, no spaces), so equal requests hash equal however they were spelled."""
    if not isinstance(request, bytes):
        request = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(request).hexdigest()


def replayed(first: TriggerEvent, request_hash: str | None) -> Recorded:
    """The answer to a replay of ``first``: its recording, if the request is the same one."""
    if first.request_hash is not None and request_hash is not None and first.request_hash != request_hash:
        key = f"event id '{first.event_id}'" if first.kind == "event" else f"Idempotency-Key '{first.idempotency_key}'"
        raise IdempotencyKeyReused(
            f"{key} was used with another request body (first recorded at {first.received_at}); "
            "use a new one for a new request"
        )
    return Recorded(first.trigger_id, first.run_ids, replayed=True, trigger=first)


def record_runs(
    store: Store, trigger: TriggerEvent, plans: list[RunPlan], signature: AcceptedSignature | None = None
) -> Recorded:
    """Record ``trigger`` and one run per plan (each with its first execution), and a webhook's
    ``signature``, in one transaction (``SignatureTaken`` if it was accepted before)."""
    records = [_run_record(store, trigger, plan) for plan in plans]
    recorded = trigger.model_copy(update={"run_ids": [r.run.run_id for r in records]})
    try:
        store.record_trigger(recorded, records, signature)
    except DuplicateTrigger:
        first = store.get_trigger(trigger.trigger_id)
        assert first is not None, "a duplicate trigger exists by definition"
        return replayed(first, trigger.request_hash)
    failed_at_once = sum(1 for r in records if r.run.status == RunStatus.FAILED)
    if failed_at_once:
        count(Metric.RUNS_FAILED, failed_at_once)
    return Recorded(recorded.trigger_id, recorded.run_ids)


def _run_record(store: Store, trigger: TriggerEvent, plan: RunPlan) -> RunRecord:
    definition = load_version(store, plan.flow.flow_id, plan.flow.version).definition
    if plan.start_at is not None and plan.start_at not in {node.id for node in definition.nodes}:
        raise ValidationFailed(f"flow '{plan.flow.flow_id}' has no node '{plan.start_at}' to start at")
    now = trigger.received_at
    due = plan.scheduled_for or now
    run_id = ids.new_id("run")
    carried = [s.model_copy(update={"run_id": run_id}) for s in plan.carried_steps]
    run = Run(
        run_id=run_id,
        account_id=plan.flow.account_id,
        flow_id=plan.flow.flow_id,
        flow_version=plan.flow.version,
        trigger_id=trigger.trigger_id,
        trigger_kind=trigger.kind,
        status=RunStatus.SCHEDULED,
        created_at=now,
        scheduled_for=due,
        deadline=plan.deadline,
        correlation_key=plan.correlation_key,
        first_node=plan.start_at,
        first_step_number=max(s.step_number for s in carried) + 1 if carried else None,
        current_execution=first_execution_name(run_id),
        retrigger_of=plan.retrigger_of,
        history=[StatusChange(status=RunStatus.SCHEDULED, at=now)],
    )
    if plan.error is not None:  # nothing to start: the run ends before it begins, saying why
        failed = run.model_copy(
            update={
                "status": RunStatus.FAILED,
                "error": plan.error,
                "ended_at": now,
                "current_execution": None,
                "history": [*run.history, StatusChange(status=RunStatus.FAILED, at=now, cause=plan.error.message)],
            }
        )
        return RunRecord(run=failed)
    # recording it requests its first execution (``first_execution_of``), whose first step is next
    # in line from now on (derived where read: ``steps.next_in_line``); what it reads of its
    # trigger is kept until it may have waited its longest
    keep_until = clock.parse_iso(due) + graph.longest_wait(definition)
    return RunRecord(run=run, carried_steps=carried, keep_until=clock.iso(keep_until))
