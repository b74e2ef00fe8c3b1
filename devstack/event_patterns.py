"""EventBridge event patterns, as far as the template uses them: the local stack's EventBridge
rules, and its stream poller's FilterCriteria (Lambda's event filtering has the same syntax).

Implemented, with EventBridge's meaning:

- a pattern is a JSON object; every field it names must match (fields it does not name are not
  looked at); a field whose pattern is an object matches the event's object field by field
  (``detail``, and deeper);
- a field's pattern is a non-empty list of values, and matches when the event's value equals one
  of them (strings exactly, numbers by value, ``true``/``false``/``null`` as themselves); when the
  event's value is a list, when any of its elements does; a field the event lacks never matches.

Content filters (``prefix``, ``anything-but``, ``numeric``, ``exists``, ``wildcard``, ...) and
``$or`` are not: ``check`` raises ``UnsupportedPattern`` naming them, so a template that starts
using one fails the local stack at start instead of matching wrongly. A pattern EventBridge would
refuse (a bare value instead of a list, an empty list or object) raises ``InvalidPattern``.
"""

from __future__ import annotations

from typing import Any


class InvalidPattern(ValueError):
    """A pattern EventBridge refuses (PutRule's "Event pattern is not valid")."""


class UnsupportedPattern(NotImplementedError):
    """A valid pattern using what this matcher does not implement."""


_SCALARS = (str, int, float, bool, type(None))


def check(pattern: Any, path: str = "") -> None:
    """Raise unless ``pattern`` is a pattern this module can match exactly as EventBridge would."""
    if not isinstance(pattern, dict) or not pattern:
        raise InvalidPattern(f"{path or 'the pattern'}: a pattern is a non-empty JSON object")
    for field, value in pattern.items():
        where = f"{path}.{field}" if path else str(field)
        if field == "$or":
            raise UnsupportedPattern(f"{where}: $or is not implemented by the local stack's EventBridge")
        if isinstance(value, dict):
            check(value, where)
        elif isinstance(value, list):
            if not value:
                raise InvalidPattern(f"{where}: an empty list matches nothing (EventBridge refuses it)")
            for candidate in value:
                if isinstance(candidate, dict):
                    names = ", ".join(sorted(candidate)) or "{}"
                    raise UnsupportedPattern(
                        f"{where}: the content filter {names} is not implemented by the local stack's EventBridge"
                    )
                if not isinstance(candidate, _SCALARS):
                    raise InvalidPattern(f"{where}: {candidate!r} is not a value a pattern can match")
        else:
            raise InvalidPattern(f"{where}: values to match go in a list, e.g. [{value!r}]")


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``event`` (a JSON object) matches ``pattern`` (one that ``check`` accepts)."""
    if not isinstance(event, dict):
        return False
    for field, wanted in pattern.items():
        if field not in event:
            return False
        value = event[field]
        if isinstance(wanted, dict):
            if not matches(wanted, value):
                return False
        elif not any(_equal(candidate, item) for item in _items(value) for candidate in wanted):
            return False
    return True


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _equal(wanted: Any, value: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool) or wanted is None or value is None:
        return type(wanted) is type(value) and wanted == value
    if isinstance(wanted, int | float) and isinstance(value, int | float):
        return float(wanted) == float(value)
    return isinstance(wanted, str) and isinstance(value, str) and wanted == value
