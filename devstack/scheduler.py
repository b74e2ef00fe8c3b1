"""Fires due schedules the way EventBridge Scheduler does (moto's Scheduler stores them, never fires).

Every ``interval`` seconds the dispatcher reads every schedule of moto's in-process Scheduler
backend (all groups) and decides, by the local clock (``devstack.clock``), which are due:

- ``at(...)`` (in its ``ScheduleExpressionTimezone``, default UTC): due once its time has come,
  whenever the schedule was made (one made for a time already past fires at once). It fires once;
  after delivery it is deleted when ``ActionAfterCompletion`` is ``DELETE``, else it stays and never
  fires again.
- ``cron(...)``/``rate(...)``: occurrences from when the dispatcher first saw the schedule (or its
  ``StartDate``) up to its ``EndDate``, computed by ``automations.domain.schedules`` in the
  schedule's time zone. When the clock has passed several occurrences at once (the clock was
  advanced, the dispatcher paused, the stack stopped), the schedule fires once, for the latest of
  them, and goes on from there: AWS does not replay history. A rate without ``StartDate`` counts
  from when it was first seen.

A schedule changed (``UpdateSchedule``) or re-created starts over, as if new. Only ``ENABLED``
schedules fire; paused, the dispatcher still looks (so it knows when each schedule appeared) but
fires nothing; resumed, what fell due fires as above.

Firings are delivered by ``devstack.schedule_targets`` on a small pool of threads, so a slow target
holds up no other schedule. What each schedule has done (its ``Progress``) changes only once its
delivery is over (delivered, dead-lettered, or logged as lost), so a stop in between delivers it
again after the restart (at least once, as AWS promises; targets are idempotent). Progress is kept
in the data directory with moto's schedules (``devstack.persistence``): a restart neither fires a
schedule again nor forgets the one that fell due while the stack was down.
"""

from __future__ import annotations

import contextlib
import copy
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from automations.domain import schedules
from automations.observability import logger

# Windows looked back through, narrowest first, for the latest occurrence passed: a narrow one
# answers at once for frequent schedules, a wide one finds a yearly cron.
_LOOK_BACK = (timedelta(minutes=1), timedelta(hours=1), timedelta(days=1), timedelta(days=32), timedelta(days=400))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class ScheduleView:
    """One moto schedule as the dispatcher reads it, copied at the moment it looked."""

    arn: str
    group: str
    name: str
    expression: schedules.ScheduleExpression
    timezone: str
    start: datetime | None
    end: datetime | None
    enabled: bool
    delete_after_completion: bool
    target: dict[str, Any]
    version: tuple[Any, ...]  # changes whenever the schedule is updated or made again

    @classmethod
    def of(cls, schedule: Any) -> ScheduleView:
        """From moto's ``Schedule``; ValueError when its expression or time zone is not valid."""
        timezone = schedule.schedule_expression_timezone or "UTC"
        schedules.check_timezone(timezone)
        return cls(
            arn=schedule.arn,
            group=schedule.group_name,
            name=schedule.name,
            expression=schedules.parse_expression(schedule.schedule_expression),
            timezone=timezone,
            start=_moment(schedule.start_date),
            end=_moment(schedule.end_date),
            enabled=(schedule.state or "ENABLED") == "ENABLED",
            delete_after_completion=schedule.action_after_completion == "DELETE",
            target=copy.deepcopy(schedule.target),
            version=version_of(schedule),
        )

    @property
    def one_time(self) -> bool:
        return self.expression.kind == "at"


def version_of(schedule: Any) -> tuple[Any, ...]:
    """Changes whenever moto's ``Schedule`` is updated or made again."""
    return (
        schedule.creation_date,
        schedule.last_modified_date,
        schedule.schedule_expression,
        schedule.schedule_expression_timezone,
        schedule.state,
        schedule.start_date,
        schedule.end_date,
    )


