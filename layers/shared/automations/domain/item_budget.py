"""What a step or attempt item may record, so that no item reaches DynamoDB's 400 KB limit.

DynamoDB refuses a write that would make an item larger than 400 KB (attribute names and values,
UTF-8). A step records its node's resolved ``input`` and its ``output``, an attempt its ``http``
exchange; a webhook body of up to 256 KB copied by a placeholder, plus an HTTP answer of up to
128 KB, would pass that limit, and the write would fail after the call went out. So the node
runner fits what it records before it writes anything:

- The recorded values of one item share ``RECORDED_BUDGET_BYTES`` (300 KiB, sized with
  ``value_size``, which counts at least what DynamoDB counts). The rest of the 400 KB is for the
  keys, statuses, timestamps, ``history``, the error (messages are capped at
  ``MAX_MESSAGE_BYTES``) and the marks.
- Over budget, values are replaced in the order given (a step's ``input`` before its ``output``,
  since later nodes read the output), the smallest part that covers the excess first: the one
  value (deep inside, when one value alone is enough) or the largest few of a list or object.
  Each is replaced by a **marker**: ``{"truncated": true, "bytes": <its size>, "preview": <its
  first 200 characters, JSON for a non-string>}``.
- The item's ``truncated`` attribute lists where each marker stands, as JSON Pointers
  (``["/input/values/big"]``, ``["/http/request/body"]``): the list, not the marker's shape, is
  what says a value was cut (a node's output may itself look like a marker).

A step's output is what later nodes read (``steps.<id>.output``, ``vars``): the run context puts
a ``Truncated`` sentinel where each marker stands (``unreadable``), and a placeholder or
expression that reaches one, or a value holding one, raises ``OutputTruncated`` (permanent)
instead of reading a partial value (see ``templating.resolve``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

DYNAMODB_ITEM_LIMIT_BYTES = 400 * 1024
RECORDED_BUDGET_BYTES = 300 * 1024
MAX_MESSAGE_BYTES = 4096
PREVIEW_CHARS = 200
# A marker is never larger than this (a preview of 200 characters is at most 800 bytes of UTF-8).
MARKER_MAX_BYTES = 1024
# Replacing inside a value goes no deeper, and through no longer keys, than this (a marker in place
# of a string adds a level: at depth 16 it stays far from DynamoDB's 32 levels of nesting); more
# marks than MAX_MARKS (per field) and the field is replaced whole.
MAX_DEPTH = 16
MAX_KEY_BYTES = 256
MAX_MARKS = 16
_MESSAGE_CUT = " ... [truncated]"


def _utf8(text: str) -> int:
    return len(text.encode("utf-8", errors="surrogatepass"))


def value_size(value: Any) -> int:
    """The bytes DynamoDB counts for ``value`` stored as an attribute value, or slightly more.

    Strings: UTF-8 bytes. Numbers: one byte per two digits, plus one. Booleans and null: 1.
    Lists and maps: 3 bytes, plus 1 per element and each element's size (and a map key's bytes).
    """
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, str):
        return _utf8(value)
    if isinstance(value, int | float):
        return (len(str(value).lstrip("-")) + 1) // 2 + 1
    if isinstance(value, dict):
        return 3 + sum(1 + _utf8(str(k)) + value_size(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return 3 + sum(1 + value_size(v) for v in value)
    return _utf8(str(value))


def item_size(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB counts it (or slightly more): every attribute's name and value."""
    return sum(_utf8(name) + value_size(value) for name, value in item.items())


