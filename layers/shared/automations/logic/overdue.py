"""The overdue view: runs still `scheduled` whose time has passed (a derived view, not a status).

Read from the sparse ScheduledByFlow index, one flow at a time: every item read is a run of the
account that is overdue, nothing else (see ``DynamoRepository.scheduled_runs_of_flow``).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from automations.domain import clock
from automations.domain.runs import Run
from automations.errors import InvalidCursor
from automations.logic.flows import get_owned_flow, live_flows
from automations.ports import Store


@dataclass(frozen=True)
class FlowOverdue:
    flow_id: str
    count: int
    oldest: str  # the earliest scheduledFor among them


@dataclass(frozen=True)
class OverdueView:
    count: int
    by_flow: list[FlowOverdue]
    items: list[Run]
    next_cursor: str | None


def is_overdue(run: Run) -> bool:
    return run.status == "scheduled" and clock.parse_iso(run.scheduled_for) < clock.now()


def overdue_runs(store: Store, account_id: str, *, flow_id: str | None, limit: int, cursor: str | None) -> OverdueView:
    """Counts per flow (oldest overdue first) and a page of the runs, flow by flow, oldest first.

    Each flow's overdue runs are read once (the count needs them all); the page is cut from them,
    its cursor the last run shown, so runs that start meanwhile do not shift the next page.
    """
    now = clock.iso(clock.now())
    flows = [get_owned_flow(store, account_id, flow_id)] if flow_id else live_flows(store, account_id)
    overdue = {flow.flow_id: runs for flow in flows if (runs := _all_overdue(store, flow.flow_id, now))}
    by_flow = sorted(
        (FlowOverdue(flow, len(runs), runs[0].scheduled_for) for flow, runs in overdue.items()),
        key=lambda f: (f.oldest, f.flow_id),
    )
    ordered = [(f.flow_id, f"{run.scheduled_for}#{run.run_id}", run) for f in by_flow for run in overdue[f.flow_id]]
    start = _position(cursor, ordered)
    page = ordered[start : start + limit]
    more = start + limit < len(ordered)
    next_cursor = _encode(page[-1][0], page[-1][1]) if more and page else None
    return OverdueView(len(ordered), by_flow, [run for _, _, run in page], next_cursor)


def _all_overdue(store: Store, flow_id: str, now: str) -> list[Run]:
    runs: list[Run] = []
    cursor = None
    while True:
        page = store.scheduled_runs_of_flow(flow_id, due_before=now, limit=100, cursor=cursor)
        runs += page.items
        if page.next_cursor is None:
            return runs
        cursor = page.next_cursor


def _encode(flow_id: str, after: str) -> str:
    raw = json.dumps({"flow": flow_id, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _position(cursor: str | None, ordered: list[tuple[str, str, Run]]) -> int:
    """Where the page after the cursor's run starts (runs of its flow sort by due time, then id)."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        flow, after = str(data["flow"]), str(data["after"])
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidCursor("cursor is not valid for this listing") from error
    flows = list(dict.fromkeys(f for f, _, _ in ordered))
    if flow not in flows:  # its flow has nothing overdue any more: go on with the flows after it
        return len(ordered)
    return next(
        (
            i
            for i, (f, key, _) in enumerate(ordered)
            if flows.index(f) > flows.index(flow) or (f == flow and key > after)
        ),
        len(ordered),
    )