def _moment(value: Any) -> datetime | None:
    """A StartDate/EndDate as moto keeps it (epoch seconds from the JSON protocol) as aware UTC."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
        return datetime.fromisoformat(value).astimezone(UTC)
    return datetime.fromtimestamp(float(value), UTC)


@dataclass(frozen=True)
class Progress:
    """What one version of a schedule has done; kept in the data directory."""

    version: tuple[Any, ...]
    cursor: datetime  # every occurrence at or before it is settled (fired or passed over)
    anchor: datetime  # where a rate's grid starts: StartDate, else when the schedule was first seen
    next_due: datetime | None  # the next occurrence to fire; None: nothing more, ever

    @classmethod
    def first_seen(cls, view: ScheduleView, now: datetime) -> Progress:
        if view.one_time:
            return cls(view.version, _EPOCH, now, schedules.next_fire(view.expression, view.timezone, _EPOCH))
        cursor = now if view.start is None or view.start <= now else view.start - _JUST_BEFORE
        anchor = view.start or now.replace(microsecond=0)  # whole seconds, as scheduled times are
        return cls(view.version, cursor, anchor, _next_recurring(view, cursor, anchor))

    def settled(self, view: ScheduleView, through: datetime) -> Progress:
        """After a firing covering every occurrence up to ``through``."""
        if view.one_time:
            return replace(self, cursor=through, next_due=None)
        return replace(self, cursor=through, next_due=_next_recurring(view, through, self.anchor))


def _next_recurring(view: ScheduleView, after: datetime, anchor: datetime) -> datetime | None:
    fire = schedules.next_fire(view.expression, view.timezone, after, start=anchor)
    return None if fire is None or (view.end is not None and fire > view.end) else fire


def latest_occurrence(view: ScheduleView, progress: Progress, until: datetime) -> datetime | None:
    """The last occurrence after the progress's cursor and at or before ``until``."""
    for width in _LOOK_BACK:
        since = max(progress.cursor, until - width)
        fires = schedules.fires_between(
            view.expression, view.timezone, since, until, limit=1_000_000, rate_start=progress.anchor
        )
        if fires:
            return fires[-1]
        if since == progress.cursor:
            return None
    fires = schedules.fires_between(
        view.expression, view.timezone, progress.cursor, until, limit=1_000_000, rate_start=progress.anchor
    )
    return fires[-1] if fires else None


@dataclass(frozen=True)
class Firing:
    """One occurrence of a schedule, handed to delivery."""

    schedule: ScheduleView
    occurrence: datetime  # <aws.scheduler.scheduled-time>
    execution_id: str  # <aws.scheduler.execution-id>: one per firing, the same for its retries
    through: datetime  # every occurrence up to here is settled by this firing


def due(view: ScheduleView, progress: Progress, now: datetime) -> Firing | None:
    """The firing ``view`` owes at ``now``, if any."""
    if progress.next_due is None or progress.next_due > now:
        return None
    if view.one_time:
        occurrence: datetime | None = progress.next_due
        through = now
    else:
        through = min(now, view.end) if view.end is not None else now
        occurrence = latest_occurrence(view, progress, through) or progress.next_due
    assert occurrence is not None
    return Firing(view, occurrence, str(uuid.uuid4()), through)


Deliver = Callable[[Firing], str]  # delivers (with retries, dead-letter queue); says how it ended
Delete = Callable[[ScheduleView], None]  # deletes a schedule, unless it changed since ``view``


