"""Failure spikes: runs by status per flow in a window and in the one before it (``GET /ops/summary``).

The handbook tells operators to escalate on "a spike in Failed runs across multiple flows". The
rule, one place: a flow (or the account as a whole) spikes when its failed runs in the window are
at least ``SPIKE_MIN_FAILURES`` and at least ``SPIKE_FACTOR`` times those of the previous window
(a previous window without failures counts as one). Runs are counted by when they were due: their
trigger time, or their scheduled time for one due later.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from automations.domain import clock
from automations.domain.schedules import parse_duration
from automations.domain.status import RunStatus
from automations.errors import ValidationFailed
from automations.logic.history import run_query
from automations.ports import Store

SPIKE_MIN_FAILURES = 5
SPIKE_FACTOR = 3
SPIKE_RULE = (
    f"failed runs in the window >= {SPIKE_MIN_FAILURES} and >= {SPIKE_FACTOR}x the previous window's "
    "(none before counts as 1)"
)
MIN_WINDOW, MAX_WINDOW = timedelta(minutes=1), timedelta(days=7)
MAX_RUNS_READ = 20_000  # two windows' runs are read; past this the counts say they are partial


def is_spike(failed_now: int, failed_before: int) -> bool:
    return failed_now >= SPIKE_MIN_FAILURES and failed_now >= SPIKE_FACTOR * max(failed_before, 1)


@dataclass
class Counts:
    current: Counter[str] = field(default_factory=Counter)
    previous: Counter[str] = field(default_factory=Counter)

    @property
    def spike(self) -> bool:
        return is_spike(self.current[RunStatus.FAILED], self.previous[RunStatus.FAILED])


@dataclass(frozen=True)
class FlowCounts:
    flow_id: str
    name: str | None
    counts: Counts


@dataclass(frozen=True)
class Summary:
    window: timedelta
    since: str  # the window: [since, until)
    until: str
    previous_since: str  # the previous window: [previous_since, since)
    account: Counts
    flows: list[FlowCounts]  # flows with runs in either window; spiking first, then most failures
    partial: bool  # more than MAX_RUNS_READ runs: the counts are of the newest ones


def summarize(store: Store, account_id: str, window_text: str) -> Summary:
    """``window_text``: an ISO 8601 duration (``PT1H``)."""
    try:
        window = parse_duration(window_text)
    except ValueError as error:
        raise ValidationFailed(f"window: {error}") from error
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise ValidationFailed("'window' must be between PT1M and P7D")
    until = clock.now()
    since, previous_since = until - window, until - 2 * window
    query = run_query(account_id, since=previous_since, until=until)
    boundary = clock.iso(since)
    account = Counts()
    per_flow: dict[str, Counts] = {}
    read, cursor, partial = 0, None, False
    while True:
        page = store.list_runs(query, limit=100, cursor=cursor)
        for run in page.items:
            side = "current" if run.scheduled_for >= boundary else "previous"
            getattr(account, side)[str(run.status)] += 1
            getattr(per_flow.setdefault(run.flow_id, Counts()), side)[str(run.status)] += 1
        read += len(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
        if read >= MAX_RUNS_READ:
            partial = True
            break
    flows = [FlowCounts(flow_id, _name(store, flow_id), counts) for flow_id, counts in per_flow.items()]
    flows.sort(key=lambda f: (not f.counts.spike, -f.counts.current[RunStatus.FAILED], f.flow_id))
    return Summary(
        window=window,
        since=boundary,
        until=clock.iso(until),
        previous_since=clock.iso(previous_since),
        account=account,
        flows=flows,
        partial=partial,
    )


def _name(store: Store, flow_id: str) -> str | None:
    flow = store.get_flow(flow_id)
    return flow.name if flow else None
