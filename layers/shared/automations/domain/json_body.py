"""Request bodies parsed once, strictly: only JSON that the table can store exactly gets in.

Every JSON body the API reads goes through ``parse`` (the REST resolver's body deserializer and
the webhook route, which reads its raw bytes for the signature). A body is refused, never
changed, when:

- it is not UTF-8 text, or not JSON (``MalformedJson``, 400);
- it holds ``NaN``, ``Infinity`` or ``-Infinity`` (not JSON; Python's parser accepts them) or a
  string with a lone surrogate such as ``"\\ud800"`` (not Unicode text) (``MalformedJson``, 400);
- objects and arrays nest deeper than ``MAX_DEPTH`` (``JsonTooDeep``, 400): DynamoDB stores maps
  and lists nested at most 32 levels, the item's own included, and the engine wraps a body in up
  to 7 more (a trigger item; a step item's input, the node field a placeholder put it in);
- a number does not fit a DynamoDB number (``NumberOutOfRange``, 400): more than 38 significant
  digits, a magnitude of 1e126 or more, a non-zero magnitude below 1e-130, or a literal that is
  not zero but reads as 0.0 (``1e-400``) or as infinity (``1e999``). Fractions are kept as IEEE
  doubles, as by every JSON parser;
- it is larger than ``MAX_BODY_BYTES`` (``PayloadTooLarge``, 413): a trigger is stored whole in
  one item, and an item holds at most 400 KB.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from decimal import Decimal
from typing import Any, NoReturn

from automations.errors import JsonTooDeep, MalformedJson, NumberOutOfRange, PayloadTooLarge

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 24  # objects/arrays in objects/arrays; DynamoDB's own limit is 32 with the item
MAX_DIGITS = 38  # DynamoDB numbers: 38 significant digits
MAX_MAGNITUDE = Decimal("1e126")  # exclusive: DynamoDB's largest is 9.99...E+125
MIN_MAGNITUDE = Decimal("1e-130")

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")


def parse(raw: bytes | str, *, what: str = "request body") -> Any:
    """The body as Python values (``dict``, ``list``, ``str``, ``int``, ``float``, ...), or a 4xx error."""
    if isinstance(raw, bytes):
        size = len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MalformedJson(f"{what} is not UTF-8 text (invalid byte at offset {error.start})") from None
    else:
        text = raw
        size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"{what} exceeds {MAX_BODY_BYTES} bytes")
    _check_depth(text, what)
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_int, parse_float=_float)
    except json.JSONDecodeError as error:
        raise MalformedJson(f"{what} is not valid JSON: {error}") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as error:
        bad = error.object[error.start : error.end].encode("unicode_escape").decode()
        raise MalformedJson(f"{what} holds a lone surrogate ({bad}): not Unicode text") from None
    return value


def raw_bytes(body: str | None, *, base64_encoded: bool) -> bytes:
    """An API Gateway event's body as the bytes the caller sent (what a signature covers)."""
    if not body:
        return b""
    if not base64_encoded:
        try:
            return body.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedJson("request body is not UTF-8 text") from None
    try:
        return base64.b64decode(body, validate=True)
    except binascii.Error:
        raise MalformedJson("request body is not valid base64 (isBase64Encoded)") from None


def depth_of(text: str) -> int:
    """How deep objects and arrays nest in JSON text (strings skipped), without parsing it."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check_depth(text: str, what: str) -> None:
    if (depth := depth_of(text)) > MAX_DEPTH:
        raise JsonTooDeep(f"{what} nests objects/arrays {depth} deep; at most {MAX_DEPTH} can be stored")


def _constant(name: str) -> NoReturn:
    raise MalformedJson(f"{name} is not a JSON number; send a number or null")


def _shown(literal: str) -> str:
    return literal if len(literal) <= 24 else f"{literal[:20]}... ({len(literal)} characters)"


def _int(literal: str) -> int:
    digits = len(literal.lstrip("-"))
    if digits > MAX_DIGITS:
        raise NumberOutOfRange(
            f"number too large for storage: {_shown(literal)} has {digits} digits; at most {MAX_DIGITS}"
        )
    return int(literal)


def _float(literal: str) -> float:
    exact = Decimal(literal)
    significant = len("".join(map(str, exact.as_tuple().digits)).strip("0"))
    if significant > MAX_DIGITS:
        raise NumberOutOfRange(
            f"number too precise for storage: {_shown(literal)} has {significant} significant digits; "
            f"at most {MAX_DIGITS}"
        )
    if exact and not MIN_MAGNITUDE <= exact.copy_abs() < MAX_MAGNITUDE:
        raise NumberOutOfRange(f"number out of range for storage: {_shown(literal)} (magnitude 1e-130 to 1e125)")
    value = float(literal)
    if not math.isfinite(value) or (exact and value == 0.0):  # pragma: no cover - the range check covers both
        raise NumberOutOfRange(f"number out of range: {_shown(literal)}")
    return value