class Dispatcher:
    """The thread that looks at every schedule every ``interval`` seconds and fires those due."""

    def __init__(
        self,
        *,
        now: Callable[[], datetime],
        read_schedules: Callable[[], Iterable[Any]],
        deliver: Deliver,
        delete: Delete,
        progress: dict[str, Progress] | None = None,
        interval: float = 0.25,
        workers: int = 8,
    ) -> None:
        self._now, self._read, self._deliver, self._delete = now, read_schedules, deliver, delete
        self._progress: dict[str, Progress] = dict(progress or {})
        self._in_flight: dict[str, Firing] = {}
        self._futures: dict[str, Future[None]] = {}
        self._views: dict[str, tuple[tuple[Any, ...], ScheduleView | None]] = {}  # arn -> (version, view)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._paused = False
        self.interval = interval
        self.passes = 0  # how many times it has looked at every schedule
        self.changes = 0  # grows whenever progress changes (the saver's cue)
        self.schedule_count = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scheduler-delivery")
        self._thread = threading.Thread(target=self._run, name="scheduler-dispatcher", daemon=True)

    # --- control ---------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def start(self) -> None:
        self._thread.start()

    def begin_stop(self) -> None:
        """Ask its thread to wind down without waiting (``stop`` waits), so that the stack's parts
        stop side by side rather than one after another."""
        self._stop.set()

    def stop(self, wait_seconds: float = 5.0, join_seconds: float = 10.0) -> None:
        """No more passes (the one under way gets ``join_seconds`` to end); deliveries under way get
        ``wait_seconds`` to end. One cut short was not settled, so the next start delivers it again."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=join_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:  # never begun: left unsettled, as if the stop came before the firing
            for arn, future in list(self._futures.items()):
                if future.cancelled():
                    self._in_flight.pop(arn, None)
                    self._futures.pop(arn, None)
        self.wait_idle(wait_seconds)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no delivery is under way (at most ``timeout`` seconds); whether none is."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._in_flight, timeout=timeout)

    @contextlib.contextmanager
    def held(self) -> Iterator[dict[str, Progress]]:
        """Every schedule's settled progress, with no firing settling until the block ends."""
        with self._lock:
            yield dict(self._progress)

    # --- the passes ---------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_pass()
            except Exception:  # a defect here must not stop every schedule for good: say it, go on
                logger.exception("the local scheduler's pass failed; trying again")

    def run_pass(self) -> list[Firing]:
        """Look at every schedule once; hand those due to delivery. Returns what it fired."""
        now = self._now()
        seen: set[str] = set()
        fired: list[Firing] = []
        for schedule in self._read():
            seen.add(schedule.arn)
            view = self._view(schedule)
            if view is None:
                continue
            firing = self._consider(view, now)
            if firing is not None:
                fired.append(firing)
                future = self._pool.submit(self._deliver_and_settle, firing)
                with self._lock:
                    if view.arn in self._in_flight:  # not settled already
                        self._futures[view.arn] = future
        with self._lock:
            for arn in set(self._progress) - seen - set(self._in_flight):
                del self._progress[arn]  # deleted: forget it (made again, it starts over anyway)
                self.changes += 1
            for arn in set(self._views) - seen:
                del self._views[arn]
            self.schedule_count = len(seen)
            self.passes += 1
        return fired

    def _view(self, schedule: Any) -> ScheduleView | None:
        """The schedule as read now (parsed once per version); None for one that is not valid."""
        version = version_of(schedule)
        cached = self._views.get(schedule.arn)
        if cached is not None and cached[0] == version:
            return cached[1]
        try:
            view: ScheduleView | None = ScheduleView.of(schedule)
        except ValueError as error:  # moto took it before its checks were patched in: it never fires
            view = None
            logger.error("a schedule is not valid; it never fires", extra={"schedule": schedule.arn, "why": str(error)})
        self._views[schedule.arn] = (version, view)
        return view

    def _consider(self, view: ScheduleView, now: datetime) -> Firing | None:
        with self._lock:
            if view.arn in self._in_flight:
                return None
            progress = self._progress.get(view.arn)
            if progress is None or progress.version != view.version:
                progress = self._progress[view.arn] = Progress.first_seen(view, now)
                self.changes += 1
            leftover = progress.next_due is None and view.delete_after_completion
            firing = None if self._paused or not view.enabled or leftover else due(view, progress, now)
            if firing is not None:
                self._in_flight[view.arn] = firing
        if leftover:  # completed and settled, but not deleted yet (the stack stopped in between)
            self._delete(view)
        return firing

    def _deliver_and_settle(self, firing: Firing) -> None:
        view = firing.schedule
        try:
            outcome = self._deliver(firing)
        except Exception:  # delivery reports its own failures; this is a defect in it: say so loudly
            logger.exception(
                "a schedule's firing could not be delivered and is lost",
                extra={"schedule": view.arn, "scheduledTime": firing.occurrence.isoformat()},
            )
            outcome = "lost"
        with self._lock:
            progress = self._progress.get(view.arn)
            finished = False
            if progress is not None and progress.version == view.version:
                settled = progress.settled(view, firing.through)
                self._progress[view.arn] = settled
                finished = settled.next_due is None
                self.changes += 1
        logger.debug(
            "schedule fired",
            extra={"schedule": view.arn, "scheduledTime": firing.occurrence.isoformat(), "outcome": outcome},
        )
        try:
            if finished and view.delete_after_completion:
                self._delete(view)
        finally:  # over only now: a pass never sees it settled yet not deleted
            with self._idle:
                self._in_flight.pop(view.arn, None)
                self._futures.pop(view.arn, None)
                self._idle.notify_all()


# --- moto's Scheduler, in this process ---------------------------------------------------------


def _backend(account: str, region: str) -> Any:
    from moto.scheduler.models import scheduler_backends

    return scheduler_backends[account][region]


def moto_schedules(account: str, region: str) -> Callable[[], list[Any]]:
    """Reads every schedule of every group (copies of moto's dicts: requests change them meanwhile)."""

    def read() -> list[Any]:
        groups = list(_backend(account, region).schedule_groups.values())
        return [schedule for group in groups for schedule in list(group.schedules.values())]

    return read


def delete_unless_changed(account: str, region: str) -> Delete:
    """Deletes a completed schedule, unless it was updated since it fired (a run rescheduled while
    its old time was being delivered keeps its new time)."""
    from devstack.moto_patches import SCHEDULER_LOCK

    def delete(view: ScheduleView) -> None:
        with SCHEDULER_LOCK:
            group = _backend(account, region).schedule_groups.get(view.group)
            schedule = group.schedules.get(view.name) if group is not None else None
            if schedule is not None and version_of(schedule) == view.version:
                del group.schedules[view.name]

    return delete
