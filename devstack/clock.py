"""The local stack's clock: real time plus an offset that only grows.

Locally a simulated day has to pass in seconds (a reminder due tomorrow, a run's deadline, a
``delay`` node of a week), so the stack keeps its own "now": the machine's time plus an offset
that ``advance`` and ``set`` move forward (``POST /_local/clock``). It never goes backwards:
everything the engine recorded (``scheduledFor``, attempts, history) was stamped with it, and a
clock going back would make the past happen again.

The stack installs it as the engine's source of time (``automations.domain.clock.use_source``),
so every ``clock.now()`` of the in-process handlers follows it; the scheduler dispatcher and the
Wait states of the state machine (``devstack.moto_patches.timestamp_waits_follow``) read it too.
Without a move it runs at real time: a wait of N seconds still takes N seconds.

The data directory keeps its reading (``reading``/``resume``), so a restarted stack reads no
earlier than the stopped one did.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from automations.domain import clock as engine_clock


class ClockError(ValueError):
    """A move the clock refuses (backwards, or not a time at all): answered 400 on /_local/clock."""


def system_time() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ClockReading:
    """What the data directory keeps: the offset, and the time the clock read when it was saved."""

    offset: timedelta
    now: datetime


class LocalClock:
    """Real time plus a forward-only offset; thread-safe."""

    def __init__(self, offset: timedelta = timedelta(0), wall: Callable[[], datetime] = system_time) -> None:
        if offset < timedelta(0):
            raise ClockError("the local clock's offset cannot be negative")
        self._wall = wall
        self._offset = offset
        self._lock = threading.Lock()

    @property
    def offset(self) -> timedelta:
        return self._offset

    def now(self) -> datetime:
        """The local "now", an aware UTC datetime."""
        return self._wall() + self._offset

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by``; answers the new now."""
        if by < timedelta(0):
            raise ClockError(f"the local clock only moves forward; cannot advance by {by}")
        with self._lock:
            self._offset += by
            return self.now()

    def set(self, moment: datetime) -> datetime:
        """Jump to ``moment`` (aware); a moment before now is refused. Answers the new now."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ClockError(f"{moment.isoformat()} has no time zone: give one (e.g. a Z suffix)")
        with self._lock:
            current = self.now()
            if moment < current:
                raise ClockError(
                    f"the local clock only moves forward: {engine_clock.iso(moment)} is before "
                    f"its now, {engine_clock.iso(current)}"
                )
            self._offset += moment - current
            return self.now()

    def reading(self) -> ClockReading:
        with self._lock:
            return ClockReading(offset=self._offset, now=self.now())

    def install(self) -> None:
        """Every ``automations.domain.clock.now()`` in this process reads this clock from here on."""
        engine_clock.use_source(self.now)

    @classmethod
    def resume(cls, saved: ClockReading | None, wall: Callable[[], datetime] = system_time) -> LocalClock:
        """The clock of a restarted stack: the saved offset (the time the stack was down passes, as
        an outage would), and never earlier than the saved reading, even should the machine's own
        clock have gone back meanwhile."""
        if saved is None:
            return cls(wall=wall)
        offset = max(saved.offset, saved.now - wall(), timedelta(0))
        return cls(offset=offset, wall=wall)
