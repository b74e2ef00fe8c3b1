"""Environment variables, validated once per process into a typed settings object."""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from automations.domain.node_settings import GuardMode, NodeSettings, allowlist_entry


def _comma_separated(value: object) -> object:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    # The Express twin; runs start there when EXPRESS_FIRST is true (see logic/hand_off.py)
    express_state_machine_arn: str | None = Field(default=None, alias="EXPRESS_STATE_MACHINE_ARN")
    express_first: bool = Field(default=False, alias="EXPRESS_FIRST")
    # EventBridge Scheduler: where the stream puts one-time schedules of runs due later
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP")
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN")
    scheduler_dead_letter_arn: str | None = Field(default=None, alias="SCHEDULER_DEAD_LETTER_ARN")
    history_retention_days: int = Field(default=90, alias="HISTORY_RETENTION_DAYS", ge=1)
    webhook_tolerance_seconds: int = Field(default=300, alias="WEBHOOK_TOLERANCE_SECONDS", ge=1)
    # the stack's CloudWatch dashboard: the console's Ops page links to it (none locally)
    dashboard_url: str | None = Field(default=None, alias="DASHBOARD_URL")
    # the secret that seals paging cursors (adapters/dynamo/cursors.py); only the API pages
    cursor_secret_arn: str | None = Field(default=None, alias="CURSOR_SECRET_ARN")
    # The outbound guard (nodes/outbound.py): deployed engines must not be turned against the VPC,
    # loopback or the metadata endpoint ("strict", the default); the local stack sets "loopback"
    # (127.0.0.0/8 and ::1 also allowed) so flows can call services on the same machine.
    outbound_guard: GuardMode = Field(default="strict", alias="OUTBOUND_GUARD")
    # Private targets a deployment needs: comma-separated networks (CIDR) and host names
    # ("10.20.0.0/16,billing.internal,*.corp.example"); metadata addresses stay refused.
    outbound_allowlist: Annotated[tuple[str, ...], BeforeValidator(_comma_separated)] = Field(
        default=(), alias="OUTBOUND_ALLOWLIST"
    )
    max_recorded_body_bytes: int = Field(default=16_384, alias="MAX_RECORDED_BODY_BYTES", ge=256)
    # send_email: SendGrid's v3 API (the local stack points this at its email sink)
    sendgrid_base_url: str = Field(default="https://api.sendgrid.com", alias="SENDGRID_BASE_URL")
    email_default_from: str = Field(default="no-reply@example.com", alias="EMAIL_DEFAULT_FROM")
    connections_parameter_prefix: str = Field(default="/automations/connections/", alias="CONNECTIONS_PARAMETER_PREFIX")

    @field_validator("outbound_allowlist")
    @classmethod
    def _valid_allowlist(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            allowlist_entry(entry)
        return value

    def node_settings(self) -> NodeSettings:
        """What node executors may know of the deployment (see ``nodes.base.NodeServices``)."""
        return NodeSettings(
            outbound_guard=self.outbound_guard,
            outbound_allowlist=self.outbound_allowlist,
            max_recorded_body_bytes=self.max_recorded_body_bytes,
            sendgrid_base_url=self.sendgrid_base_url,
            email_default_from=self.email_default_from,
            connections_parameter_prefix=self.connections_parameter_prefix,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
