"""Strict JSON bodies (``domain.json_body``): only what the table stores exactly gets in, never changed."""

from __future__ import annotations

import base64
import math
import re

import pytest

from automations.domain import json_body
from automations.errors import JsonTooDeep, MalformedJson, NumberOutOfRange, PayloadTooLarge


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        ("9" * 38, int("9" * 38)),
        ("-" + "9" * 38, -int("9" * 38)),
        ("9.99e125", 9.99e125),
        ("1e-130", 1e-130),
        ("0.0", 0.0),
        ("0e999", 0.0),  # zero in any spelling is zero
        ('"Zoë 🚀 \\ud83d\\ude80"', "Zoë 🚀 🚀"),  # a surrogate pair is one character
        ('"[[[[{{{{"', "[[[[{{{{"),  # brackets inside strings are not nesting
    ],
)
def test_given_json_the_table_can_store_when_parsed_then_values_are_exact(text: str, expected: object) -> None:
    assert json_body.parse(text) == expected
    assert json_body.parse(text.encode()) == expected


@pytest.mark.parametrize(
    ("raw", "error", "message"),
    [
        (b"\xff{}", MalformedJson, "not UTF-8 text (invalid byte at offset 0)"),
        ("{", MalformedJson, "not valid JSON"),
        ('{"n": NaN}', MalformedJson, "NaN is not a JSON number"),
        ("[Infinity]", MalformedJson, "Infinity is not a JSON number"),
        ("-Infinity", MalformedJson, "-Infinity is not a JSON number"),
        ('"\\ud800"', MalformedJson, "lone surrogate (\\ud800)"),
        ('{"\\udfff": 1}', MalformedJson, "lone surrogate"),  # in a key too
        ("1" + "0" * 38, NumberOutOfRange, "number too large for storage"),
        ("9" * 5000, NumberOutOfRange, "has 5000 digits; at most 38"),
        ("0." + "1" * 39, NumberOutOfRange, "39 significant digits"),
        ("1e999", NumberOutOfRange, "out of range"),
        ("-1e126", NumberOutOfRange, "out of range"),
        ("1e-131", NumberOutOfRange, "out of range"),
        ("1e-400", NumberOutOfRange, "out of range"),  # not silently 0.0
        ("[" * 10_000 + "]" * 10_000, JsonTooDeep, "10000 deep; at most 24"),
        ('{"a":' * 25 + "1" + "}" * 25, JsonTooDeep, "25 deep"),
        ("[" * 100_000, JsonTooDeep, "deep"),  # refused before the parser recurses
        ('"' + "x" * (json_body.MAX_BODY_BYTES + 1) + '"', PayloadTooLarge, "exceeds 262144 bytes"),
    ],
)
def test_given_json_that_cannot_be_stored_exactly_when_parsed_then_a_4xx_error_says_why(
    raw: bytes | str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        json_body.parse(raw)


def test_the_depth_limit_leaves_room_for_what_the_engine_wraps_around_a_body() -> None:
    # DynamoDB nests maps and lists at most 32 levels with the item's own; a body sits at most
    # 7 levels down (an item, a step's input, the node field a placeholder put it in)
    assert json_body.MAX_DEPTH + 1 + 7 <= 32
    assert json_body.parse("[" * 24 + "]" * 24) is not None
    assert json_body.depth_of('{"a": [{"b": "]]]"}]}') == 3


def test_raw_bytes_are_what_the_caller_sent() -> None:
    assert json_body.raw_bytes(None, base64_encoded=False) == b""
    assert json_body.raw_bytes("Zoë", base64_encoded=False) == "Zoë".encode()
    assert json_body.raw_bytes(base64.b64encode(b"\xff").decode(), base64_encoded=True) == b"\xff"
    with pytest.raises(MalformedJson, match="not valid base64"):
        json_body.raw_bytes("###", base64_encoded=True)
    assert math.isfinite(json_body.parse("1e125"))
