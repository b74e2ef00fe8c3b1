"""One-time EventBridge Scheduler schedules that start run executions (implements ``ports.Schedules``).

Each is ``at(...)`` in UTC, named after the execution it starts, deleted by the scheduler once it
has fired, and targets Step Functions' StartExecution directly (the universal target) with the
execution's fixed name: a start the stream or the sweeper made already is refused, so a run
starts at most once however often it is delivered. Failed firings are retried for a day, then
dead-lettered; the sweeper starts such runs anyway.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from automations.adapters.clients import LazyClient
from automations.adapters.stepfunctions import state_machines
from automations.domain import clock
from automations.domain.runs import Machine
from automations.settings import get_settings

START_EXECUTION_TARGET = "arn:aws:scheduler:::aws-sdk:sfn:startExecution"


def at_expression(iso: str) -> str:
    """``at(yyyy-mm-ddThh:mm:ss)``: whole seconds, rounded up so it never fires early."""
    moment = clock.parse_iso(iso)
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


class EventBridgeSchedules:
    def __init__(
        self,
        client: Any,
        *,
        group: str,
        state_machine_for: Callable[[Machine], str],
        role_arn: str,
        dead_letter_arn: str | None,
    ) -> None:
        self.client = client
        self.group = group
        self.state_machine_for = state_machine_for
        self.role_arn = role_arn
        self.dead_letter_arn = dead_letter_arn

    def _request(self, name: str, run_id: str, at: str, machine: Machine) -> dict[str, Any]:
        start = {
            "StateMachineArn": self.state_machine_for(machine),
            "Name": name,
            "Input": json.dumps({"runId": run_id}),
        }
        target: dict[str, Any] = {
            "Arn": START_EXECUTION_TARGET,
            "RoleArn": self.role_arn,
            "Input": json.dumps(start),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 86_400, "MaximumRetryAttempts": 185},
        }
        if self.dead_letter_arn:
            target["DeadLetterConfig"] = {"Arn": self.dead_letter_arn}
        return {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": at_expression(at),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Target": target,
        }

    def start_at(self, *, name: str, run_id: str, at: str, machine: Machine) -> None:
        request = self._request(name, run_id, at, machine)
        try:
            self.client.create_schedule(**request)
        except self.client.exceptions.ConflictException:  # a redelivered record, or a moved time
            self.client.update_schedule(**request)

    def delete(self, *, name: str) -> bool:
        try:
            self.client.delete_schedule(Name=name, GroupName=self.group)
        except self.client.exceptions.ResourceNotFoundException:
            return False
        return True


@lru_cache(maxsize=1)
def get_schedules() -> EventBridgeSchedules:
    settings = get_settings()
    if not (settings.state_machine_arn and settings.schedule_group and settings.scheduler_role_arn):
        raise RuntimeError("STATE_MACHINE_ARN, SCHEDULE_GROUP and SCHEDULER_ROLE_ARN are needed to schedule runs")
    return EventBridgeSchedules(
        LazyClient("scheduler"),  # made on the first call: most stream records schedule nothing
        group=settings.schedule_group,
        state_machine_for=state_machines(settings),
        role_arn=settings.scheduler_role_arn,
        dead_letter_arn=settings.scheduler_dead_letter_arn,
    )
