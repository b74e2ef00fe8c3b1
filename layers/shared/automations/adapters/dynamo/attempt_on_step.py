"""A step's last attempt, stored on the step (one write for both): what the two share is stored once.

The attempt that ends its step rides on the step's last write. Its run and node are the step's
keys; an HTTP exchange's request URL is most often the step's ``input.url`` and its response's
headers the step's ``output.headers``. Each is left out of the stored attempt when the step holds
the same value, and put back when the attempt is read: a step item stays small (DynamoDB bills
writes per KB; real responses carry a dozen headers or more), and what is read is what was recorded.
That holds because an attempt goes on its step only in the write that ends the step for good
(completed or failed), with the values it is compared with; an ended step never changes again.
"""

from __future__ import annotations

from typing import Any

# (where in the attempt, where on the step): left out of the attempt when the two are equal
_SHARED: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("runId",), ("runId",)),
    (("nodeId",), ("nodeId",)),
    (("http", "request", "url"), ("input", "url")),
    (("http", "response", "headers"), ("output", "headers")),
)


def stored(attempt: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    """The attempt (its stored form) as it goes on ``step`` (the step's values written with it)."""
    kept = _copy_along_shared_paths(attempt)
    for in_attempt, on_step in _SHARED:
        parent = _at(kept, in_attempt[:-1])
        if isinstance(parent, dict) and in_attempt[-1] in parent and parent[in_attempt[-1]] == _at(step, on_step):
            del parent[in_attempt[-1]]
    return kept


def read(step_item: dict[str, Any], attempt: dict[str, Any]) -> dict[str, Any]:
    """The attempt as recorded, from its stored form on ``step_item``."""
    whole = _copy_along_shared_paths(attempt)
    for in_attempt, on_step in _SHARED:
        parent = _at(whole, in_attempt[:-1])
        value = _at(step_item, on_step)
        # only a part that was there is put back: a request that got no response gets no headers
        if isinstance(parent, dict) and in_attempt[-1] not in parent and value is not None:
            parent[in_attempt[-1]] = value
    return whole


def _at(data: Any, path: tuple[str, ...]) -> Any:
    for name in path:
        if not isinstance(data, dict):
            return None
        data = data.get(name)
    return data


def _copy_along_shared_paths(attempt: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough that removing or adding a shared part leaves ``attempt`` as it was."""
    copy = dict(attempt)
    if isinstance(copy.get("http"), dict):
        http = copy["http"] = dict(copy["http"])
        for part in ("request", "response"):
            if isinstance(http.get(part), dict):
                http[part] = dict(http[part])
    return copy
