"""Run history fitted to what a Lambda function may answer.

Lambda refuses a response larger than 6 MB (6,291,456 bytes: API Gateway's envelope and the body,
a JSON string in it, its quotes escaped), and API Gateway answers 502 instead. A step may record
300 KiB of values and each attempt 300 KiB of HTTP exchange (``domain.item_budget``), so a run of a
few dozen steps that called APIs with large answers would pass that limit, and its history (the
page an operator opens first) would not open at all.

So an answer over ``RESPONSE_BUDGET_BYTES`` has its largest recorded values replaced, the largest
first (as few as can be), by the marker stored values use already (``{"truncated": true, "bytes",
"preview"}``) until it fits: the steps' outputs and inputs, the attempts' HTTP requests and
responses, the trigger's body and data (at equal sizes, in that order: an exchange shows what was
sent and answered, the output is what later nodes read). ``omitted`` lists where (JSON Pointers
into the answer). One step alone (``GET /runs/{runId}/steps/{nodeId}``) is fitted the same way,
and has room for far more.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any, TypeVar

from pydantic import BaseModel

from automations.domain.item_budget import marker

LAMBDA_RESPONSE_LIMIT_BYTES = 6 * 1024 * 1024
# what the body may take: the rest is the envelope (status, headers) and a margin
RESPONSE_BUDGET_BYTES = 5 * 1024 * 1024

Path = tuple[str | int, ...]
Answer = TypeVar("Answer", bound=BaseModel)


def sent_size(value: Any) -> int:
    """The bytes ``value`` takes in Lambda's response: JSON inside a JSON string (an upper bound:
    non-ASCII counted as ``\\uXXXX``)."""
    return len(json.dumps(json.dumps(value))) - 2


def fit_answer(answer: dict[str, Any], *, budget: int = RESPONSE_BUDGET_BYTES) -> tuple[dict[str, Any], list[str]]:
    """``answer`` (a run's or a step's wire JSON) with recorded values replaced by markers until it
    takes at most ``budget`` bytes as sent; and where (JSON Pointers). The answer given is not changed."""
    excess = sent_size(answer) - budget
    if excess <= 0:
        return answer, []
    fitted = copy.deepcopy(answer)
    omitted: list[str] = []
    for _, _, path, value in sorted(_recorded_values(fitted), key=lambda c: (-c[1], c[0])):
        if excess <= 0:
            break
        cut = marker(value)
        saved = sent_size(value) - sent_size(cut)
        if saved <= 0:
            continue
        _put(fitted, path, cut)
        omitted.append(_pointer(path))
        excess -= saved
    return fitted, omitted


def _recorded_values(answer: dict[str, Any]) -> Iterator[tuple[int, int, Path, Any]]:
    """(order at equal sizes, size, path, value) of each recorded value that may give way, in
    ``answer``: a run's detail (``steps``, ``trigger``) or one step (``attempts``, ``input``, ``output``)."""
    steps: list[tuple[Path, dict[str, Any]]] = [((), answer)]  # one step
    if "steps" in answer:  # a run's detail
        steps = [(("steps", n), step) for n, step in enumerate(answer["steps"] or [])]
    for path, step in steps:
        for order, part in ((0, "output"), (1, "input")):
            if step.get(part) is not None:
                yield order, sent_size(step[part]), (*path, part), step[part]
        for a, attempt in enumerate(step.get("attempts") or []):
            for part in ("request", "response"):
                if (exchange := (attempt.get("http") or {}).get(part)) is not None:
                    yield 2, sent_size(exchange), (*path, "attempts", a, "http", part), exchange
    trigger = answer.get("trigger") or {}
    for part in ("body", "data"):
        if trigger.get(part) is not None:
            yield 3, sent_size(trigger[part]), ("trigger", part), trigger[part]


def _put(answer: dict[str, Any], path: Path, value: Any) -> None:
    holder: Any = answer
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value


def _pointer(path: Path) -> str:
    return "".join("/" + str(key).replace("~", "~0").replace("/", "~1") for key in path)


def within_limit(answer: Answer) -> Answer:
    """``answer`` as it may be sent: fitted (``fit_answer``), its ``omitted`` saying where, when it had to be."""
    fitted, omitted = fit_answer(answer.model_dump(mode="json", by_alias=True))
    return answer if not omitted else type(answer).model_validate({**fitted, "omitted": omitted})
