"""Delivers a schedule's firing to its target, as EventBridge Scheduler does, in this process.

Targets (the ``Target`` of ``CreateSchedule``):

- a universal target ``arn:aws:scheduler:::aws-sdk:<service>:<action>`` (e.g. ``sfn:startExecution``):
  the ``Input`` is the JSON of the action's request, with the API's own (PascalCase) names, and
  the action is called on moto. Step Functions' ``ExecutionAlreadyExists`` counts as delivered:
  the run was started already (by the sweeper, or an earlier firing), which is what was asked.
- a Lambda function ARN: the local function is invoked with the ``Input``. (AWS invokes it
  asynchronously and Lambda retries a failing function twice; here the invocation is synchronous
  in a delivery thread, and a function that fails counts as a failed delivery, retried below.)
- a state machine ARN: an execution is started with the ``Input`` (named by the firing's
  execution id: moto gives every unnamed execution the same ARN).
- an SQS queue ARN: the ``Input`` is sent as a message.

Before each attempt, the context attributes ``<aws.scheduler.scheduled-time>``,
``<aws.scheduler.execution-id>``, ``<aws.scheduler.attempt-number>`` and
``<aws.scheduler.schedule-arn>`` in the ``Input`` are replaced with their values.

A failed attempt is retried per the target's ``RetryPolicy``, scaled down (at most
``max_retries`` retries, ``retry_delay`` doubling: seconds, not AWS's minutes); an error that
retrying cannot mend (a missing resource, a bad request) is not retried. Then, if the target has
a ``DeadLetterConfig``, the event goes to that SQS queue in moto, with the attributes AWS gives
a dead-letter event; without one (or should that fail too) it is logged as an error. Every
failure is also kept in ``failures`` (the latest ones), which ``GET /_local/scheduler`` shows.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC
from typing import Any

import boto3
from botocore import xform_name
from botocore.exceptions import ClientError, ParamValidationError

from automations.observability import logger
from devstack.scheduler import Firing

UNIVERSAL_PREFIX = "arn:aws:scheduler:::aws-sdk:"
# A universal target names the service as in IAM; boto3 names some otherwise.
_SDK_CLIENT_NAMES = {"sfn": "stepfunctions"}
# Codes that mean the target already did what the firing asks.
_ALREADY_DONE = frozenset({"ExecutionAlreadyExists"})
_THROTTLED = frozenset({"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"})
KEPT_FAILURES = 100


class TargetFailed(Exception):
    """One attempt failed; ``retryable`` says whether another could succeed."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.retryable = code, message, retryable


@dataclass
class RetryLimits:
    """The local scale of a RetryPolicy: a few quick retries instead of up to 185 over a day."""

    max_retries: int = 2
    retry_delay: float = 0.2  # seconds before the first retry; doubles


def scheduled_time(firing: Firing) -> str:
    """``<aws.scheduler.scheduled-time>``: the occurrence, ISO 8601 in UTC to the second."""
    return firing.occurrence.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_context(text: str, firing: Firing, attempt: int) -> str:
    """The Input with EventBridge Scheduler's context attributes replaced."""
    values = {
        "<aws.scheduler.scheduled-time>": scheduled_time(firing),
        "<aws.scheduler.execution-id>": firing.execution_id,
        "<aws.scheduler.attempt-number>": str(attempt),
        "<aws.scheduler.schedule-arn>": firing.schedule.arn,
    }
    for name, value in values.items():
        text = text.replace(name, value)
    return text


