"""Every error the engine raises on purpose, how each one surfaces, and how it is retried.

One place maps errors to the outside world:
- API errors carry the HTTP status the REST resolver answers with
  (``{"error": {"type": <class name>, "message": ...}}``).
- Node errors are raised by node Lambdas; Step Functions names the error after the
  exception class, so ``ErrorEquals: ["TransientError"]`` in the ASL matches
  ``class TransientError`` here. ``retryable`` says whether a Retry block exists for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class AutomationError(Exception):
    """Base of every deliberate error. ``type`` is the public name (the class name)."""

    http_status: int = 500
    retryable: bool = False

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    @property
    def type(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


# --- API errors -------------------------------------------------------------------


class BadRequest(AutomationError):
    http_status = 400


class MalformedJson(BadRequest):
    pass


class UnknownQueryParameter(BadRequest):
    pass


class InvalidCursor(BadRequest):
    pass


class JsonTooDeep(BadRequest):
    """Objects and arrays nested deeper than DynamoDB could store (see ``domain.json_body``)."""


class NumberOutOfRange(BadRequest):
    """A number DynamoDB cannot store exactly (over 38 digits, or beyond 1e125 / below 1e-130)."""


class Unauthorized(AutomationError):
    http_status = 401


class InvalidSignature(Unauthorized):
    pass


class NotFound(AutomationError):
    http_status = 404


class MethodNotAllowed(AutomationError):
    http_status = 405


class Conflict(AutomationError):
    http_status = 409


class SignatureReplayed(Conflict):
    """A webhook signature that was accepted once already (a replayed request)."""


class PayloadTooLarge(AutomationError):
    http_status = 413


class UnsupportedMediaType(AutomationError):
    """A JSON route was sent a body of another content type."""

    http_status = 415


class ValidationFailed(AutomationError):
    """The request is well-formed JSON but its content is not acceptable."""

    http_status = 422


class FlowValidationError(ValidationFailed):
    """A flow definition breaks a rule; ``details`` name the node and field."""


class IdempotencyKeyReused(ValidationFailed):
    """An ``Idempotency-Key`` sent again with another request body: nothing is recorded."""


# --- Node errors (Step Functions error names) ----------------------------------------


class NodeError(AutomationError):
    """Raised by a node; the class name is the Step Functions error name."""


class TransientError(NodeError):
    """Network error, timeout, 408 or 5xx: worth another attempt after a backoff."""

    retryable = True


class RateLimited(NodeError):
    """429 from the target: retried by its own, slower retrier."""

    retryable = True

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(NodeError):
    """Retrying will not help: the cause must be fixed first."""


class MissingVariable(PermanentError):
    """A placeholder path does not resolve (a typo, or a deleted custom field)."""

    def __init__(self, path: str, message: str | None = None) -> None:
        super().__init__(message or f"variable '{path}' does not resolve")
        self.path = path


class ConfigurationError(PermanentError):
    """The node's configuration cannot work (bad URL, bad expression result, ...)."""


class AuthenticationError(PermanentError):
    """401/403 from the target: a key or token was rotated or revoked."""


class ExternalApiError(PermanentError):
    """Any other 4xx from the target: read the response body for the cause."""


class EmptyOutput(PermanentError):
    """The node declared ``failOnEmptyOutput`` and produced nothing."""


class OutputTruncated(PermanentError):
    """A placeholder or expression reads part of an earlier step's output that was too large to
    record whole (``domain.item_budget``) and was recorded truncated: never a partial value."""


class Expired(PermanentError):
    """A time-sensitive run reached its deadline before it could run."""


NODE_ERRORS: tuple[type[NodeError], ...] = (
    TransientError,
    RateLimited,
    MissingVariable,
    ConfigurationError,
    AuthenticationError,
    ExternalApiError,
    EmptyOutput,
    OutputTruncated,
    Expired,
)


# --- Retry profiles (the Retry blocks of the deployed ASL) -------------------------------
#
# The deployed ASL (statemachine/flow_interpreter.asl.json) carries these as Retry blocks; a
# test reads the ASL and checks each block equals its profile here, and that every error name
# the ASL mentions is one the code raises or a documented Lambda/States error.
#
# Step Functions computes the ceiling of wait n (from 1) as IntervalSeconds * BackoffRate **
# (n - 1) capped at MaxDelaySeconds; with FULL jitter the actual wait is drawn uniformly
# between 0 and that ceiling, so a burst of failures does not retry in lockstep.

