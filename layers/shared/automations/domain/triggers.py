"""What starts runs: a trigger event, kept verbatim (secrets redacted) for run history."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automations.domain.base import RecordModel

# Webhook today; events, schedules, manual runs and re-triggers record through the same path.
TriggerKind = Literal["webhook", "event", "schedule", "manual", "retrigger"]


class TriggerEvent(RecordModel):
    """What started one or more runs. ``body``/``headers`` are a webhook's; ``data`` an event's."""

    trigger_id: str
    account_id: str
    kind: TriggerKind
    flow_id: str | None = None
    received_at: str
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    data: Any = None
    idempotency_key: str | None = None
    run_ids: list[str] = Field(default_factory=list)

    def variables(self) -> dict[str, Any]:
        """What placeholders read under ``trigger``: what this trigger carries."""
        found: dict[str, Any] = {"receivedAt": self.received_at}
        if self.kind == "webhook" or self.body is not None:
            found.update(body=self.body, headers=self.headers)
        if self.data is not None:
            found["data"] = self.data
        return found
