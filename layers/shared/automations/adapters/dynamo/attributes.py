"""Items as DynamoDB's wire format (typed attribute values) and back, for JSON-ready data.

What the engine stores is JSON-ready (strings, numbers, booleans, null, objects, arrays), so this
is all of boto3's ``TypeSerializer``/``TypeDeserializer`` it needs, without importing boto3 (see
``adapters/clients.py``): numbers are written as DynamoDB takes them (at most 38 significant
digits, magnitudes 1E-130 to 1E+125, else ``ValueError`` before any request) and read back as
``int`` when whole, else ``float``; sets (which the engine never writes) are read back as lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Clamped, Context, Decimal, Inexact, Overflow, Rounded, Underflow
from typing import Any

# DynamoDB's number limits, as boto3 checks them before sending
_NUMBERS = Context(Emin=-128, Emax=126, prec=38, traps=[Clamped, Overflow, Inexact, Rounded, Underflow])


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name": value}`` -> ``{"name": {"S": ...}}``."""
    return {name: to_attribute(value) for name, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    """``{"name": {"S": ...}}`` -> ``{"name": value}``."""
    return {name: from_attribute(value) for name, value in item.items()}


def to_attribute(value: Any) -> dict[str, Any]:
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):  # (before int: a bool is an int)
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, int | float | Decimal):
        return {"N": _number(value)}
    if isinstance(value, Mapping):
        return {"M": {str(name): to_attribute(inner) for name, inner in value.items()}}
    if isinstance(value, list | tuple):
        return {"L": [to_attribute(inner) for inner in value]}
    raise TypeError(f"{type(value).__name__} is not JSON-ready data: cannot store {value!r}")


def from_attribute(attribute: Mapping[str, Any]) -> Any:
    ((kind, value),) = attribute.items()
    if kind == "S" or kind == "B":
        return value
    if kind == "N":
        return _read_number(value)
    if kind == "BOOL":
        return bool(value)
    if kind == "NULL":
        return None
    if kind == "M":
        return {name: from_attribute(inner) for name, inner in value.items()}
    if kind == "L":
        return [from_attribute(inner) for inner in value]
    if kind == "SS" or kind == "BS":
        return list(value)
    if kind == "NS":
        return [_read_number(number) for number in value]
    raise TypeError(f"unknown DynamoDB attribute type {kind!r}")


def _number(value: int | float | Decimal) -> str:
    # a float as JSON writes it (its shortest repr), so 0.1 is stored as 0.1
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        raise ValueError(f"DynamoDB stores no {value!r}")
    try:
        return str(_NUMBERS.create_decimal(exact))
    except ArithmeticError as error:
        raise ValueError(f"DynamoDB cannot store the number {value!r} exactly") from error


def _read_number(text: str) -> int | float:
    number = Decimal(text)
    return int(number) if number == number.to_integral_value() else float(number)
