"""A batch of the table's stream records, as the event source mapping delivers it: each record's
change handed on, and the records that failed reported back (``ReportBatchItemFailures``).

What Powertools' batch utility does for a DynamoDB stream, without importing it: its import brings
asyncio and the processors of every event source, about 30 ms of StreamFunction's cold start.
The same contract: every record is handed on, in order, even after one failed; each failure is
reported by its sequence number (the mapping retries from the lowest, and later records of the
batch again: reactions are idempotent); when every record failed, ``EveryRecordFailed`` is
raised, so the mapping retries the batch whole and bisects it (``BisectBatchOnFunctionError``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from automations.adapters.dynamo.attributes import from_item
from automations.observability import logger


class EveryRecordFailed(Exception):
    """No record of the batch could be handled."""

    def __init__(self, failed: int) -> None:
        super().__init__(f"all {failed} records of the batch failed (see the errors logged above)")
        self.failed = failed


# what is handed each change: (event name: INSERT | MODIFY | REMOVE, new image, old image)
ChangeHandler = Callable[[str, dict[str, Any] | None, dict[str, Any] | None], object]


def handle_batch(event: dict[str, Any], handle: ChangeHandler) -> dict[str, Any]:
    """``{"batchItemFailures": [{"itemIdentifier": <sequence number>}, ...]}`` for the records of
    ``event`` that ``handle`` raised on (each logged with its error)."""
    records = event.get("Records") or []
    failed: list[str] = []
    for record in records:
        change = record.get("dynamodb") or {}
        new, old = (
            from_item(image) if image is not None else None
            for image in (change.get("NewImage"), change.get("OldImage"))
        )
        try:
            handle(str(record.get("eventName") or ""), new, old)
        except Exception:
            logger.exception("stream record failed; reported for retry", extra={"event_id": record.get("eventID")})
            failed.append(str(change.get("SequenceNumber")))
    if records and len(failed) == len(records):
        raise EveryRecordFailed(len(records))
    return {"batchItemFailures": [{"itemIdentifier": number} for number in failed]}