def marker(value: Any) -> dict[str, Any]:
    """What stands in a record for ``value`` when it did not fit."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return {"truncated": True, "bytes": value_size(value), "preview": text[:PREVIEW_CHARS]}


def cap_message(message: str) -> str:
    """An error message as recorded: at most ``MAX_MESSAGE_BYTES`` of UTF-8, marked when cut."""
    if _utf8(message) <= MAX_MESSAGE_BYTES:
        return message
    room = MAX_MESSAGE_BYTES - _utf8(_MESSAGE_CUT)
    return message.encode("utf-8", errors="surrogatepass")[:room].decode("utf-8", errors="ignore") + _MESSAGE_CUT


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


@dataclass
class Fitted:
    """Recorded values that fit, and where markers replaced parts of them (JSON Pointers)."""

    values: dict[str, Any]
    truncated: list[str] = field(default_factory=list)


def fit(fields: dict[str, Any], *, budget: int = RECORDED_BUDGET_BYTES, prefix: str = "") -> Fitted:
    """``fields`` (attribute name -> value, shrunk in this order) made to take at most ``budget``
    bytes together, names included. The values given are never changed: what is cut is copied.
    ``prefix`` goes before every pointer (``"/http"`` for the parts of an attempt's exchange)."""
    values = dict(fields)
    excess = item_size(values) - budget
    marks: list[str] = []
    for name, value in fields.items():
        if excess <= 0:
            break
        values[name], saved = _shrink(value, f"{prefix}/{_escape(name)}", excess, marks, 0)
        excess -= saved
    return Fitted(values, marks)


def _children(value: dict[str, Any] | list[Any]) -> list[tuple[Any, Any, int]]:
    """(key, child, size) of the children worth replacing, largest first."""
    pairs = value.items() if isinstance(value, dict) else enumerate(value)
    found = [
        (key, child, size)
        for key, child in pairs
        if (size := value_size(child)) > MARKER_MAX_BYTES and (not isinstance(key, str) or _utf8(key) <= MAX_KEY_BYTES)
    ]
    return sorted(found, key=lambda kcs: -kcs[2])


def _replaced(value: dict[str, Any] | list[Any], changes: dict[Any, Any]) -> dict[str, Any] | list[Any]:
    if isinstance(value, dict):
        return {**value, **changes}
    return [changes.get(i, child) for i, child in enumerate(value)]


def _shrink(value: Any, pointer: str, excess: int, marks: list[str], depth: int) -> tuple[Any, int]:
    """``value`` with parts replaced by markers to save at least ``excess`` bytes if it can; the
    bytes saved. A value no larger than a marker is kept."""
    size = value_size(value)
    if size <= MARKER_MAX_BYTES:
        return value, 0
    if isinstance(value, dict | list) and depth < MAX_DEPTH and len(marks) < MAX_MARKS:
        children = _children(value)
        if children and children[0][2] - MARKER_MAX_BYTES >= excess:  # one part is enough: cut inside it
            key, child, _ = children[0]
            new, saved = _shrink(child, f"{pointer}/{_escape(str(key))}", excess, marks, depth + 1)
            return _replaced(value, {key: new}), saved
        cuts: dict[Any, Any] = {}
        saved = 0
        for key, child, child_size in children:  # else the largest few, whole
            if saved >= excess:
                break
            cuts[key] = marker(child)
            saved += child_size - value_size(cuts[key])
        if saved >= excess and len(marks) + len(cuts) <= MAX_MARKS:
            marks.extend(f"{pointer}/{_escape(str(key))}" for key in cuts)
            return _replaced(value, cuts), saved
    marks.append(pointer)
    cut = marker(value)
    return cut, size - value_size(cut)


# --- reading a record back ---------------------------------------------------------------


@dataclass(frozen=True)
class Truncated:
    """Where a value was cut when recorded: reading it (or anything holding it) is ``OutputTruncated``."""

    pointer: str  # e.g. "/output/big" within its step
    node_id: str
    bytes: int | None = None

    def describe(self) -> str:
        size = f" ({self.bytes:,} bytes)" if self.bytes is not None else ""
        return (
            f"the value at '{self.pointer}' of step '{self.node_id}'{size} was too large to keep in run "
            "history and was recorded truncated; later nodes cannot read it"
        )


def unreadable(value: Any, pointers: list[str], *, root: str, node_id: str) -> Any:
    """``value`` (the record at ``root``, e.g. ``"/output"``) with a ``Truncated`` sentinel where
    each of ``pointers`` under ``root`` stands; the value given is not changed."""
    for pointer in pointers:
        if pointer != root and not pointer.startswith(root + "/"):
            continue
        tokens = [_unescape(t) for t in pointer[len(root) :].split("/")[1:]]
        value = _put(value, tokens, pointer, node_id)
    return value


def _put(value: Any, tokens: list[str], pointer: str, node_id: str) -> Any:
    if not tokens:
        size = value.get("bytes") if isinstance(value, dict) else None
        return Truncated(pointer, node_id, size if isinstance(size, int) else None)
    head, rest = tokens[0], tokens[1:]
    if isinstance(value, dict) and head in value:
        return {**value, head: _put(value[head], rest, pointer, node_id)}
    if isinstance(value, list) and head.isdigit() and int(head) < len(value):
        index = int(head)
        return [_put(child, rest, pointer, node_id) if i == index else child for i, child in enumerate(value)]
    return value  # the record does not have it (any more): nothing to hide


def find_truncated(value: Any) -> Truncated | None:
    """The first ``Truncated`` sentinel in ``value`` (itself, or inside its lists and objects)."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, Truncated):
            return current
        if isinstance(current, dict):
            pending.extend(current.values())
        elif isinstance(current, list | tuple):
            pending.extend(current)
    return None
