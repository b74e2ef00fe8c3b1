"""Tables and colour for a terminal.

Colour is added with ``click.style`` and removed again by ``click.echo`` when stdout is not a
terminal (or ``NO_COLOR`` is set: see ``main``), so nothing here needs to know where it writes.
Tables are plain aligned columns, one line per row, so that ``grep`` and ``awk`` still work.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import click

# One colour per status, the same wherever a status appears (runs, steps, attempts).
STATUS_STYLES: dict[str, dict[str, Any]] = {
    "completed": {"fg": "green"},
    "failed": {"fg": "red"},
    "running": {"fg": "yellow"},
    "retrying": {"fg": "blue"},
    "scheduled": {"dim": True},
    "cancelled": {"fg": "magenta"},
    "interrupted": {"fg": "magenta"},
}
# The order statuses are listed in when a view shows one column each (ops summary).
STATUS_ORDER = ("scheduled", "running", "retrying", "completed", "failed", "cancelled", "interrupted")
NONE = "-"


@dataclass(frozen=True)
class Styled:
    """A table cell with a style (``click.style`` keywords); padded first, then styled, so that
    escape codes never count towards a column's width."""

    text: str
    style: dict[str, Any] = field(default_factory=dict)

    def render(self, width: int | None = None) -> str:
        text = self.text if width is None else self.text.ljust(width)
        return click.style(text, **self.style) if self.style else text


Cell = str | Styled


def status(value: str | None, suffix: str = "") -> Styled:
    if not value:
        return Styled(NONE)
    return Styled(value + suffix, STATUS_STYLES.get(value, {}))


def bold(text: str) -> Styled:
    return Styled(text, {"bold": True})


def table(headers: Sequence[Cell], rows: Sequence[Sequence[Cell]]) -> str:
    cells = [[c if isinstance(c, Styled) else Styled(c) for c in row] for row in [headers, *rows]]
    cells[0] = [Styled(c.text, c.style or {"bold": True}) for c in cells[0]]
    widths = [max(len(row[i].text) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        # the last column is not padded: no trailing blanks at the end of a line
        parts = [c.render(w) for c, w in zip(row[:-1], widths[:-1], strict=True)] + [row[-1].render()]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, Cell]]) -> str:
    """``label  value`` lines, labels aligned; pairs whose value is ``NONE`` are left out."""
    shown = [(label, value) for label, value in pairs if (value.text if isinstance(value, Styled) else value) != NONE]
    width = max((len(label) for label, _ in shown), default=0)
    return "\n".join(
        f"{click.style(label.ljust(width), dim=True)}  {value.render() if isinstance(value, Styled) else value}"
        for label, value in shown
    )


def heading(text: str) -> str:
    return click.style(text, bold=True)


def text(value: Any) -> str:
    """A value as given (times stay the API's ISO 8601 UTC strings), ``-`` when absent."""
    return NONE if value is None or value == "" else str(value)


def duration(ms: int | float | None) -> str:
    if ms is None:
        return NONE
    if ms < 1000:
        return f"{int(ms)}ms"
    seconds = ms / 1000
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def duration_ms(item: dict[str, Any]) -> float | None:
    """``durationMs`` when the API gives it, else from ``startedAt`` and ``endedAt``."""
    if item.get("durationMs") is not None:
        return float(item["durationMs"])
    try:
        started = datetime.fromisoformat(item["startedAt"])
        ended = datetime.fromisoformat(item["endedAt"])
    except (KeyError, TypeError, ValueError):
        return None
    return (ended - started).total_seconds() * 1000