# Documented errors raised by the Lambda service or Step Functions itself.
LAMBDA_SERVICE_ERRORS = (
    "Lambda.ClientExecutionTimeoutException",
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
)
# An unhandled function error: the function timed out or ran out of memory. Step Functions names a
# function error after its payload's errorType: current runtimes answer a timeout with
# "Sandbox.Timedout"; a payload without one (older runtimes, out of memory) is "Lambda.Unknown".
# A process that died mid-invocation answers "Runtime.ExitError".
LAMBDA_UNHANDLED = ("Lambda.Unknown", "Sandbox.Timedout", "Runtime.ExitError")
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

    def first(self, retries: int) -> RetryProfile:
        """The same schedule, its first ``retries`` retries only."""
        return RetryProfile(
            self.error_equals, self.interval_seconds, self.backoff_rate, retries, self.max_delay_seconds, self.jitter
        )

    def after(self, retries: int) -> RetryProfile:
        """The same schedule from its retry ``retries + 1`` on: what is left once that many were made."""
        return RetryProfile(
            error_equals=self.error_equals,
            interval_seconds=int(self.interval_seconds * self.backoff_rate**retries),
            backoff_rate=self.backoff_rate,
            max_attempts=self.max_attempts - retries,
            max_delay_seconds=self.max_delay_seconds,
            jitter=self.jitter,
        )

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
    error_equals=(TransientError.__name__, *LAMBDA_SERVICE_ERRORS, *LAMBDA_UNHANDLED, TASK_TIMEOUT),
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


def retrier_for(error_name: str) -> RetryProfile | None:
    """The node retrier that retries this Step Functions error name, if any."""
    return next((profile for profile in NODE_RETRIERS if error_name in profile.error_equals), None)


# --- Express: retry what fits, hand off the rest ------------------------------------------
#
# An Express execution lives at most 5 minutes, and a retry schedule's later waits (1 min, 5 min)
# do not fit it. So on Express a node task retries only the first few waits that do (a transient
# error's first, at most 5 s; none of a 429's, which asks to slow down), and what a Standard
# retrier would retry beyond them is caught and handed off to the Standard machine (the HandOff
# state), which waits the schedule's next wait and runs the node in a Task state whose retriers
# go on with the schedule from there.
EXPRESS_RETRIES: dict[RetryProfile, int] = {TRANSIENT: 1, RATE_LIMITED: 0}
EXPRESS_RETRIERS = tuple(profile.first(n) for profile, n in EXPRESS_RETRIES.items() if n)
HANDED_OFF_ERRORS: tuple[str, ...] = tuple(dict.fromkeys(e for p in NODE_RETRIERS for e in p.error_equals))
# After Express's attempts and the hand-off's wait, the continued Task state retries what is left.
CONTINUED_RETRIERS = tuple(profile.after(n + 1) for profile, n in EXPRESS_RETRIES.items())


def hand_off_wait_ceiling(profile: RetryProfile) -> float:
    """The wait before the Standard execution's first attempt: the schedule's next one after Express's."""
    return profile.wait_ceilings()[EXPRESS_RETRIES[profile]]


# --- Catch blocks of node tasks ------------------------------------------------------------
#
# A node task's error that is a step failing (a node error, or retries of a Lambda or timeout
# error exhausted) goes to StepFailed: the run failed at that step, and the execution still
# succeeds (the engine did its job). Anything else is an engine defect (an unexpected exception
# in our code, a States.Runtime error): it goes to RecordEngineError and the execution fails,
# so alarms on engine errors never fire for a customer's 401.

STEP_FAILURES: tuple[str, ...] = (
    *(cls.__name__ for cls in NODE_ERRORS),
    *LAMBDA_SERVICE_ERRORS,
    *LAMBDA_UNHANDLED,
    TASK_TIMEOUT,
)


def node_catchers(step_failed: str, engine_error: str) -> list[dict[str, Any]]:
    """The Catch blocks every node task carries (the ASL is checked against them)."""
    return [
        {"ErrorEquals": list(STEP_FAILURES), "ResultPath": "$.error", "Next": step_failed},
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": engine_error},
    ]


def express_node_catchers(hand_off: str, step_failed: str, engine_error: str) -> list[dict[str, Any]]:
    """On Express, a node task's retryable failure hands off first; the rest as on Standard."""
    return [
        {"ErrorEquals": list(HANDED_OFF_ERRORS), "ResultPath": "$.error", "Next": hand_off},
        *node_catchers(step_failed, engine_error),
    ]
