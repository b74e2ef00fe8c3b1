"""EventBridge Scheduler time semantics: durations, schedule expressions, time zones, next firing.

Pure: no AWS calls. The deployed engine hands the expression and time zone to EventBridge
Scheduler; this module validates them first (so a user hears what is wrong when saving a flow,
not when a deploy fails) and computes the same firing times for the local stack's dispatcher,
for "next run at" in the API and for tests.

Expressions (EventBridge Scheduler syntax):

- ``cron(minutes hours day-of-month month day-of-week year)``: six fields, evaluated in the
  schedule's time zone. Exactly one of day-of-month and day-of-week is ``?``. Day-of-week counts
  1-7 = SUN-SAT (AWS/Quartz numbering, not Unix's 0-6). ``L`` (last), ``W`` (nearest weekday)
  and ``#`` (nth weekday of the month) stand alone in their field.
- ``rate(value unit)``: every ``value`` minutes, hours or days of elapsed time (a day is 24
  hours, whatever daylight saving does to the wall clock); the singular unit goes with 1 only.
- ``at(yyyy-mm-ddThh:mm:ss)``: once, at that wall-clock time in the schedule's time zone.

Daylight saving, as EventBridge Scheduler does it: a cron time that does not exist locally
(the hour skipped when clocks spring forward) does not fire that day; a cron time that occurs
twice (the hour repeated when clocks fall back) fires once, at its first occurrence.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CronFields",
    "DayRule",
    "ScheduleExpression",
    "check_timezone",
    "fires_between",
    "next_fire",
    "parse_duration",
    "parse_expression",
]

ScheduleKind = Literal["cron", "rate", "at"]

# ---------------------------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------------------------

_DURATION_EXAMPLES = "PT15M, PT24H, P1D or P1DT2H30M"
# Designators in the order ISO 8601 writes them; years and months have no fixed length.
_DATE_UNITS: dict[str, timedelta | None] = {"Y": None, "M": None, "W": timedelta(weeks=1), "D": timedelta(days=1)}
_TIME_UNITS: dict[str, timedelta | None] = {
    "H": timedelta(hours=1),
    "M": timedelta(minutes=1),
    "S": timedelta(seconds=1),
}
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)([A-Z])")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration (``PT24H``, ``P1D``, ``PT15M``, ``P1DT2H30M``, ``P2W``, ``PT0S``).

    Weeks, days, hours and minutes are whole numbers; seconds may have a fraction (``PT1.5S``).
    Years and months are refused: their length depends on the calendar (say ``P30D``).
    """
    original = text
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ValueError(f"duration {original!r} is empty: use an ISO 8601 duration such as {_DURATION_EXAMPLES}")
    if text.startswith("-"):
        raise ValueError(f"duration {original!r} is negative: durations count forward, e.g. {_DURATION_EXAMPLES}")
    bad = ValueError(f"{original!r} is not an ISO 8601 duration; use e.g. {_DURATION_EXAMPLES}")
    match = re.fullmatch(r"P([^T]*)(?:T(.*))?", text.upper())
    if match is None:
        raise bad
    date_part, time_part = match.group(1), match.group(2)
    if time_part == "" or (not date_part and time_part is None):
        raise bad  # "P", "PT", "P1DT": a designator with no amount after it
    total = timedelta()
    for part, units in ((date_part, _DATE_UNITS), (time_part or "", _TIME_UNITS)):
        total += _sum_duration_part(original, part, units, bad)
    return total


def _sum_duration_part(original: str, part: str, units: dict[str, timedelta | None], bad: ValueError) -> timedelta:
    total = timedelta()
    order = list(units)
    position = -1  # index in ``order`` of the last designator seen: each once, in order
    consumed = 0
    for found in _DURATION_PART.finditer(part):
        if found.start() != consumed:
            raise bad
        consumed = found.end()
        amount, designator = found.group(1), found.group(2)
        if designator not in units or order.index(designator) <= position:
            raise bad
        position = order.index(designator)
        size = units[designator]
        if size is None:
            raise ValueError(
                f"duration {original!r} uses years or months, whose length varies; say it in days or weeks (e.g. P30D)"
            )
        if designator != "S" and not amount.isdigit():
            raise ValueError(f"duration {original!r}: only seconds may have a fraction (e.g. PT90M rather than PT1.5H)")
        total += size * float(amount.replace(",", ".")) if designator == "S" else size * int(amount)
    if consumed != len(part):
        raise bad
    return total


