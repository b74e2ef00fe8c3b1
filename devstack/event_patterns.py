"""EventBridge event patterns, as far as the template uses them: the local stack's EventBridge
rules, and its stream poller's FilterCriteria (Lambda's event filtering has the same syntax).

Implemented, with EventBridge's meaning:

- a pattern is a JSON object; every field it names must match (fields it does not name are not
  looked at); a field whose pattern is an object matches the event's object field by field
  (``detail``, and deeper);
- a field's pattern is a non-empty list of values, and matches when the event's value equals one
  of them (strings exactly, numbers by value, ``true``/``false``/``null`` as themselves); when the
  event's value is a list, when any of its elements does; a field the event lacks matches no value;
- ``{"exists": true}`` matches a field the event has, with a value that is not an object (exists
  matches leaves only); ``{"exists": false}`` matches a field the event lacks, also when the
  object it would be in is missing (a DynamoDB attribute's ``{"BOOL": [{"exists": false}]}``
  matches an image without the attribute).

Other content filters (``prefix``, ``anything-but``, ``numeric``, ``wildcard``, ...) and ``$or``
are not: ``check`` raises ``UnsupportedPattern`` naming them, so a template that starts using one
fails the local stack at start instead of matching wrongly. A pattern EventBridge would
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
                if isinstance(candidate, dict) and set(candidate) == {"exists"}:
                    if not isinstance(candidate["exists"], bool):
                        raise InvalidPattern(f"{where}: exists takes true or false")
                elif isinstance(candidate, dict):
                    names = ", ".join(sorted(candidate)) or "{}"
                    raise UnsupportedPattern(
                        f"{where}: the content filter {names} is not implemented by the local stack's EventBridge"
                    )
                elif not isinstance(candidate, _SCALARS):
                    raise InvalidPattern(f"{where}: {candidate!r} is not a value a pattern can match")
        else:
            raise InvalidPattern(f"{where}: values to match go in a list, e.g. [{value!r}]")


_ABSENT = object()


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether ``event`` (a JSON object) matches ``pattern`` (one that ``check`` accepts)."""
    fields = event if isinstance(event, dict) else {}
    for field, wanted in pattern.items():
        value = fields.get(field, _ABSENT)
        if isinstance(wanted, dict):
            if not matches(wanted, {} if value is _ABSENT else value):
                return False
        elif not any(_matches_value(candidate, value) for candidate in wanted):
            return False
    return True


def _matches_value(candidate: Any, value: Any) -> bool:
    if isinstance(candidate, dict):  # {"exists": ...}, the one content filter ``check`` lets through
        return candidate["exists"] == (value is not _ABSENT and not isinstance(value, dict))
    return value is not _ABSENT and any(_equal(candidate, item) for item in _items(value))


def _items(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _equal(wanted: Any, value: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(value, bool) or wanted is None or value is None:
        return type(wanted) is type(value) and wanted == value
    if isinstance(wanted, int | float) and isinstance(value, int | float):
        return float(wanted) == float(value)
    return isinstance(wanted, str) and isinstance(value, str) and wanted == value
