"""``{{ path | filter }}`` placeholders in node parameters: parsed by hand, never executed.

Syntax: ``{{ path }}`` or ``{{ path | filter | filter(arg, ...) }}``, whitespace inside the
braces optional. A path is dot-separated names (``[A-Za-z_][A-Za-z0-9_-]*``) with numeric
indexes written ``.0`` or ``[0]``; the first name must be ``trigger``, ``steps`` or ``vars``.
A numeric segment indexes a list, or reads the key ``"0"`` of an object. Paths are reported
normalized: ``steps.fetch.output.items[0].id`` (``.0`` and ``[0]`` both print as ``[0]``).
``{{`` always opens a placeholder (there is no escape); a lone ``}}`` is plain text.

A string that is exactly one placeholder renders to the raw value (object, number, boolean,
null). Otherwise placeholders are interpolated: strings as is, null as ``""``, numbers,
booleans, objects and lists as compact JSON (``true``, ``3``, ``{"a":1}``).
Resolution is strict: a missing key, an index out of range or indexing into a scalar raises
``MissingVariable(path)`` unless the chain has a ``default`` filter. Filter arguments are
literals: numbers, ``'single'`` or ``"double"`` quoted strings, ``true``, ``false``, ``null``.

Filters run left to right; null passes unchanged through all but default, json and string.
  default(value)  the value when the path is missing or null; otherwise no change
  lower, upper    change the case of a string
  trim            strip leading and trailing whitespace from a string
  length          number of characters / items / keys of a string / list / object
  json            compact JSON text of any value (null -> "null")
  string          the text interpolation would write (null -> "")
  number          a number, or a string holding one ("42" -> 42, "1.5" -> 1.5)
  add_days(n), add_hours(n), add_minutes(n), add_seconds(n)
                  shift an ISO 8601 timestamp (with ``Z`` or an offset, or a ``YYYY-MM-DD``
                  date meaning midnight UTC) by n, which may be negative or fractional;
                  returns UTC with ``Z``: ``2026-03-01T09:00:00Z`` (fraction only if non-zero)
  date(format)    format a timestamp in UTC with strftime codes %Y %m %d %H %M %S %y %j %I
                  %p %a %A %b %B %%; ``date`` alone gives ``YYYY-MM-DD``
A filter given the wrong type of value raises ``ConfigurationError``. Malformed placeholders,
unknown filters and wrong argument counts or types raise ``TemplateSyntaxError``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from automations.domain.item_budget import Truncated, find_truncated
from automations.errors import ConfigurationError, MissingVariable, OutputTruncated

ROOTS = frozenset({"trigger", "steps", "vars"})
Path = tuple[str | int, ...]
IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_SEGMENT = re.compile(r"\.(?:([0-9]+)(?![A-Za-z_])|([A-Za-z_][A-Za-z0-9_-]*))|\[\s*([0-9]+)\s*\]")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_STRING = re.compile(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", re.DOTALL)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WS = re.compile(r"\s*")
_DATE_ONLY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_CODES = "%ABHIMSYabdjmpy"
_LITERAL_WORDS = {"true": True, "false": False, "null": None}
# A list index or a number literal in a template or expression: long enough for any real use, short
# enough that no huge literal reaches int() (Python refuses over 4,300 digits) or a date shift.
MAX_INDEX_DIGITS = 9
MAX_LITERAL_CHARS = 40
_MISSING = object()


class TemplateSyntaxError(ValueError):
    """A placeholder cannot be parsed. ``position``: offset in the string; ``field``: location."""

    def __init__(self, message: str, position: int | None = None, field: str = "") -> None:
        super().__init__(message)
        self.position, self.field = position, field


ErrorFactory = Callable[[str, int], Exception]


def _ws(text: str, i: int) -> int:
    return _WS.match(text, i).end()  # type: ignore[union-attr]  # r"\s*" always matches


def format_path(path: Path) -> str:
    """``('steps', 'a', 'items', 0)`` -> ``'steps.a.items[0]'``."""
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in path).lstrip(".")


def scan_path(text: str, pos: int, error: ErrorFactory = TemplateSyntaxError) -> tuple[Path, int]:
    """Read a path at ``pos``; return it and the offset just after it."""
    if not (m := IDENT.match(text, pos)):
        raise error(f"expected a path at position {pos}", pos)
    if m.group() not in ROOTS:
        msg = f"unknown root '{m.group()}' at position {pos} (use trigger, steps or vars)"
        raise error(msg, pos)
    path: list[str | int] = [m.group()]
    i = m.end()
    while i < len(text) and text[i] in ".[":
        if not (m := _SEGMENT.match(text, i)):
            what = "a name or index after '.'" if text[i] == "." else "'[<number>]'"
            raise error(f"expected {what} at position {i}", i)
        if (index := m.group(1) or m.group(3)) is not None and len(index) > MAX_INDEX_DIGITS:
            raise error(f"index at position {i} is too large (at most {MAX_INDEX_DIGITS} digits)", i)
        path.append(m.group(2) or int(index))
        i = m.end()
    return tuple(path), i


def scan_literal(text: str, pos: int, error: ErrorFactory = TemplateSyntaxError) -> tuple[Any, int]:
    """Read a number, quoted string (backslash escapes), true, false or null at ``pos``."""
    if m := _STRING.match(text, pos):
        body = m.group(1) if m.group(1) is not None else m.group(2)
        return _ESCAPE.sub(lambda e: _ESCAPES.get(e[1], e[1]), body), m.end()
    if text.startswith(("'", '"'), pos):
        raise error(f"unterminated string starting at position {pos}", pos)
    if m := _NUMBER.match(text, pos):
        if len(m[0]) > MAX_LITERAL_CHARS:
            raise error(f"number at position {pos} is too long (at most {MAX_LITERAL_CHARS} characters)", pos)
        value = float(m[0]) if m[1] or m[2] else int(m[0])
        if not math.isfinite(value):
            raise error(f"number at position {pos} is out of range", pos)
        return value, m.end()
    if (m := _WORD.match(text, pos)) and m.group() in _LITERAL_WORDS:
        return _LITERAL_WORDS[m.group()], m.end()
    raise error(f"expected a literal value at position {pos}", pos)


def resolve(path: Path, context: Any) -> Any:
    """Follow ``path`` through dicts and lists only (never attributes); raise MissingVariable.

    A value recorded truncated (``item_budget.Truncated``) on the way, or inside the value found,
    raises ``OutputTruncated``: a node never reads part of a value as if it were the whole.
    """
    cur = context
    for seg in path:
        if isinstance(cur, Truncated):
            break
        if isinstance(cur, dict) and str(seg) in cur:
            cur = cur[str(seg)]
        elif isinstance(cur, list | tuple) and isinstance(seg, int) and seg < len(cur):
            cur = cur[seg]
        else:
            name, step = format_path(path), format_path((seg,))
            raise MissingVariable(name, f"variable '{name}' does not resolve ('{step}' not found)")
    if path[:1] != ("trigger",) and (cut := find_truncated(cur)) is not None:  # only outputs are cut
        raise OutputTruncated(f"'{format_path(path)}' cannot be read: {cut.describe()}")
    return cur


def to_text(value: Any) -> str:
    """How a value is written when interpolated into a longer string."""
    if isinstance(value, str) or value is None:
        return value or ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


def _need(value: Any, types: type | tuple[type, ...], what: str) -> Any:
    if not isinstance(value, types):
        raise TypeError(f"expected {what}")
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number(value: Any) -> int | float:
    if isinstance(value, str) and (m := _NUMBER.fullmatch(value.strip())):
        value = float(m[0]) if m[1] or m[2] else int(m[0])
    if not _is_number(value) or not math.isfinite(value):
        raise ValueError("expected a number or a numeric string")
    return float(value) if isinstance(value, float) else int(value)


def _timestamp(value: Any) -> datetime:
    if _DATE_ONLY.fullmatch(_need(value, str, "an ISO 8601 timestamp string")):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if (dt := datetime.fromisoformat(value)).tzinfo is None:
        raise ValueError("timestamp needs 'Z' or a UTC offset")
    return dt.astimezone(UTC)


def _shift(value: Any, **delta: float) -> str:
    dt = _timestamp(value) + timedelta(**delta)
    us = dt.microsecond
    spec = "seconds" if not us else "milliseconds" if us % 1000 == 0 else "microseconds"
    return dt.replace(tzinfo=None).isoformat(timespec=spec) + "Z"


# name -> (min args, max args, function(value, *args))
FILTERS: dict[str, tuple[int, int, Callable[..., Any]]] = {
    "default": (1, 1, lambda v, d: d if v is None else v),
    "lower": (0, 0, lambda v: _need(v, str, "a string").lower()),
    "upper": (0, 0, lambda v: _need(v, str, "a string").upper()),
    "trim": (0, 0, lambda v: _need(v, str, "a string").strip()),
    "length": (0, 0, lambda v: len(_need(v, (str, list, dict), "a string, list or object"))),
    "json": (0, 0, lambda v: json.dumps(v, separators=(",", ":"), ensure_ascii=False)),
    "string": (0, 0, to_text),
    "number": (0, 0, _number),
    "add_days": (1, 1, lambda v, n: _shift(v, days=n)),
    "add_hours": (1, 1, lambda v, n: _shift(v, hours=n)),
    "add_minutes": (1, 1, lambda v, n: _shift(v, minutes=n)),
    "add_seconds": (1, 1, lambda v, n: _shift(v, seconds=n)),
    "date": (0, 1, lambda v, fmt="%Y-%m-%d": _timestamp(v).strftime(fmt)),
}


@dataclass(frozen=True)
class Placeholder:
    path: Path  # root first: ('steps', 'fetch', 'output', 'items', 0)
    text: str  # the source, braces included
    filters: tuple[str, ...] = ()
    args: tuple[tuple[Any, ...], ...] = ()  # literal arguments, one tuple per filter

    @property
    def has_default(self) -> bool:
        return "default" in self.filters

    def evaluate(self, context: Any) -> Any:
        try:
            value = resolve(self.path, context)
        except MissingVariable:
            if not self.has_default:
                raise
            value = _MISSING
        for name, args in zip(self.filters, self.args, strict=True):
            if name == "default" and (value is _MISSING or value is None):
                value = args[0]
            elif value is not _MISSING and (value is not None or name in ("json", "string")):
                try:
                    value = FILTERS[name][2](value, *args)
                except (TypeError, ValueError, OverflowError) as exc:
                    shown = json.dumps(value, default=str)
                    shown = shown if len(shown) <= 60 else shown[:57] + "..."
                    msg = f"filter '{name}' cannot be applied to {shown} in {self.text}: {exc}"
                    raise ConfigurationError(msg) from None
        return value


def _check_args(name: str, args: list[Any], pos: int) -> None:
    low, high, _ = FILTERS[name]
    if not low <= len(args) <= high:
        want = f"{low}" if low == high else f"{low} to {high}"
        msg = f"filter '{name}' takes {want} argument(s), got {len(args)} (at position {pos})"
        raise TemplateSyntaxError(msg, pos)
    if name.startswith("add_") and not _is_number(args[0]):
        raise TemplateSyntaxError(f"filter '{name}' needs a number (at position {pos})", pos)
    if name.startswith("add_"):
        try:
            timedelta(**{name[4:]: args[0]})
        except OverflowError:
            raise TemplateSyntaxError(f"filter '{name}' shifts too far: {args[0]} (at position {pos})", pos) from None
    if name == "date" and args:
        codes = re.findall(r"%(.?)", args[0]) if isinstance(args[0], str) else [""]
        if any(not c or c not in _DATE_CODES for c in codes):
            allowed = " ".join("%" + c for c in _DATE_CODES)
            msg = f"date format may only use {allowed} (at position {pos})"
            raise TemplateSyntaxError(msg, pos)


def _parse_placeholder(text: str, start: int) -> tuple[Placeholder, int]:
    if "}}" not in text[start + 2 :]:
        raise TemplateSyntaxError(f"unclosed '{{{{' at position {start}", start)
    if text.startswith("}}", i := _ws(text, start + 2)):
        raise TemplateSyntaxError(f"empty placeholder at position {start}", start)
    path, i = scan_path(text, i)
    filters: list[str] = []
    all_args: list[tuple[Any, ...]] = []
    while not text.startswith("}}", i := _ws(text, i)):
        if not text.startswith("|", i):
            raise TemplateSyntaxError(f"expected '|' or '}}}}' at position {i}", i)
        if not (m := IDENT.match(text, i := _ws(text, i + 1))) or m[0] not in FILTERS:
            what = f"unknown filter '{m[0]}'" if m else "expected a filter name"
            raise TemplateSyntaxError(f"{what} at position {i}", i)
        name_pos, args, i = i, [], m.end()
        if text.startswith("(", j := _ws(text, i)):
            i = _ws(text, j + 1)
            while not text.startswith(")", i):
                value, i = scan_literal(text, i)
                args.append(value)
                if text.startswith(",", i := _ws(text, i)):
                    i = _ws(text, i + 1)
                elif not text.startswith(")", i):
                    raise TemplateSyntaxError(f"expected ',' or ')' at position {i}", i)
            i += 1
        _check_args(m[0], args, name_pos)
        filters.append(m[0])
        all_args.append(tuple(args))
    return Placeholder(path, text[start : i + 2], tuple(filters), tuple(all_args)), i + 2


@lru_cache(maxsize=2048)
def parse(text: str) -> tuple[str | Placeholder, ...]:
    """Split a string into literal text and placeholders (cached per distinct string)."""
    parts: list[str | Placeholder] = []
    i = 0
    while (start := text.find("{{", i)) >= 0:
        parts += [text[i:start]] if start > i else []
        placeholder, i = _parse_placeholder(text, start)
        parts.append(placeholder)
    return tuple(parts + ([text[i:]] if i < len(text) else []))


def render(value: Any, context: Any) -> Any:
    """Render every string in ``value`` (dict values, list items, nested) against ``context``.

    A string that is exactly one placeholder returns the resolved value itself (shared with
    ``context``, not copied: treat it as read-only). Dict keys are never rendered, and resolved
    values are never rendered again (a ``{{ ... }}`` inside trigger data stays text).
    """
    if isinstance(value, str):
        if "{{" not in value:  # fast path; also keeps big plain strings out of the cache
            return value
        parts = parse(value)
        if len(parts) == 1 and isinstance(parts[0], Placeholder):
            return parts[0].evaluate(context)
        return "".join(p if isinstance(p, str) else to_text(p.evaluate(context)) for p in parts)
    if isinstance(value, dict):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def _walk(value: Any, location: str) -> Iterator[tuple[str, Placeholder]]:
    if isinstance(value, str):
        try:
            parts = parse(value)
        except TemplateSyntaxError as exc:
            message = f"{location}: {exc}" if location else str(exc)
            raise TemplateSyntaxError(message, exc.position, location) from None
        yield from ((location, p) for p in parts if isinstance(p, Placeholder))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{location}.{key}" if location else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{location}[{index}]")


def field_placeholders(value: Any) -> list[tuple[str, Placeholder]]:
    """Each placeholder with its field location (``url``, ``headers.Authorization``,
    ``body.items[0]``; ``""`` when ``value`` itself is a string). Errors name the field."""
    return list(_walk(value, ""))


def find_placeholders(value: Any) -> list[Placeholder]:
    """Every placeholder in ``value``; raises TemplateSyntaxError for a malformed one."""
    return [placeholder for _, placeholder in _walk(value, "")]
