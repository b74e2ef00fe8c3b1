"""An item's size as DynamoDB documents it, measured on the stored (typed) item itself.

Independent of ``automations.domain.item_budget`` on purpose: tests measure what was written with
this, so the engine's own estimate is not its own judge. The rules
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html):
strings and names are their UTF-8 bytes; a number is about one byte per two significant digits
plus one; booleans and null are one byte; a list or map is 3 bytes plus its elements (1 byte
each, and a map's keys). The 1 byte per element makes this an upper bound.
"""

from __future__ import annotations

from typing import Any

DYNAMODB_ITEM_LIMIT = 400 * 1024


def _utf8(text: str) -> int:
    return len(text.encode("utf-8"))


def attribute_value_bytes(typed: dict[str, Any]) -> int:
    ((kind, value),) = typed.items()
    if kind == "S":
        return _utf8(value)
    if kind == "N":
        digits = value.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + attribute_value_bytes(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + _utf8(k) + attribute_value_bytes(v) for k, v in value.items())
    if kind == "SS":
        return sum(_utf8(v) for v in value)
    raise ValueError(f"attribute type {kind} not measured here")


def item_bytes(item: dict[str, dict[str, Any]]) -> int:
    """The size of a stored item (as ``get_item``/``scan`` answer it, with type descriptors)."""
    return sum(_utf8(name) + attribute_value_bytes(value) for name, value in item.items())
