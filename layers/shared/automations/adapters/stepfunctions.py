"""Executions of the flow interpreter on Step Functions (implements ``ports.Workflows``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from automations.adapters.clients import LazyClient
from automations.domain.runs import Machine, execution_arn
from automations.ports import ExecutionStart
from automations.settings import Settings, get_settings


def state_machines(settings: Settings) -> Callable[[Machine], str]:
    """The ARN to start an execution asked for on a machine: Express only where it is on."""
    if not settings.state_machine_arn:
        raise RuntimeError("STATE_MACHINE_ARN is not set for this function")
    standard, express = settings.state_machine_arn, settings.express_state_machine_arn
    use_express = settings.express_first and express is not None

    def arn_for(machine: Machine) -> str:
        return express if use_express and machine == Machine.EXPRESS and express else standard

    return arn_for


class StepFunctionsWorkflows:
    def __init__(self, client: Any, state_machine_for: Callable[[Machine], str]) -> None:
        self.client = client
        self.state_machine_for = state_machine_for

    def execution_arn(self, name: str) -> str:
        """A Standard execution's ARN is deterministic: its machine's with ``execution`` and the name."""
        return execution_arn(self.state_machine_for(Machine.STANDARD), name)

    def start(self, *, name: str, run_id: str, machine: Machine) -> ExecutionStart:
        # Only ids travel: the interpreter reads the run (and which node this execution starts at)
        # from the table. A redelivered start of the same name is refused by Standard; Express
        # starts it again, and that execution's StartRun finds the execution claimed and ends.
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_for(machine), name=name, input=json.dumps({"runId": run_id})
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
    # the client is made on its first call: most stream records and sweeper ticks start nothing
    return StepFunctionsWorkflows(LazyClient("stepfunctions"), state_machines(get_settings()))