class Deliverer:
    """Calls targets on moto in-process (the stack's boto3 clients never leave the process)."""

    def __init__(self, limits: RetryLimits | None = None) -> None:
        self.limits = limits or RetryLimits()
        self.failures: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEPT_FAILURES)
        self.delivered = 0
        self._session = boto3.session.Session()
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, firing: Firing) -> str:
        """Deliver, retrying; answers ``delivered``, ``dead-lettered`` or ``lost`` (logged)."""
        target = firing.schedule.target
        retries = min(int((target.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)), self.limits.max_retries)
        attempt = 0
        while True:
            attempt += 1
            payload = with_context(target.get("Input") or "{}", firing, attempt)
            try:
                self._invoke(target["Arn"], payload, firing)
            except TargetFailed as failure:
                logger.warning(
                    "a schedule's target failed",
                    extra={"schedule": firing.schedule.arn, "attempt": attempt, "error": str(failure)},
                )
                if failure.retryable and attempt <= retries:
                    time.sleep(self.limits.retry_delay * 2 ** (attempt - 1))
                    continue
                return self._dead_letter(firing, payload, failure, attempt)
            with self._lock:
                self.delivered += 1
            return "delivered"

    # --- targets -----------------------------------------------------------------------------

    def _client(self, service: str) -> Any:
        with self._lock:
            if service not in self._clients:
                self._clients[service] = self._session.client(service)
            return self._clients[service]

    def _invoke(self, arn: str, payload: str, firing: Firing) -> None:
        try:
            if arn.startswith(UNIVERSAL_PREFIX):
                self._universal(arn, payload)
            elif ":lambda:" in arn and ":function:" in arn:
                self._lambda(arn, payload)
            elif ":states:" in arn and ":stateMachine:" in arn:
                client = self._client("stepfunctions")
                client.start_execution(stateMachineArn=arn, name=firing.execution_id, input=payload)
            elif ":sqs:" in arn:
                sqs = self._client("sqs")
                sqs.send_message(QueueUrl=self._queue_url(arn), MessageBody=payload)
            else:
                raise TargetFailed("ValidationException", f"the local stack does not deliver to {arn}", retryable=False)
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "ClientError")
            if code in _ALREADY_DONE:
                return
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            message = error.response.get("Error", {}).get("Message", str(error))
            raise TargetFailed(code, message, retryable=status >= 500 or code in _THROTTLED) from error
        except (ParamValidationError, ValueError) as error:
            raise TargetFailed("ValidationException", str(error), retryable=False) from error

    def _universal(self, arn: str, payload: str) -> None:
        """``aws-sdk:<service>:<action>`` with the request's PascalCase names, through boto3."""
        service, action = arn.removeprefix(UNIVERSAL_PREFIX).split(":", 1)
        client = self._client(_SDK_CLIENT_NAMES.get(service, service))
        operation = action[:1].upper() + action[1:]
        shape = client.meta.service_model.operation_model(operation).input_shape
        names: dict[str, str] = {name.lower(): name for name in (shape.members if shape is not None else {})}
        request = json.loads(payload)
        if not isinstance(request, dict):
            raise ValueError(f"the Input of a universal target is the JSON object of {operation}'s request")
        parameters = {names.get(str(key).lower(), str(key)): value for key, value in request.items()}
        getattr(client, xform_name(operation))(**parameters)

    def _lambda(self, arn: str, payload: str) -> None:
        answer = self._client("lambda").invoke(FunctionName=arn, InvocationType="RequestResponse", Payload=payload)
        if answer.get("FunctionError"):
            error = json.loads(answer["Payload"].read() or b"{}")
            raise TargetFailed(
                str(error.get("errorType", "Lambda.FunctionError")), str(error.get("errorMessage", "")), retryable=True
            )

    def _queue_url(self, queue_arn: str) -> str:
        *_, account, name = queue_arn.split(":")
        return str(self._client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])

    # --- when it cannot be delivered ---------------------------------------------------------------

    def _dead_letter(self, firing: Firing, payload: str, failure: TargetFailed, attempts: int) -> str:
        target = firing.schedule.target
        queue = (target.get("DeadLetterConfig") or {}).get("Arn")
        record = {
            "schedule": firing.schedule.arn,
            "scheduledTime": scheduled_time(firing),
            "executionId": firing.execution_id,
            "target": target.get("Arn"),
            "attempts": attempts,
            "error": {"type": failure.code, "message": failure.message},
            "deadLetterQueue": queue,
        }
        outcome = "lost"
        if queue:
            try:
                attributes = _dead_letter_attributes(record)
                self._client("sqs").send_message(
                    QueueUrl=self._queue_url(queue), MessageBody=payload, MessageAttributes=attributes
                )
                outcome = "dead-lettered"
            except (ClientError, ValueError) as error:
                record["deadLetterError"] = str(error)
        record["outcome"] = outcome
        with self._lock:
            self.failures.append(record)
        logger.error(
            "a schedule's firing was not delivered" + (" (sent to its dead-letter queue)" if queue else ""),
            extra=record,
        )
        return outcome


def _dead_letter_attributes(record: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The message attributes of EventBridge Scheduler's dead-letter events."""
    values = {
        "ERROR_CODE": record["error"]["type"],
        "ERROR_MESSAGE": record["error"]["message"][:1000] or "-",
        "EXECUTION_ID": record["executionId"],
        "SCHEDULE_ARN": record["schedule"],
        "SCHEDULED_TIME": record["scheduledTime"],
        "TARGET_ARN": record["target"],
    }
    attributes = {name: {"DataType": "String", "StringValue": str(value)} for name, value in values.items()}
    attributes["RETRY_ATTEMPTS"] = {"DataType": "Number", "StringValue": str(record["attempts"] - 1)}
    return attributes
