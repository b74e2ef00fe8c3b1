"""The few places where moto is bent to behave like AWS for the local stack.

Each patch is named after what it makes true (see ../shared/BRIEF.md section 5 for why
each is needed); all are applied once, before the moto server starts.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config

from devstack.functions import LocalFunction


def execute_state_machines() -> None:
    """moto only records executions unless told to interpret the ASL."""
    default_user_config["stepfunctions"]["execute_state_machine"] = True


def run_lambdas_in_process(functions_by_name: Callable[[str], LocalFunction | None]) -> None:
    """Task states and the Invoke API call the real handlers in this process (no Docker)."""

    def invoke(self: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
        function = functions_by_name(self.function_name)
        if function is None:
            return (
                f'{{"errorType": "ResourceNotFound", "errorMessage": "no local code for {self.function_name}"}}',
                True,
                "",
            )
        payload, errored = function.invoke_json(event if event is not None else {})
        return payload, errored, ""

    LambdaFunction._invoke_lambda = invoke  # type: ignore[method-assign]


class _ScaledTime:
    """``time`` as moto's retrier sees it, with sleeps multiplied by ``scale``."""

    def __init__(self, scale: float) -> None:
        self.scale = scale

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds * self.scale)


def scale_retry_waits(scale: float) -> None:
    """Retry waits really sleep; AUTOMATIONS_RETRY_WAIT_SCALE shrinks them (the ASL is unchanged)."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl

    retrier_decl.time = _ScaledTime(scale)  # type: ignore[assignment]


def wake_no_earlier_than_timestamps() -> None:
    """moto truncates a TimestampPath wait to whole seconds and wakes up to 1 s early; AWS never does.

    One more second makes a delay node wake at (or just after) its time, never before it.
    """
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp

    truncated = timestamp.Timestamp._get_wait_seconds

    def _get_wait_seconds(self: Any, env: Any) -> int:
        return int(truncated(self, env)) + 1

    timestamp.Timestamp._get_wait_seconds = _get_wait_seconds  # type: ignore[method-assign]


def reuse_interpreter_clients() -> None:
    """moto builds a boto3 client for every Task call; reusing them roughly doubles throughput."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    original = boto_client.boto_client_for

    @functools.lru_cache(maxsize=32)
    def cached(region: str, service: str) -> Any:
        return original(region=region, service=service)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        return cached(region, service)

    boto_client.boto_client_for = boto_client_for  # type: ignore[assignment]
    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[attr-defined]


def quiet_servers() -> None:
    """moto logs every failed execution at ERROR: for the engine a failed run is ordinary."""
    for name in ("werkzeug", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)
