"""Retry profiles: the single statement of how each error class is retried.

The deployed ASL (``statemachine/flow_interpreter.asl.json``) carries these as Retry blocks;
a test reads the ASL and checks each block equals its profile here, and that every error
name the ASL mentions is one the code raises or a documented Lambda/States error.

Step Functions computes the ceiling of wait *n* (from 1) as
``IntervalSeconds * BackoffRate ** (n - 1)`` capped at ``MaxDelaySeconds``; with ``FULL``
jitter the actual wait is drawn uniformly between 0 and that ceiling, so a burst of
failures does not retry in lockstep.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automations.errors import RateLimited, TransientError

# Documented errors raised by the Lambda service or Step Functions itself.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# An unhandled function error: the function timed out or ran out of memory.
LAMBDA_UNHANDLED = "Lambda.Unknown"
TASK_TIMEOUT = "States.Timeout"


@dataclass(frozen=True)
class RetryProfile:
    error_equals: tuple[str, ...]
    interval_seconds: int
    backoff_rate: float
    max_attempts: int  # retries after the first attempt
    max_delay_seconds: int | None = None
    jitter: str = "FULL"

    def wait_ceilings(self) -> list[float]:
        """The maximum wait before each retry, in order."""
        ceilings = []
        for n in range(self.max_attempts):
            wait = self.interval_seconds * self.backoff_rate**n
            ceilings.append(min(wait, self.max_delay_seconds) if self.max_delay_seconds else wait)
        return ceilings

    def to_asl(self) -> dict[str, Any]:
        block: dict[str, Any] = {
            "ErrorEquals": list(self.error_equals),
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
        }
        if self.max_delay_seconds:
            block["MaxDelaySeconds"] = self.max_delay_seconds
        block["JitterStrategy"] = self.jitter
        return block


# Network errors, timeouts, 408/5xx, Lambda hiccups: ~5 s, ~1 min, ~5 min, ~5 min, then fail.
TRANSIENT = RetryProfile(
    error_equals=(TransientError.__name__, *LAMBDA_SERVICE_ERRORS, LAMBDA_UNHANDLED, TASK_TIMEOUT),
    interval_seconds=5,
    backoff_rate=12.0,
    max_attempts=4,
    max_delay_seconds=300,
)

# 429: slower and longer, since the target asked us to back off: ~30 s doubling to ~8 min.
RATE_LIMITED = RetryProfile(
    error_equals=(RateLimited.__name__,),
    interval_seconds=30,
    backoff_rate=2.0,
    max_attempts=5,
    max_delay_seconds=600,
)

# The engine's own bookkeeping tasks only retry Lambda service hiccups, quickly.
BOOKKEEPING = RetryProfile(
    error_equals=LAMBDA_SERVICE_ERRORS,
    interval_seconds=1,
    backoff_rate=2.0,
    max_attempts=5,
)

NODE_RETRIERS = (TRANSIENT, RATE_LIMITED)
