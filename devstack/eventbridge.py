"""The local stack's EventBridge: Step Functions' status-change events to the template's rules.

moto's Step Functions emits no events, and moto's EventBridge does not deliver to Lambda targets
(``put_events`` handles log groups, queues, buses and HTTP only), so this module stands in for
the default event bus, for the events AWS services put on it by themselves:

- ``status_change_event`` builds the "Step Functions Execution Status Change" event AWS emits for
  a Standard execution (RUNNING when it starts, then SUCCEEDED, FAILED, TIMED_OUT or ABORTED);
  ``moto_patches.execution_status_changes_go_to`` hands every one to ``EventBus.put``.
- ``rule_targets`` reads the rules from ``template.yaml``: every function's SAM ``EventBridgeRule``
  event (its ``Pattern``, ``RetryPolicy`` and ``DeadLetterConfig``) and the function's
  ``EventInvokeConfig`` (Lambda's retries of an asynchronous invocation, its ``OnFailure`` queue).
  What the local stack does not implement (another bus, input transformation, a pattern feature
  ``event_patterns`` lacks) fails the stack at start.
- ``EventBus`` delivers on one thread of its own, in the order events were put: ``put`` only
  queues (it never blocks the execution's worker thread). Each event goes to every rule whose
  pattern matches (``event_patterns``), by invoking the function through moto's Lambda (so the
  function runs in-process, faults armed on ``/_local/faults`` included).

As on AWS, two kinds of failure are told apart, each retried as its service does (at the local
scale of ``RetryLimits``: fractions of a second, a few retries):

- EventBridge could not hand the event to Lambda (a service error, throttling; a missing function
  is not retried): retried per the rule's ``RetryPolicy``, then sent to its ``DeadLetterConfig``
  queue with EventBridge's attributes (``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ...);
- the function ran and failed (raised, timed out): Lambda's asynchronous retries
  (``EventInvokeConfig.MaximumRetryAttempts``, default 2), then the ``OnFailure`` queue with
  Lambda's invocation record.

Nothing is dropped silently: what could not go anywhere is logged as an error, and every failure
is kept (the latest ones) for ``GET /_local/events``. Events still queued when the stack stops are
logged; the restart's recovery reports the runs they concern as interrupted anyway.
"""

from __future__ import annotations

import collections
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from automations.observability import logger
from devstack import event_patterns
from devstack.schedule_targets import RetryLimits
from devstack.template import Resolver, eventbridge_rules

SOURCE = "aws.states"
DETAIL_TYPE = "Step Functions Execution Status Change"
# Step Functions leaves the input (and then the output) out of an event above this size.
PAYLOAD_LIMIT = 248 * 1024
KEPT_FAILURES = 100
# Codes that retrying cannot mend (EventBridge sends these to the dead-letter queue at once).
_NOT_RETRYABLE = frozenset({"ResourceNotFoundException", "AccessDeniedException", "InvalidParameterValueException"})
# Lambda's default for asynchronous invocations (a function without EventInvokeConfig).
DEFAULT_ASYNC_RETRIES = 2


# --- the events -------------------------------------------------------------------------------------


def _epoch_millis(moment: datetime | None) -> int | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def status_change_event(execution: Any) -> dict[str, Any]:
    """The event AWS puts on the default bus for this moto execution's current status."""
    status = str(getattr(execution.exec_status, "value", execution.exec_status))
    raw_input = execution.execution_input
    output = execution.output if status == "SUCCEEDED" else None
    if output is not None and not isinstance(output, str):
        output = json.dumps(output, separators=(",", ":"))
    input_included = output_included = True
    if output is not None and len(output) > PAYLOAD_LIMIT:
        output, output_included = None, False
    if raw_input is not None and len(raw_input) + len(output or "") > PAYLOAD_LIMIT:
        raw_input, input_included = None, False
    moment = execution.stop_date or execution.start_date
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": DETAIL_TYPE,
        "source": SOURCE,
        "account": execution.account_id,
        "time": moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": execution.region_name,
        "resources": [execution.exec_arn],
        "detail": {
            "executionArn": execution.exec_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": status,
            "startDate": _epoch_millis(execution.start_date),
            "stopDate": _epoch_millis(execution.stop_date),
            "input": raw_input,
            "inputDetails": {"included": input_included},
            "output": output,
            "outputDetails": {"included": output_included} if status == "SUCCEEDED" else None,
            "error": execution.error,
            "cause": execution.cause,
        },
    }


# --- the rules ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleTarget:
    """One rule of the template and its Lambda target, resolved."""

    rule_name: str
    rule_arn: str
    function: str  # the logical id
    function_arn: str
    pattern: dict[str, Any]
    retries: int  # RetryPolicy.MaximumRetryAttempts: EventBridge's, for events it could not hand over
    dead_letter_arn: str | None
    async_retries: int  # EventInvokeConfig.MaximumRetryAttempts: Lambda's, for a function that failed
    on_failure_arn: str | None


