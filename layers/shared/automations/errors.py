"""Every error the engine raises on purpose, and how each one surfaces.

One place maps errors to the outside world:
- API errors carry the HTTP status the REST resolver answers with
  (``{"error": {"type": <class name>, "message": ...}}``).
- Node errors are raised by node Lambdas; Step Functions names the error after the
  exception class, so ``ErrorEquals: ["TransientError"]`` in the ASL matches
  ``class TransientError`` here. ``retryable`` says whether a Retry block exists for it.
"""

from __future__ import annotations

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


class InvalidCursor(BadRequest):
    pass


class Unauthorized(AutomationError):
    http_status = 401


class InvalidSignature(Unauthorized):
    pass


class NotFound(AutomationError):
    http_status = 404


class Conflict(AutomationError):
    http_status = 409


class PayloadTooLarge(AutomationError):
    http_status = 413


class ValidationFailed(AutomationError):
    """The request is well-formed JSON but its content is not acceptable."""

    http_status = 422


class FlowValidationError(ValidationFailed):
    """A flow definition breaks a rule; ``details`` name the node and field."""


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
    Expired,
)
