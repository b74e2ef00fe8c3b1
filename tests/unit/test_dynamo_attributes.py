"""Items to DynamoDB's typed attribute values and back, as boto3's (de)serializers did it for the
engine's JSON-ready data: the same wire format, the same values read back."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from automations.adapters.dynamo.attributes import from_attribute, from_item, to_attribute, to_item

VALUES: list[Any] = [
    "",
    "text with ünïcödé and \N{SNOWMAN}",
    0,
    -17,
    10**37,  # 38 digits: DynamoDB's precision
    0.1,
    -2.5,
    1e20,
    1.5e-7,
    123456789.123456,
    True,
    False,
    None,
    {},
    [],
    {"nested": {"list": [1, "two", None, {"three": 3.0}], "flag": False}},
    [[], {}, [[0.25]]],
]


def boto3_wire(value: Any) -> dict[str, Any]:
    """What the engine sent before: JSON-ready data, floats as Decimal, through boto3's serializer."""
    return TypeSerializer().serialize(json.loads(json.dumps(value), parse_float=Decimal))


def boto3_read(wire: dict[str, Any]) -> Any:
    """What the engine read before: boto3's deserializer, numbers as int when whole, else float."""

    def plain(value: Any) -> Any:
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, list) else value

    return plain(TypeDeserializer().deserialize(wire))


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_the_wire_format_is_boto3s_and_a_value_reads_back_as_written(value: Any) -> None:
    # When a JSON-ready value is written
    wire = to_attribute(value)
    # Then it is what boto3's serializer made of it, and it reads back equal, with the types it read
    # back as before (a whole number as int: 3.0 as 3)
    assert wire == boto3_wire(value)
    read = from_attribute(wire)
    assert read == value and json.dumps(read) == json.dumps(boto3_read(wire))


def test_an_item_is_written_and_read_attribute_by_attribute() -> None:
    item = {"pk": "RUN#1", "sk": "RUN", "n": 3, "history": [{"status": "running", "at": "2026-12-06T00:00:00Z"}]}
    assert to_item(item) == {name: boto3_wire(value) for name, value in item.items()}
    assert from_item(to_item(item)) == item


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ({"SS": ["a", "b"]}, ["a", "b"]),
        ({"NS": ["1", "2.5"]}, [1, 2.5]),
        ({"N": "1E+2"}, 100),
        ({"N": "-0.000001"}, -1e-06),
    ],
)
def test_sets_a_table_may_hold_read_back_as_lists_and_numbers_as_int_or_float(
    wire: dict[str, Any], expected: Any
) -> None:
    read = from_attribute(wire)
    assert read == expected and [type(v) for v in _items(read)] == [type(v) for v in _items(expected)]


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (math.nan, ValueError),
        (math.inf, ValueError),
        (10**38 + 1, ValueError),  # 39 significant digits
        (1e200, ValueError),  # beyond DynamoDB's 1E+125
        (datetime(2026, 1, 1, tzinfo=UTC), TypeError),
        ({1, 2}, TypeError),
    ],
    ids=["nan", "inf", "39 digits", "too large", "datetime", "set"],
)
def test_what_dynamodb_cannot_hold_fails_before_any_request(value: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        to_attribute({"value": [value]})
