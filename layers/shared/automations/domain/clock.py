"""Time in one place: UTC everywhere, ISO 8601 with a ``Z`` suffix on the wire.

Every "now" the engine uses comes from ``now()``. Deployed, that is the system clock; the local
stack installs its own source (a clock tests can move forward, see ``devstack/clock.py``) so that
a simulated day of schedules, deadlines and delays passes in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] | None = None


def now() -> datetime:
    return _source() if _source is not None else datetime.now(UTC)


def wall_now() -> datetime:
    """The machine's real time, for checks against a caller's clock (a webhook signature's window):
    a simulated local clock moves the engine's "now", never the callers'."""
    return datetime.now(UTC)


def use_source(source: Callable[[], datetime] | None) -> None:
    """Read "now" from ``source`` (an aware datetime) from here on; ``None`` restores the system clock."""
    global _source
    _source = source


def iso(moment: datetime) -> str:
    """Millisecond ISO 8601 in UTC with ``Z``: sorts as text in the same order as in time."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
