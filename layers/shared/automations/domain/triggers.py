"""What starts runs: a trigger event, kept verbatim (secrets redacted) for run history."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from automations.domain.base import RecordModel

TriggerKind = Literal["webhook", "event", "schedule", "manual", "retrigger"]


class TriggerEvent(RecordModel):
    """What started one or more runs.

    ``body``/``headers`` are a webhook's; ``event_type``/``event_id``/``data`` an account event's
    (``POST /events``) or a manual run's; ``fired_at`` the occurrence of a recurring schedule.
    """

    trigger_id: str
    account_id: str
    kind: TriggerKind
    flow_id: str | None = None
    received_at: str
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    event_type: str | None = None
    event_id: str | None = None
    data: Any = None
    fired_at: str | None = None
    idempotency_key: str | None = None
    # SHA-256 of the request (a webhook's raw body; the canonical JSON of a manual run or
    # re-trigger request): the same Idempotency-Key with another request is refused
    request_hash: str | None = None
    run_ids: list[str] = Field(default_factory=list)
    # an event's effect on runs recorded earlier (withdrawal, reschedule): set once applied
    cancelled: list[str] | None = None
    rescheduled: list[str] | None = None

    def variables(self) -> dict[str, Any]:
        """What placeholders read under ``trigger``: what this trigger carries."""
        found: dict[str, Any] = {"receivedAt": self.received_at}
        if self.kind == "webhook" or self.body is not None:
            found.update(body=self.body, headers=self.headers)
        if self.event_type is not None:
            found.update(event=self.event_type, eventId=self.event_id)
        if self.data is not None or self.event_type is not None:
            found["data"] = self.data
        if self.fired_at is not None:
            found["firedAt"] = self.fired_at
        return found
