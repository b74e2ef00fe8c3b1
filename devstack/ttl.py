"""DynamoDB's Time to Live, which moto keeps as a table setting but never enforces.

DynamoDB deletes, in the background, every item whose TTL attribute (a number: epoch seconds) is
in the past, typically within a few days of that moment. Here an ``Expiry`` thread does the
same by the local clock: every ``interval`` seconds, and at once after the clock is moved
(``nudge``), it reads the table for expired items and deletes each. A deletion is conditional on
the item being expired still, so a write that kept it longer meanwhile wins, as on AWS. Each
leaves a REMOVE record on the table's stream like any deletion (AWS marks its own with a
``userIdentity`` of the DynamoDB service, which the engine does not read).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from automations.observability import logger


class Expiry:
    """The thread that deletes the table's expired items (see the module's docstring)."""

    def __init__(
        self,
        client: Any,
        table: str,
        *,
        attribute: str,
        key: list[str],
        now: Callable[[], datetime],
        interval: float = 60.0,
    ) -> None:
        self._client, self._table, self._now = client, table, now
        self.attribute, self._key = attribute, key
        self.interval = interval
        self.passes = 0
        self.deleted = 0  # items deleted since the stack started
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dynamodb-ttl", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def nudge(self) -> None:
        """Look now (the local clock moved), not at the end of the interval."""
        self._wake.set()

    def begin_stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def stop(self, timeout: float) -> None:
        self.begin_stop()
        if self._thread.is_alive():
            self._thread.join(timeout=timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.run_pass()
            except Exception:  # a defect (or a throttle armed for every caller): say it, try again later
                logger.exception("the local TTL pass failed; trying again")

    def run_pass(self) -> int:
        """Delete every item expired by the local clock now; how many went."""
        now = int(self._now().timestamp())
        keys = {f"#k{n}": name for n, name in enumerate(self._key)}
        request: dict[str, Any] = {
            "TableName": self._table,
            "FilterExpression": "#ttl < :now",
            "ExpressionAttributeNames": {"#ttl": self.attribute, **keys},
            "ExpressionAttributeValues": {":now": {"N": str(now)}},
            "ProjectionExpression": ", ".join(keys),
            # a page at a time: each scan holds the stack's DynamoDB lock, and the functions wait for it
            "Limit": 500,
        }
        deleted = 0
        while not self._stop.is_set():
            page = self._client.scan(**request)
            for key in page.get("Items", []):
                deleted += self._delete(key, now)
            if "LastEvaluatedKey" not in page:
                break
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        self.passes += 1
        self.deleted += deleted
        if deleted:
            logger.info("expired items deleted (DynamoDB TTL)", extra={"deleted": deleted, "table": self._table})
        return deleted

    def _delete(self, key: dict[str, Any], now: int) -> int:
        try:
            self._client.delete_item(
                TableName=self._table,
                Key=key,
                ConditionExpression="#ttl < :now",
                ExpressionAttributeNames={"#ttl": self.attribute},
                ExpressionAttributeValues={":now": {"N": str(now)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return 0  # kept longer since the scan read it
            raise
        return 1
