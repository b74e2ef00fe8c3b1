"""Environment variables, validated once per process into a typed settings object."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from automations.nodes.base import NodeSettings


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    table_name: str = Field(alias="TABLE_NAME", min_length=3)
    state_machine_arn: str | None = Field(default=None, alias="STATE_MACHINE_ARN")
    # EventBridge Scheduler: where the stream puts one-time schedules of runs due later
    schedule_group: str | None = Field(default=None, alias="SCHEDULE_GROUP")
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN")
    scheduler_dead_letter_arn: str | None = Field(default=None, alias="SCHEDULER_DEAD_LETTER_ARN")
    history_retention_days: int = Field(default=90, alias="HISTORY_RETENTION_DAYS", ge=1)
    webhook_tolerance_seconds: int = Field(default=300, alias="WEBHOOK_TOLERANCE_SECONDS", ge=1)
    # Deployed engines must not be turned against the VPC or the metadata endpoint;
    # the local stack allows loopback so flows can call services on the same machine.
    allow_private_targets: bool = Field(default=False, alias="ALLOW_PRIVATE_TARGETS")
    max_recorded_body_bytes: int = Field(default=16_384, alias="MAX_RECORDED_BODY_BYTES", ge=256)
    # send_email: SendGrid's v3 API (the local stack points this at its email sink)
    sendgrid_base_url: str = Field(default="https://api.sendgrid.com", alias="SENDGRID_BASE_URL")
    email_default_from: str = Field(default="no-reply@example.com", alias="EMAIL_DEFAULT_FROM")
    connections_parameter_prefix: str = Field(default="/automations/connections/", alias="CONNECTIONS_PARAMETER_PREFIX")

    def node_settings(self) -> NodeSettings:
        """What node executors may know of the deployment (see ``nodes.base.NodeServices``)."""
        return NodeSettings(
            allow_private_targets=self.allow_private_targets,
            max_recorded_body_bytes=self.max_recorded_body_bytes,
            sendgrid_base_url=self.sendgrid_base_url,
            email_default_from=self.email_default_from,
            connections_parameter_prefix=self.connections_parameter_prefix,
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate(dict(os.environ))
