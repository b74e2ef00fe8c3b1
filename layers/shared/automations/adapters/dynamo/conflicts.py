"""DynamoDB's transaction conflicts, sent again after a short wait, as botocore does for throttling.

On AWS, two writers can meet on an item while one of them is a transaction (a hand-off, a
reschedule: ``TransactWriteItems``) and the other any write (the stream handler rolling the run's
status up, a node's claim). DynamoDB then refuses one of them without writing anything:

- a single write gets ``TransactionConflictException``;
- a transaction is cancelled, ``TransactionCanceledException``, its reasons naming
  ``TransactionConflict`` (or ``ThrottlingError``, ``ProvisionedThroughputExceeded``) and no
  condition that failed.

botocore retries neither, and moto never answers either (it applies requests one at a time). So
``retry_conflicts`` adds a handler to botocore's own retry decision for the DynamoDB client: such
an answer is sent again after a jittered, doubling wait, up to ``CONFLICT_ATTEMPTS`` attempts in
all; then the error surfaces as it is. A transaction cancelled because a condition failed is not
retried: that is an answer (see ``cancelled_by_condition``), not contention.
"""

from __future__ import annotations

import random
from typing import Any

from botocore.exceptions import ClientError

CONFLICT_ATTEMPTS = 8  # the first and 7 more: about 1.5 s of waiting at the most, 0.75 s on average
_FIRST_WAIT_CEILING = 0.025
_WAIT_CAP = 0.5
# cancellation reasons that are contention, not an answer: nothing was written, sending it again may succeed
TRANSIENT_CANCELLATIONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


def cancellation_reasons(answer: dict[str, Any]) -> set[str]:
    """The reasons a cancelled transaction gives for its items, ``None`` (the item was fine) left out."""
    return {reason.get("Code") for reason in answer.get("CancellationReasons") or []} - {"None", None}


def is_contention(answer: dict[str, Any]) -> bool:
    """A write refused only because another was writing the item at that moment (or throttled)."""
    code = answer.get("Error", {}).get("Code")
    if code == "TransactionConflictException":
        return True
    reasons = cancellation_reasons(answer)
    return code == "TransactionCanceledException" and bool(reasons) and reasons <= TRANSIENT_CANCELLATIONS


def cancelled_by_condition(error: ClientError) -> bool:
    """A transaction cancelled because one of its conditions failed: the answer "not now", not a failure."""
    cancelled = error.response.get("Error", {}).get("Code") == "TransactionCanceledException"
    return cancelled and "ConditionalCheckFailed" in cancellation_reasons(error.response)


def wait_before_retry(attempts: int) -> float:
    """Full jitter below a doubling ceiling (attempts: the requests sent so far)."""
    return random.uniform(0, min(_WAIT_CAP, _FIRST_WAIT_CEILING * 2 ** (attempts - 1)))  # noqa: S311


def _needs_retry(response: tuple[Any, dict[str, Any]] | None = None, attempts: int = 0, **_: Any) -> float | None:
    # botocore asks every handler of `needs-retry` and sleeps for the first answer that is not None;
    # its own handler (throttling, 5xx, connection errors) answers None for these
    if response is None or attempts >= CONFLICT_ATTEMPTS or not is_contention(response[1]):
        return None
    return wait_before_retry(attempts)


def retry_conflicts(client: Any) -> Any:
    """The DynamoDB client, its writes sent again when they met a transaction (see the module)."""
    client.meta.events.register("needs-retry.dynamodb", _needs_retry, unique_id="automations-retry-conflicts")
    return client