# SAM EventBridgeRule properties the local stack reads; any other one fails the start.
_UNDERSTOOD = frozenset({"Pattern", "RetryPolicy", "DeadLetterConfig", "RuleName", "State", "Target", "EventBusName"})


def rule_targets(
    template: dict[str, Any], resolver: Resolver, function_arns: dict[str, str], *, account: str, region: str
) -> list[RuleTarget]:
    """Every enabled ``EventBridgeRule`` event of the template's functions, resolved and checked."""
    targets = []
    for (function, event), unresolved in eventbridge_rules(template).items():
        where = f"{function}.{event}"
        props = resolver.resolve(unresolved)
        unknown = sorted(set(props) - _UNDERSTOOD)
        if unknown:  # Input, InputPath, InputTransformer, ...
            raise NotImplementedError(f"{where}: the local stack's EventBridge does not implement {unknown}")
        if props.get("EventBusName", "default") != "default":
            raise NotImplementedError(f"{where}: the local stack has the default event bus only")
        if props.get("State", "ENABLED") != "ENABLED":
            continue
        event_patterns.check(props["Pattern"])
        dead_letter = props.get("DeadLetterConfig") or {}
        if dead_letter and "Arn" not in dead_letter:
            raise NotImplementedError(f"{where}: the local stack takes a DeadLetterConfig Arn only")
        spec = template["Resources"][function]["Properties"]
        invoke_config = resolver.resolve(spec.get("EventInvokeConfig") or {})
        on_failure = ((invoke_config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if on_failure is not None and ":sqs:" not in on_failure:
            raise NotImplementedError(f"{function}: the local stack sends OnFailure records to SQS queues only")
        # SAM's default rule name is CloudFormation's: <stack>-<Function><Event>-<suffix>
        name = props.get("RuleName") or f"{function}{event}"
        targets.append(
            RuleTarget(
                rule_name=name,
                rule_arn=f"arn:aws:events:{region}:{account}:rule/{name}",
                function=function,
                function_arn=function_arns[function],
                pattern=props["Pattern"],
                retries=int((props.get("RetryPolicy") or {}).get("MaximumRetryAttempts", 185)),
                dead_letter_arn=dead_letter.get("Arn"),
                async_retries=int(invoke_config.get("MaximumRetryAttempts", DEFAULT_ASYNC_RETRIES)),
                on_failure_arn=on_failure,
            )
        )
    return targets


# --- the bus ---------------------------------------------------------------------------------------------


class _FunctionFailed(Exception):
    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


class EventBus:
    """The default event bus: ``put`` queues, one thread delivers to the matching rules' targets."""

    def __init__(self, limits: RetryLimits | None = None) -> None:
        self.limits = limits or RetryLimits()
        self.targets: list[RuleTarget] = []
        self.put_count = 0
        self.matched = 0
        self.delivered = 0
        self.failures: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEPT_FAILURES)
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._draining = threading.Event()
        self._thread: threading.Thread | None = None
        self._clients: dict[str, Any] = {}

    def route(self, targets: list[RuleTarget]) -> None:
        self.targets = list(targets)

    def put(self, event: dict[str, Any]) -> None:
        """Queue an event; never blocks (the caller may be an execution's worker thread)."""
        with self._lock:
            self.put_count += 1
        self._queue.put(event)  # a SimpleQueue has no bound: this never waits

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="eventbridge", daemon=True)
        self._thread.start()

    def begin_stop(self) -> None:
        """Deliver what is queued, then end; without waiting (``stop`` waits)."""
        self._draining.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (until the queue is empty, for up to ``timeout`` seconds); log what is left."""
        self._draining.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._stop.set()  # a delivery still running ends the thread after it; its event is not in the queue
        left = []
        while True:
            try:
                left.append(self._queue.get_nowait())
            except queue.Empty:
                break
        for event in left:
            if any(event_patterns.matches(t.pattern, event) for t in self.targets):
                logger.error(
                    "an event was not delivered before the local stack stopped",
                    extra={"resources": event.get("resources"), "detail-type": event.get("detail-type")},
                )

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rules": [
                    {"name": t.rule_name, "function": t.function, "pattern": t.pattern, "deadLetter": t.dead_letter_arn}
                    for t in self.targets
                ],
                "put": self.put_count,
                "matched": self.matched,
                "delivered": self.delivered,
                "pending": self._queue.qsize(),
                "failures": list(self.failures),
            }

    # --- delivery ------------------------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._queue.get(timeout=0.2)
            except queue.Empty:
                if self._draining.is_set():
                    return
                continue
            for target in self.targets:
                if event_patterns.matches(target.pattern, event):
                    with self._lock:
                        self.matched += 1
                    try:
                        self._deliver(target, event)
                    except Exception:  # the bus outlives any one delivery; the event is logged with the cause
                        logger.exception("an event could not be delivered", extra=self._about(target, event))
                        self._keep_failure(target, event, "LocalDeliveryError", "see the log", "lost")

    def _deliver(self, target: RuleTarget, event: dict[str, Any]) -> None:
        """EventBridge hands the event to Lambda (retrying what it could not hand over); Lambda runs
        the function (retrying a function that failed)."""
        handed_over_tries = function_tries = 0
        while True:
            try:
                self._invoke(target, event)
            except ClientError as error:
                handed_over_tries += 1
                code = error.response.get("Error", {}).get("Code", "ClientError")
                message = error.response.get("Error", {}).get("Message", str(error))
                retries = min(target.retries, self.limits.max_retries)
                if code not in _NOT_RETRYABLE and handed_over_tries <= retries:
                    self._pause(handed_over_tries)
                    continue
                exhausted = "MaximumRetryAttempts" if code not in _NOT_RETRYABLE else None
                self._dead_letter(target, event, code, message, handed_over_tries - 1, exhausted)
                return
            except _FunctionFailed as failure:
                function_tries += 1
                if function_tries <= target.async_retries:
                    self._pause(function_tries)
                    continue
                self._on_failure(target, event, failure.payload, function_tries)
                return
            with self._lock:
                self.delivered += 1
            return

    def _pause(self, attempt: int) -> None:
        time.sleep(self.limits.retry_delay * 2 ** (attempt - 1))

    def _client(self, service: str) -> Any:
        if service not in self._clients:  # only the bus thread calls: no lock needed
            config = Config(retries={"max_attempts": 1})  # the retries are EventBridge's and Lambda's, below
            self._clients[service] = boto3.session.Session().client(service, config=config)
        return self._clients[service]

    def _invoke(self, target: RuleTarget, event: dict[str, Any]) -> None:
        answer = self._client("lambda").invoke(
            FunctionName=target.function_arn, InvocationType="RequestResponse", Payload=json.dumps(event).encode()
        )
        if answer.get("FunctionError"):
            raise _FunctionFailed(json.loads(answer["Payload"].read() or b"{}"))

    def _queue_url(self, queue_arn: str) -> str:
        *_, account, name = queue_arn.split(":")
        return str(self._client("sqs").get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])

    # --- what could not be delivered --------------------------------------------------------------------------

    def _dead_letter(
        self, target: RuleTarget, event: dict[str, Any], code: str, message: str, retries: int, exhausted: str | None
    ) -> None:
        """EventBridge's dead-letter queue: the event, with attributes saying why."""
        values = {
            "RULE_ARN": target.rule_arn,
            "TARGET_ARN": target.function_arn,
            "ERROR_CODE": code,
            "ERROR_MESSAGE": message[:1000] or "-",
        }
        if exhausted:
            values["EXHAUSTED_RETRY_CONDITION"] = exhausted
        attributes = {name: {"DataType": "String", "StringValue": value} for name, value in values.items()}
        attributes["RETRY_ATTEMPTS"] = {"DataType": "Number", "StringValue": str(retries)}
        self._send_failed(target, event, target.dead_letter_arn, json.dumps(event), attributes, code, message)

    def _on_failure(self, target: RuleTarget, event: dict[str, Any], payload: dict[str, Any], tries: int) -> None:
        """Lambda's on-failure destination: its record of the asynchronous invocation."""
        record = {
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "requestContext": {
                "requestId": str(uuid.uuid4()),
                "functionArn": f"{target.function_arn}:$LATEST",
                "condition": "RetriesExhausted",
                "approximateInvokeCount": tries,
            },
            "requestPayload": event,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "responsePayload": payload,
        }
        code = str(payload.get("errorType", "Lambda.FunctionError"))
        message = str(payload.get("errorMessage", ""))
        self._send_failed(target, event, target.on_failure_arn, json.dumps(record), None, code, message)

    def _send_failed(
        self,
        target: RuleTarget,
        event: dict[str, Any],
        queue_arn: str | None,
        body: str,
        attributes: dict[str, Any] | None,
        code: str,
        message: str,
    ) -> None:
        outcome = "lost"
        if queue_arn:
            try:
                request: dict[str, Any] = {"QueueUrl": self._queue_url(queue_arn), "MessageBody": body}
                if attributes:
                    request["MessageAttributes"] = attributes
                self._client("sqs").send_message(**request)
                outcome = "queued"
            except ClientError as error:
                message = f"{message} (and the queue refused it: {error})"
        self._keep_failure(target, event, code, message, outcome, queue_arn)
        logger.error(
            "an event was not handled"
            + (f" (sent to {queue_arn})" if outcome == "queued" else " and is lost (no queue took it)"),
            extra={**self._about(target, event), "error": {"type": code, "message": message}},
        )

    def _keep_failure(
        self, target: RuleTarget, event: dict[str, Any], code: str, message: str, outcome: str, queue: str | None = None
    ) -> None:
        with self._lock:
            self.failures.append(
                {**self._about(target, event), "error": {"type": code, "message": message}, "outcome": outcome}
                | ({"queue": queue} if queue else {})
            )

    @staticmethod
    def _about(target: RuleTarget, event: dict[str, Any]) -> dict[str, Any]:
        return {
            "rule": target.rule_arn,
            "function": target.function,
            "id": event.get("id"),
            "resources": event.get("resources"),
            "status": (event.get("detail") or {}).get("status"),
        }
