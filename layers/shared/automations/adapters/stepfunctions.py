"""Executions of the flow interpreter on Step Functions (implements ``ports.Workflows``)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from automations.adapters.clients import LazyClient
from automations.ports import ExecutionStart
from automations.settings import get_settings


class StepFunctionsWorkflows:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def execution_arn(self, name: str) -> str:
        """Deterministic: the state machine's ARN with ``execution`` and the name."""
        return self.state_machine_arn.replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def start(self, *, name: str, run_id: str) -> ExecutionStart:
        # Only ids travel: the interpreter reads the run (and which node this execution starts at)
        # from the table. A redelivered start of the same name is refused by Step Functions.
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps({"runId": run_id})
            )
        except self.client.exceptions.ExecutionAlreadyExists:
            return ExecutionStart(arn=self.execution_arn(name), started=False)
        return ExecutionStart(arn=response["executionArn"], started=True)

    def stop(self, *, name: str, cause: str) -> bool:
        if self.status(name=name) != "RUNNING":
            return False
        self.client.stop_execution(executionArn=self.execution_arn(name), error="Stopped", cause=cause[:32_768])
        return True

    def status(self, *, name: str) -> str | None:
        try:
            return str(self.client.describe_execution(executionArn=self.execution_arn(name))["status"])
        except self.client.exceptions.ExecutionDoesNotExist:
            return None


@lru_cache(maxsize=1)
def get_workflows() -> StepFunctionsWorkflows:
    settings = get_settings()
    if not settings.state_machine_arn:
        raise RuntimeError("STATE_MACHINE_ARN is not set for this function")
    # the client is made on its first call: most stream records and sweeper ticks start nothing
    return StepFunctionsWorkflows(LazyClient("stepfunctions"), settings.state_machine_arn)