# ---------------------------------------------------------------------------------------------
# Time zones
# ---------------------------------------------------------------------------------------------


def check_timezone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``Europe/Berlin``, ``America/New_York``, ``UTC``).

    Zone data comes from the system or, where there is none (Lambda, slim images), from the
    ``tzdata`` package.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError("time zone is empty: use an IANA name such as Europe/Berlin or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError/ValueError: a path that is a directory or not a zone file, or not a valid key.
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin, America/New_York or UTC"
        ) from None


# ---------------------------------------------------------------------------------------------
# Expressions
# ---------------------------------------------------------------------------------------------

# Spelled out rather than taken from calendar.month_abbr, which follows the locale.
_MONTH_NAMES = {
    name: number
    for number, name in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], 1
    )
}
# AWS numbers days of the week 1-7 = SUN-SAT.
_WEEKDAY_NAMES = {name: number for number, name in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"], 1)}
_SATURDAY = 7


def _aws_weekday(day: date) -> int:
    """1 = Sunday ... 7 = Saturday (Python's ``weekday()`` is 0 = Monday ... 6 = Sunday)."""
    return (day.weekday() + 1) % 7 + 1


@dataclass(frozen=True)
class DayRule:
    """Which days of a month a cron fires on, from whichever of its two day fields is not ``?``.

    kind:
    - ``days``: day-of-month numbers in ``values`` (``*`` is 1-31; days past the month's end skip)
    - ``last_day``: ``L`` in day-of-month
    - ``last_weekday``: ``LW``, the month's last Monday-Friday
    - ``nearest_weekday``: ``nW``, the Monday-Friday nearest day ``n`` without leaving the month
    - ``weekdays``: day-of-week numbers (1 = SUN) in ``values``; ``L`` alone means Saturday
    - ``last_of_weekday``: ``nL``, the month's last weekday ``n`` (``6L`` = last Friday)
    - ``nth_weekday``: ``n#k``, the ``k``-th weekday ``n`` of the month (``6#3`` = third Friday)
    """

    kind: Literal["days", "last_day", "last_weekday", "nearest_weekday", "weekdays", "last_of_weekday", "nth_weekday"]
    values: frozenset[int] = frozenset()
    n: int = 0
    k: int = 0

    def days(self, year: int, month: int) -> list[int]:
        """The matching days of ``month`` in ``year``, ascending."""
        first_weekday = _aws_weekday(date(year, month, 1))
        length = calendar.monthrange(year, month)[1]

        def weekday_of(day: int) -> int:
            return (first_weekday - 1 + day - 1) % 7 + 1

        if self.kind == "days":
            return sorted(day for day in self.values if day <= length)
        if self.kind == "last_day":
            return [length]
        if self.kind == "last_weekday":
            day = length
            while weekday_of(day) in (1, _SATURDAY):
                day -= 1
            return [day]
        if self.kind == "nearest_weekday":
            return [] if self.n > length else [_nearest_weekday(self.n, length, weekday_of(self.n))]
        if self.kind == "weekdays":
            return [day for day in range(1, length + 1) if weekday_of(day) in self.values]
        if self.kind == "last_of_weekday":
            return [max(day for day in range(length - 6, length + 1) if weekday_of(day) == self.n)]
        # nth_weekday: the first such day falls in 1-7, the k-th one 7*(k-1) days later.
        first = 1 + (self.n - first_weekday) % 7
        day = first + 7 * (self.k - 1)
        return [day] if day <= length else []


def _nearest_weekday(day: int, length: int, weekday: int) -> int:
    # Quartz/AWS: Saturday moves to Friday and Sunday to Monday, but never into another month
    # (1W on a Saturday is Monday the 3rd; 31W on a Sunday is Friday the 29th).
    if weekday == _SATURDAY:
        return day - 1 if day > 1 else day + 2
    if weekday == 1:
        return day + 1 if day < length else day - 2
    return day


@dataclass(frozen=True)
class CronFields:
    """A parsed cron: the minutes, hours, months and years it fires in (ascending) and its days."""

    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_rule: DayRule


@dataclass(frozen=True)
class ScheduleExpression:
    """A parsed schedule expression; ``text`` is what was given, ready to hand to AWS.

    ``cron`` is set for cron, ``interval`` for rate, ``at`` (naive: a wall-clock time in the
    schedule's time zone) for at.
    """

    kind: ScheduleKind
    text: str
    cron: CronFields | None = None
    interval: timedelta | None = None
    at: datetime | None = None

    def __str__(self) -> str:
        return self.text


_EXAMPLES = "cron(0 9 ? * MON-FRI *), rate(15 minutes) or at(2027-03-28T09:00:00)"


def parse_expression(text: str) -> ScheduleExpression:
    """Parse an EventBridge Scheduler expression; ``ValueError`` says what to change."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"schedule expression is empty: use e.g. {_EXAMPLES}")
    text = text.strip()
    match = re.fullmatch(r"(cron|rate|at)\((.*)\)", text, flags=re.DOTALL)
    if match is None:
        raise ValueError(f"{text!r} is not a schedule expression: use e.g. {_EXAMPLES}")
    kind, body = match.group(1), match.group(2).strip()
    if kind == "cron":
        return ScheduleExpression(kind="cron", text=text, cron=_parse_cron(body))
    if kind == "rate":
        return ScheduleExpression(kind="rate", text=text, interval=_parse_rate(body))
    return ScheduleExpression(kind="at", text=text, at=_parse_at(body))


def _parse_rate(body: str) -> timedelta:
    units = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
    match = re.fullmatch(r"(\S+)\s+(\S+)", body)
    if match is None:
        raise ValueError(f"rate({body}) needs a value and a unit, e.g. rate(15 minutes), rate(1 hour), rate(2 days)")
    value_text, unit = match.group(1), match.group(2)
    if not value_text.isdigit():
        raise ValueError(f"rate({body}): the value must be a whole number of at least 1, got {value_text!r}")
    value = int(value_text)
    if value < 1:
        raise ValueError(f"rate({body}): the value must be at least 1")
    singular = unit.removesuffix("s")
    if singular not in units:
        raise ValueError(f"rate({body}): the unit must be minutes, hours or days, got {unit!r}")
    if value == 1 and unit != singular:
        raise ValueError(f"rate({body}): with 1 the unit is singular: rate(1 {singular})")
    if value > 1 and unit == singular:
        raise ValueError(f"rate({body}): with {value} the unit is plural: rate({value} {singular}s)")
    return units[singular] * value


def _parse_at(body: str) -> datetime:
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}", body) is None:
        raise ValueError(
            f"at({body}) needs a local date and time as yyyy-mm-ddThh:mm:ss, e.g. at(2027-03-28T09:00:00); "
            "the time zone is the schedule's, not part of the expression"
        )
    try:
        return datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        raise ValueError(f"at({body}) is not a real date and time") from None


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    steps: bool  # whether "/" is allowed (not in day-of-week, as on AWS)

    def describe(self) -> str:
        allowed = f"{self.low}-{self.high}"
        if self.names:
            names = list(self.names)
            allowed += f" or {names[0]}-{names[-1]}"
        return allowed


_MINUTES = _Field("minutes", 0, 59, {}, steps=True)
_HOURS = _Field("hours", 0, 23, {}, steps=True)
_DAY_OF_MONTH = _Field("day-of-month", 1, 31, {}, steps=True)
_MONTH = _Field("month", 1, 12, _MONTH_NAMES, steps=True)
_DAY_OF_WEEK = _Field("day-of-week", 1, 7, _WEEKDAY_NAMES, steps=False)
_YEAR = _Field("year", 1970, 2199, {}, steps=True)

_CRON_SHAPE = "cron(minutes hours day-of-month month day-of-week year), e.g. cron(0 9 ? * MON-FRI *)"


def _parse_cron(body: str) -> CronFields:
    fields = body.split()
    if len(fields) != 6:
        raise ValueError(
            f"cron needs 6 fields (minutes hours day-of-month month day-of-week year), got {len(fields)}: "
            f"cron({body}); e.g. cron(0 9 ? * MON-FRI *)"
        )
    minutes, hours, day_of_month, month, day_of_week, year = fields
    if day_of_month == "?" and day_of_week == "?":
        raise ValueError(
            f"cron({body}): use ? in only one of day-of-month and day-of-week; the other says which days "
            "(* for every day), e.g. cron(0 9 * * ? *)"
        )
    if day_of_month != "?" and day_of_week != "?":
        raise ValueError(
            f"cron({body}): use ? in day-of-month or day-of-week (AWS does not combine them), "
            "e.g. cron(0 9 ? * MON-FRI *) or cron(0 9 1 * ? *)"
        )
    for text, field in ((minutes, _MINUTES), (hours, _HOURS), (month, _MONTH), (year, _YEAR)):
        if "?" in text:
            raise ValueError(f"cron {field.name} {text!r}: ? is only for day-of-month or day-of-week")
    day_rule = _parse_day_of_week(day_of_week) if day_of_month == "?" else _parse_day_of_month(day_of_month)
    return CronFields(
        minutes=tuple(sorted(_parse_values(minutes, _MINUTES))),
        hours=tuple(sorted(_parse_values(hours, _HOURS))),
        months=tuple(sorted(_parse_values(month, _MONTH))),
        years=tuple(sorted(_parse_values(year, _YEAR))),
        day_rule=day_rule,
    )


def _parse_day_of_month(text: str) -> DayRule:
    upper = text.upper()
    if upper == "L":
        return DayRule(kind="last_day")
    if upper == "LW":
        return DayRule(kind="last_weekday")
    match = re.fullmatch(r"(\d+)W", upper)
    if match:
        return DayRule(kind="nearest_weekday", n=_parse_value(match.group(1), _DAY_OF_MONTH))
    if re.search(r"[LW]", upper):
        raise ValueError(
            f"cron day-of-month {text!r}: L and W stand alone in the field: L (last day), "
            "LW (last weekday) or a day and W, e.g. 15W (the weekday nearest the 15th)"
        )
    return DayRule(kind="days", values=frozenset(_parse_values(text, _DAY_OF_MONTH)))


def _parse_day_of_week(text: str) -> DayRule:
    upper = text.upper()
    if upper == "L":
        return DayRule(kind="weekdays", values=frozenset({_SATURDAY}))  # "the last day of the week"
    match = re.fullmatch(r"(\w+)L", upper)  # no day name ends in L, so SUN-SAT stay unambiguous
    if match:
        return DayRule(kind="last_of_weekday", n=_parse_value(match.group(1), _DAY_OF_WEEK))
    match = re.fullmatch(r"(\w+)#(\d+)", upper)
    if match:
        nth = int(match.group(2))
        if not 1 <= nth <= 5:
            raise ValueError(f"cron day-of-week {text!r}: the number after # must be 1-5 (a month has at most 5)")
        return DayRule(kind="nth_weekday", n=_parse_value(match.group(1), _DAY_OF_WEEK), k=nth)
    if re.search(r"[L#]", upper):
        # AWS allows one n#k and nothing else in the field ("3#1,6#3" is invalid); L likewise.
        raise ValueError(
            f"cron day-of-week {text!r}: L and # stand alone in the field: L (Saturday), a weekday and L, "
            "e.g. 6L (last Friday), or weekday#n, e.g. 6#3 or FRI#3 (third Friday)"
        )
    return DayRule(kind="weekdays", values=frozenset(_parse_values(text, _DAY_OF_WEEK)))


def _parse_values(text: str, field: _Field) -> set[int]:
    """A field of ``*``, numbers or names, ``a-b`` ranges and ``/step`` increments, comma-separated."""
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(f"cron {field.name} {text!r}: empty item in the list")
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not field.steps:
                raise ValueError(f"cron {field.name} {text!r}: / is not allowed in {field.name}")
            if not step_text.isdigit() or int(step_text) < 1:
                raise ValueError(f"cron {field.name} {text!r}: the step after / must be a whole number of at least 1")
            step = int(step_text)
        if base == "*":
            low, high = field.low, field.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = _parse_value(first, field), _parse_value(last, field)
            if low > high:
                raise ValueError(
                    f"cron {field.name} {text!r}: the range {base} runs backwards; "
                    f"write it as two ranges, e.g. {first}-{_name_or_number(field.high, field)},"
                    f"{_name_or_number(field.low, field)}-{last}"
                )
        else:
            low = _parse_value(base, field)
            # "5/15" means from 5 to the field's end, every 15 (AWS: "1/10" = 1, 11, 21, ...).
            high = field.high if slash else low
        values.update(range(low, high + 1, step))
    return values


def _name_or_number(value: int, field: _Field) -> str:
    return next((name for name, number in field.names.items() if number == value), str(value))


def _parse_value(text: str, field: _Field) -> int:
    upper = text.upper()
    if upper in field.names:
        return field.names[upper]
    if not upper.isdigit():
        raise ValueError(f"cron {field.name}: {text!r} is not a value in {field.describe()}")
    value = int(upper)
    if not field.low <= value <= field.high:
        raise ValueError(f"cron {field.name}: {value} is out of range; use {field.describe()}")
    return value


# ---------------------------------------------------------------------------------------------
# Firing times
# ---------------------------------------------------------------------------------------------


def next_fire(
    expression: ScheduleExpression, timezone: str, after: datetime, start: datetime | None = None
) -> datetime | None:
    """The first firing strictly after ``after`` (aware), as an aware UTC datetime; None if none.

    ``start`` anchors a rate schedule: it fires at ``start``, ``start + interval``, ... (AWS's
    StartDate). Without it the anchor is ``after``, so the answer is ``after + interval``.
    ``start`` is ignored for cron and at.
    """
    return next(_fires(expression, check_timezone(timezone), _as_utc(after, "after"), start), None)


def fires_between(
    expression: ScheduleExpression,
    timezone: str,
    start: datetime,
    end: datetime,
    limit: int = 1000,
    *,
    rate_start: datetime | None = None,
) -> list[datetime]:
    """Firings in ``(start, end]`` (aware UTC datetimes, ascending), at most ``limit`` of them.

    The window is open at ``start`` and closed at ``end`` so that consecutive windows (a
    dispatcher's ticks) see each firing exactly once. ``rate_start`` anchors a rate schedule as
    ``next_fire``'s ``start`` does (default: ``start``).
    """
    end = _as_utc(end, "end")
    found: list[datetime] = []
    for fire in _fires(expression, check_timezone(timezone), _as_utc(start, "start"), rate_start):
        if fire > end or len(found) >= limit:
            break
        found.append(fire)
    return found


def _as_utc(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime (UTC), got naive {moment.isoformat()}")
    return moment.astimezone(UTC)


def _fires(
    expression: ScheduleExpression, zone: ZoneInfo, after: datetime, anchor: datetime | None
) -> Iterator[datetime]:
    """Every firing strictly after ``after`` (UTC), ascending."""
    if expression.kind == "at":
        assert expression.at is not None
        # An at time in the spring-forward gap maps (fold=0) to the instant the clock would
        # have shown it without the jump, an hour later on the new clock: a one-time schedule
        # should run late rather than never. A repeated time takes its first occurrence.
        fire = expression.at.replace(tzinfo=zone).astimezone(UTC)
        if fire > after:
            yield fire
        return
    if expression.kind == "rate":
        assert expression.interval is not None
        yield from _rate_fires(expression.interval, after, after if anchor is None else _as_utc(anchor, "start"))
        return
    assert expression.cron is not None
    yield from _cron_fires(expression.cron, zone, after)


def _rate_fires(interval: timedelta, after: datetime, anchor: datetime) -> Iterator[datetime]:
    # Elapsed time, not wall-clock time: AWS's rate(1 day) is every 24 hours even across a
    # daylight-saving change, so the time zone plays no part.
    # The first point of the grid anchor + k * interval (k >= 0) that is after ``after``.
    fire = anchor if anchor > after else anchor + interval * ((after - anchor) // interval + 1)
    while True:
        yield fire
        fire += interval


def _cron_fires(cron: CronFields, zone: ZoneInfo, after: datetime) -> Iterator[datetime]:
    # Walk the local calendar (year, month, matching days, hours, minutes) in wall-clock order
    # rather than minute by minute, so sparse crons (Feb 29, a year far ahead) answer at once.
    # Wall-clock order is also UTC order, because each wall time maps to its first occurrence.
    local_after = after.astimezone(zone).replace(tzinfo=None)
    first_day = local_after.date()
    for year in cron.years:
        if year < first_day.year:
            continue
        for month in cron.months:
            if (year, month) < (first_day.year, first_day.month):
                continue
            for day in cron.day_rule.days(year, month):
                if date(year, month, day) < first_day:
                    continue
                for hour in cron.hours:
                    for minute in cron.minutes:
                        wall = datetime(year, month, day, hour, minute)  # naive: local wall clock
                        # Cheap pre-filter: a wall time not after ``after``'s cannot fire after it.
                        if wall <= local_after:
                            continue
                        fire = _wall_to_utc(wall, zone)
                        if fire is not None and fire > after:
                            yield fire


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """The first instant the zone's clock shows ``wall``; None if it never does (spring forward)."""
    fire = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: the earlier of two occurrences
    if fire.astimezone(zone).replace(tzinfo=None) != wall:
        return None  # zoneinfo resolved a time inside the gap to one an hour off: it does not exist
    return fire
