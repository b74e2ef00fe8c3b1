"""Starting workflow executions: the interface logic uses, and its Step Functions implementation."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Protocol

import boto3

from automations.settings import get_settings


class WorkflowEngine(Protocol):
    def start(self, run_id: str) -> bool:
        """Start the run's execution; False if it was started before (idempotent on the run id)."""
        ...


class StepFunctionsEngine:
    def __init__(self, client: Any, state_machine_arn: str) -> None:
        self.client = client
        self.state_machine_arn = state_machine_arn

    def start(self, run_id: str) -> bool:
        # The execution name is the run id: a redelivered stream record cannot start a second one.
        try:
            self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=run_id, input=json.dumps({"runId": run_id})
            )
        except self.client.exceptions.ExecutionAlreadyExists:
            return False
        return True


@lru_cache(maxsize=1)
def get_engine() -> StepFunctionsEngine:
    settings = get_settings()
    if not settings.state_machine_arn:
        raise RuntimeError("STATE_MACHINE_ARN is not set for this function")
    return StepFunctionsEngine(boto3.client("stepfunctions"), settings.state_machine_arn)
