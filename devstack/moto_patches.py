"""The few places where moto is bent to behave like AWS for the local stack.

Each patch is named after what it makes true (see ../shared/BRIEF.md section 5 for why
each is needed); all are applied once, before the moto server starts.
"""

from __future__ import annotations

import copy
import functools
import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from moto.awslambda.models import LambdaFunction
from moto.core.config import default_user_config
from moto.core.exceptions import JsonRESTError

from devstack import faults
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
        if faults.BOARD.take(fault="Lambda.ServiceException", function=function.name):
            raise _LambdaServiceError()
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


# The Wait state that is a retry's wait (a hand-off's backoff): scaled like the Retry blocks' waits.
RETRY_WAIT_PATH = "$.backoffSeconds"


def scale_retry_waits(scale: float) -> None:
    """Retry waits really sleep; AUTOMATIONS_RETRY_WAIT_SCALE shrinks them (the ASL is unchanged):
    the Retry blocks' waits, and the ``RetryBackoff`` Wait state's (``SecondsPath: $.backoffSeconds``).
    A Retry-After is the target's word and stays real time."""
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.seconds_path import SecondsPath

    retrier_decl.time = _ScaledTime(scale)  # type: ignore[assignment]
    wait_seconds = SecondsPath._get_wait_seconds

    def scaled(self: SecondsPath, env: Any) -> int:
        seconds = wait_seconds(self, env)
        return round(seconds * scale) if self.string_sampler.literal_value == RETRY_WAIT_PATH else seconds

    SecondsPath._get_wait_seconds = scaled  # type: ignore[method-assign]


# How often a Wait state waiting for a time looks at the local clock again (it may be advanced).
WAIT_SLICE_SECONDS = 0.2


def timestamp_waits_follow(now: Callable[[], datetime]) -> None:
    """A ``Timestamp``/``TimestampPath`` Wait ends when the local clock (``devstack.clock``) reaches
    its time: never before it, and as soon as the clock is advanced past it.

    moto turns the timestamp into whole seconds against the machine's clock once (waking up to a
    second early) and sleeps them. Here the wait reads the local clock again every fraction of a
    second, so a simulated day passes when the clock is moved, and a clock left alone still waits
    in real time. Like moto's own wait, it ends at once when the execution stops. ``Seconds`` and
    ``SecondsPath`` waits, and Retry waits, are left as they were: real time.
    """
    from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEventException
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp

    def _eval_body(self: Any, env: Any) -> None:
        self.string.eval(env=env)
        text = env.stack.pop()
        if self._from_timestamp_string(text) is None:  # moto's format check, and its States.Runtime failure
            raise FailureEventException(self._create_failure_event(env, text))
        wake_at = datetime.fromisoformat(text)
        while env.is_running():
            remaining = (wake_at - now()).total_seconds()
            if remaining <= 0:
                return
            env.program_state_event.wait(min(remaining, WAIT_SLICE_SECONDS))

    timestamp.Timestamp._eval_body = _eval_body  # type: ignore[method-assign]


# Held while an execution's status changes (its end reflected, or a stop): the two never interleave.
_EXECUTION_STATUS_LOCK = threading.Lock()
# Set on a moto execution that StopExecution aborted at once (its worker may still be running).
_ABORTED_AT_ONCE = "_local_aborted_at_once"


def execution_status_changes_go_to(emit: Callable[[Any], None]) -> None:
    """Step Functions reports every status change of a Standard execution on EventBridge (RUNNING,
    then SUCCEEDED, FAILED, TIMED_OUT or ABORTED); moto reports none. Here ``emit`` is given the
    execution when its worker starts and when it ends (``BaseExecutionWorkerCommunication.terminated``,
    which every end goes through), on the worker's thread: it must only queue (see
    ``devstack.eventbridge.EventBus.put``). Express executions emit nothing, as on AWS.
    """
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    def report(execution: Any) -> None:
        if getattr(execution, "sm_type", "STANDARD") == "EXPRESS":
            return
        try:
            emit(execution)
        except Exception:  # reporting must never break the execution it reports on
            logging.getLogger(__name__).exception("could not emit a status change of %s", execution.exec_arn)

    execution_logic = ExecutionWorker._execution_logic

    def _execution_logic(self: ExecutionWorker) -> None:
        execution = getattr(self._execution_communication, "execution", None)
        if execution is not None:
            report(execution)  # RUNNING: before anything of it runs, so it is queued before its end
        execution_logic(self)

    terminated = BaseExecutionWorkerCommunication.terminated

    def _terminated(self: BaseExecutionWorkerCommunication) -> None:
        with _EXECUTION_STATUS_LOCK:
            if getattr(self.execution, _ABORTED_AT_ONCE, False):
                return  # ABORTED already, with its stop date, and reported: the late end changes nothing
            terminated(self)
        report(self.execution)

    ExecutionWorker._execution_logic = _execution_logic  # type: ignore[method-assign]
    BaseExecutionWorkerCommunication.terminated = _terminated  # type: ignore[method-assign]


# How long StopExecution waits for an execution just started to have its environment.
_ENVIRONMENT_WAIT_SECONDS = 5.0


def stop_execution_aborts_at_once(emit: Callable[[Any], None]) -> None:
    """``StopExecution`` as on AWS: the execution is ABORTED at once, with its stop date and the
    ``error`` and ``cause`` given, whatever it was doing; ``DescribeExecution`` says so and the
    status-change event goes out (``emit``) right away.

    moto stops a Wait state at once, but an execution inside a Lambda task only when the handler
    returns (up to the function's timeout), keeps ``RUNNING`` until then, drops ``error`` and
    ``cause``, and answers no ``stopDate``. Here the execution's program is told to stop (as moto
    does: the worker ends as soon as its task returns, running no further state, and the task's
    late result is discarded) and its status is set at once; when the worker does end, it leaves
    that status alone. The abandoned task's handler still runs to its end, as a Lambda invocation
    on AWS does after its execution was stopped. An execution that has ended already is left as
    it is (the answer is its stop date).

    A stop is final: moto lets the task in flight fail the stopped execution when its error comes
    back (a timed-out Lambda: ``FAILED``, ``ExecutionFailed`` in the history); here a stopped
    program ignores a later failure or timeout, so it ends as it was stopped (``ExecutionAborted``).
    """
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.responses import StepFunctionResponse

    def stays_stopped(change: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(change)
        def unless_stopped(self: Environment, *args: Any, **kwargs: Any) -> None:
            with self._state_mutex:  # an RLock: the change takes it again
                if not isinstance(self._program_state, ProgramStopped):
                    change(self, *args, **kwargs)

        return unless_stopped

    Environment.set_error = stays_stopped(Environment.set_error)  # type: ignore[method-assign]
    Environment.set_timed_out = stays_stopped(Environment.set_timed_out)  # type: ignore[method-assign]

    def stop_execution(self: StepFunctionResponse) -> ActionResult:
        execution: Any = self.stepfunction_backend.describe_execution(self._get_param("executionArn"))  # the parser's
        error, cause = self._get_param("error"), self._get_param("cause")
        aborted = False
        worker = execution.exec_worker
        deadline = time.monotonic() + _ENVIRONMENT_WAIT_SECONDS
        while worker is not None and worker.env is None and time.monotonic() < deadline:  # started a moment ago
            time.sleep(0.01)
        with _EXECUTION_STATUS_LOCK:
            if execution.exec_status == ExecutionStatus.RUNNING and worker is not None:
                stop_date = datetime.now(UTC)
                if worker.env is not None:
                    worker.env.set_stop(stop_date=stop_date, cause=cause, error=error)
                    aborted = isinstance(worker.env.program_state(), ProgramStopped)  # not if it just ended
                if aborted:
                    execution.exec_status = ExecutionStatus.ABORTED
                    execution.stop_date = stop_date
                    execution.error, execution.cause = error, cause
                    setattr(execution, _ABORTED_AT_ONCE, True)
        if aborted and getattr(execution, "sm_type", "STANDARD") != "EXPRESS":
            try:
                emit(execution)
            except Exception:  # the stop itself happened; only its report is missing
                logging.getLogger(__name__).exception("could not emit the stop of %s", execution.exec_arn)
        return ActionResult({"stopDate": execution.stop_date})

    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]


def express_executions_as_on_aws() -> None:
    """Express executions as AWS runs them, where moto runs them as Standard ones:

    - a start is never deduplicated by name: every StartExecution is a new execution, and its ARN
      is ``arn:aws:states:<region>:<account>:express:<machine>:<name>:<id>`` (moto: the Standard
      form, and a second start of the name answers the first execution or ExecutionAlreadyExists);
    - the execution knows it is Express (moto records every machine's executions as STANDARD), so
      no status-change event goes out for it (``execution_status_changes_go_to``), as on AWS;
    - DescribeExecution and StopExecution refuse an Express execution's ARN (InvalidArn), as AWS
      does. GetExecutionHistory still answers (AWS: refused; its log group is the history there):
      the local stack shows Express runs' states that way, and the cost benchmark counts them.
    Apply after ``stop_execution_aborts_at_once``.
    """
    import uuid

    from moto.stepfunctions.exceptions import InvalidArn
    from moto.stepfunctions.models import StateMachine, StateMachineInstance, StepFunctionBackend
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    instance_init = StateMachineInstance.__init__

    def knows_its_type(self: StateMachineInstance, *args: Any, **kwargs: Any) -> None:
        instance_init(self, *args, **kwargs)
        self.sm_type = self.type

    StateMachineInstance.__init__ = knows_its_type  # type: ignore[method-assign]

    dedupe = StateMachine._handle_name_input_idempotency

    def by_name_on_standard_only(self: StateMachine, name: str, execution_input: str) -> Any:
        return None if self.type == "EXPRESS" else dedupe(self, name, execution_input)

    StateMachine._handle_name_input_idempotency = by_name_on_standard_only  # type: ignore[method-assign]

    execution_init = Execution.__init__

    def express_arn(self: Execution, *args: Any, **kwargs: Any) -> None:
        if str(kwargs.get("sm_type")) in ("EXPRESS", "StateMachineType.EXPRESS"):
            parts = str(kwargs["exec_arn"]).split(":")
            parts[5] = "express"
            kwargs["exec_arn"] = ":".join(parts) + f":{uuid.uuid4()}"
        execution_init(self, *args, **kwargs)

    Execution.__init__ = express_arn  # type: ignore[method-assign]

    validate = StepFunctionBackend._validate_execution_arn

    def or_express(self: StepFunctionBackend, execution_arn: str) -> None:
        if execution_arn.split(":")[5:6] != ["express"]:  # moto's pattern knows only the Standard form
            validate(self, execution_arn)

    StepFunctionBackend._validate_execution_arn = or_express  # type: ignore[method-assign]

    def refuses_express(action: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(action)
        def unless_express(self: StepFunctionResponse) -> Any:
            arn = str(self._get_param("executionArn") or "")
            if arn.split(":")[5:6] == ["express"]:
                raise InvalidArn(f"Invalid Arn: 'Resource type not valid in this context: express' ({arn})")
            return action(self)

        return unless_express

    StepFunctionResponse.describe_execution = refuses_express(StepFunctionResponse.describe_execution)  # type: ignore[method-assign]
    StepFunctionResponse.stop_execution = refuses_express(StepFunctionResponse.stop_execution)  # type: ignore[method-assign]


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


# Services whose backend a signed request's credential scope (and X-Amz-Target prefix) decides.
_ROUTED_BY_SCOPE = frozenset({"dynamodb", "states", "lambda", "ssm", "iam", "sqs", "scheduler", "events", "sts"})


def route_requests_once() -> None:
    """moto's server looks up the backend for every request under one global lock (importing and
    matching every service's URL patterns): the local stack's busiest path. Remember the answer
    for the signed requests of the services the engine uses; anything else goes the long way."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    lookup = DomainDispatcherApplication.get_application
    routes: dict[tuple[str, ...], Any] = {}

    def get_application(self: DomainDispatcherApplication, environ: dict[str, Any]) -> Any:
        scope = environ.get("HTTP_AUTHORIZATION", "").split("Credential=", 1)[-1].split(",", 1)[0].split("/")
        if len(scope) != 5 or scope[3] not in _ROUTED_BY_SCOPE:
            return lookup(self, environ)
        key = (environ.get("HTTP_HOST", ""), scope[2], scope[3], environ.get("HTTP_X_AMZ_TARGET", "").split(".")[0])
        if key not in routes:
            routes[key] = lookup(self, environ)
        return routes[key]

    DomainDispatcherApplication.get_application = get_application  # type: ignore[method-assign]


def parse_each_definition_once() -> None:
    """moto parses the whole ASL (an ANTLR grammar) again for every execution: about a third of
    the local stack's CPU under load. The parsed program is a tree of declarations that keeps
    per-execution state in the execution's environment, so one parse per definition serves all
    (the state types the engine's definition uses: Task, Choice, Wait, Pass, Succeed, Fail)."""
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

    parse = functools.lru_cache(maxsize=16)(AmazonStateLanguageParser.parse)
    AmazonStateLanguageParser.parse = staticmethod(parse)  # type: ignore[method-assign]


def serve_aws_in_process() -> None:
    """The stack's own AWS clients (handlers, the interpreter's tasks, the poller) call moto's
    backends directly, as moto's decorators do, instead of going through its HTTP server: no
    socket, thread or HTTP parsing per call. The server still serves everyone else (tests, the
    AWS CLI), on the same state. A request moto does not answer never leaves the machine."""
    from botocore import handlers
    from moto.core.models import botocore_stubber

    def answer_in_process(request: Any, **kwargs: Any) -> Any:
        response = botocore_stubber(request=request, **kwargs)
        host = urlsplit(request.url).hostname or ""
        if response is None and host != "localhost" and not host.startswith("127.") and host != "::1":
            raise RuntimeError(f"the local stack does not emulate {host}; it only calls this machine")
        return response

    botocore_stubber.enabled = True
    handlers.BUILTIN_HANDLERS[:] = [
        (entry[0], answer_in_process, *entry[2:]) if entry[1] is botocore_stubber else entry
        for entry in handlers.BUILTIN_HANDLERS
    ]


# Reads and writes of items, and stream records: their results are DynamoDB's wire JSON already.
_WIRE_JSON_OPERATIONS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "TransactWriteItems", "BatchGetItem"}
    | {"GetRecords", "GetShardIterator"}
)


def fast_dynamodb_responses() -> None:
    """moto answers DynamoDB (and its stream) through a generic serializer that walks botocore's
    shape model for every attribute of every item: a quarter of the local stack's CPU under load,
    most of it for the stream poller's records. These results are DynamoDB's wire JSON already,
    so they are written as they are (timestamps as epoch seconds, as the JSON protocol has them)."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        serialize = handler.serialized

        def serialized(self: Any, action_result: Any, _serialize: Callable[..., Any] = serialize) -> Any:
            result = action_result.result
            if self._get_action() not in _WIRE_JSON_OPERATIONS or not isinstance(result, dict):
                return _serialize(self, action_result)
            body = json.dumps(_without_nulls(result), separators=(",", ":"), default=_epoch_seconds)
            return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

        handler.serialized = serialized  # type: ignore[method-assign]


def _epoch_seconds(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def parse_each_json_path_once() -> None:
    """moto's interpreter builds a JSONPath parser (a yacc table) for every path it reads."""
    from jsonpath_ng.ext import parse
    from moto.stepfunctions.parser.asl.utils import json_path

    json_path.parse = functools.lru_cache(maxsize=512)(parse)  # type: ignore[attr-defined]


def query_one_partition() -> None:
    """moto answers a query on the table's key by sorting every item of the table and keeping
    those of the partition: each read of a run grows with the whole history. Here the query sees
    only its partition (safe: every DynamoDB request runs under DYNAMODB_LOCK)."""
    from moto.dynamodb.models.table import Table

    query = Table.query

    def one_partition(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)  # moto passes it 8th
        if index_name or hash_key is None or self.range_key_attr is None:
            return query(self, hash_key, *args, **kwargs)
        everything = self.items
        self.items = defaultdict(dict, {hash_key: everything[hash_key]} if hash_key in everything else {})
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            self.items = everything

    Table.query = one_partition  # type: ignore[method-assign]


def quiet_servers() -> None:
    """moto logs every failed execution at ERROR: for the engine a failed run is ordinary."""
    for name in ("werkzeug", "botocore.credentials"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("moto").setLevel(logging.CRITICAL)


class _Throttled(JsonRESTError):
    """What DynamoDB answers a request over its capacity (armed on /_local/faults)."""

    code = 400

    def __init__(self) -> None:
        super().__init__(
            "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
            "The level of configured provisioned throughput for the table was exceeded (a local fault)",
        )


class _LambdaServiceError(JsonRESTError):
    """The Lambda service failing to invoke a function (armed on /_local/faults)."""

    code = 500

    def __init__(self) -> None:
        super().__init__("ServiceException", "The Lambda service encountered an internal error (a local fault)")


# One lock for moto's DynamoDB and DynamoDB Streams backends: they are not thread-safe
# ("dictionary changed size during iteration" under concurrent writes), and a transaction's
# checks and writes must not interleave with another request. DynamoDB itself is a service.
DYNAMODB_LOCK = threading.RLock()


def serialize_dynamodb() -> None:
    """Every DynamoDB and DynamoDB Streams request runs alone."""
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        unlocked = handler.call_action

        @functools.wraps(unlocked)
        def call_action(self: Any, _unlocked: Callable[..., Any] = unlocked) -> Any:
            action = self._get_action()
            if faults.BOARD.take(fault="throttle", service="dynamodb", function=faults.current_function()):
                raise _Throttled()
            with DYNAMODB_LOCK:
                answer = _unlocked(self)
            faults.BOARD.after_dynamodb_call(action)
            return answer

        handler.call_action = call_action  # type: ignore[method-assign]


# AWS expires shard iterators after 15 minutes; moto keeps every one it hands out (one per
# get_records call: tens per second while a poller idles). Keep the most recent ones.
MAX_SHARD_ITERATORS = 1000


def expire_shard_iterators() -> None:
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend

    get_records = DynamoDBStreamsBackend.get_records

    def bounded(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        result = get_records(self, iterator_arn, limit)
        excess = len(self.shard_iterators) - MAX_SHARD_ITERATORS
        for arn in list(self.shard_iterators)[: max(excess, 0)]:
            del self.shard_iterators[arn]
        return result

    DynamoDBStreamsBackend.get_records = bounded  # type: ignore[method-assign]


def atomic_transactions() -> None:
    """``TransactWriteItems`` all or nothing, as on AWS, without moto's whole-table copies.

    moto applies each operation as it goes (writing stream records) and, when one fails, swaps in
    a deep copy of every table it touched: O(table) per transaction, and the swap replaces the
    table's stream shard, so a poller holding iterators sees nothing more, while the records of
    the rolled-back writes were already visible. Here every condition is checked first (under the
    DynamoDB lock, so nothing changes in between): a cancelled transaction writes nothing and
    emits no record. Should an operation still fail while applying (a validation error), only the
    items the transaction touched are put back, and its stream records are withdrawn.
    """
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        if len(transact_items) > 100:
            raise TooManyTransactionsException()
        operations = []
        seen: set[tuple[str, str]] = set()
        for item in transact_items:
            if len(item) > 1:
                raise TransactWriteSingleOpException
            op_type, op = next(iter(item.items()))
            table = self.get_table(op["TableName"])
            key = op.get("Key") or {
                name: op["Item"][name] for name in (table.hash_key_attr, table.range_key_attr) if name is not None
            }
            unique = (op["TableName"], str(dict(sorted(key.items()))))
            if unique in seen:
                raise MultipleTransactionsException()
            seen.add(unique)
            operations.append((op_type, op, table, key))
        reasons = [_check_condition(self, op, key, ConditionalCheckFailed) for _, op, _, key in operations]
        if any(code is not None for code, _, _ in reasons):
            raise TransactionCanceledException(reasons)
        touched = [
            (table, self.get_keys_value(table, key), copy.deepcopy(self.get_item(table.name, key)))
            for _, _, table, key in operations
        ]
        marks = {id(t): (t, len(t.stream_shard.items)) for t, _, _ in touched if t.stream_shard is not None}
        try:
            for op_type, op, _, key in operations:
                _apply(self, op_type, op, key)
        except Exception:
            for table, (hash_key, range_key), before in touched:
                _restore(table, hash_key, range_key, before)
            for table, mark in marks.values():
                del table.stream_shard.items[mark:]  # type: ignore[union-attr]
            raise

    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _check_condition(backend: Any, op: dict[str, Any], key: dict[str, Any], failed: type[Exception]) -> Any:
    from moto.dynamodb.comparisons import get_filter_expression

    condition = op.get("ConditionExpression")
    if condition is None:
        return (None, None, None)
    current = backend.get_item(op["TableName"], key)
    check = get_filter_expression(condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
    if check.expr(current):
        return (None, None, None)
    wants_old = op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
    old = current.to_json()["Attributes"] if current and wants_old else None
    return ("ConditionalCheckFailed", str(failed().message), old)  # type: ignore[attr-defined]


def _apply(backend: Any, op_type: str, op: dict[str, Any], key: dict[str, Any]) -> None:
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    if op_type == "Put":
        backend.put_item(
            op["TableName"], op["Item"], expression_attribute_names=names, expression_attribute_values=values
        )
    elif op_type == "Delete":
        backend.delete_item(op["TableName"], key, expression_attribute_names=names, expression_attribute_values=values)
    elif op_type == "Update":
        backend.update_item(
            op["TableName"],
            key,
            update_expression=op["UpdateExpression"],
            expression_attribute_names=names,
            expression_attribute_values=values,
        )
    elif op_type != "ConditionCheck":
        raise ValueError(f"Unsupported transaction operation {op_type}")


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    """Put an item back as it was, without a stream record (the caller withdraws the records)."""
    if range_key is not None:
        if before is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = before
    elif before is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = before


# Held by every change to moto's Scheduler backend and by the dispatcher deleting a schedule it
# fired, so that a schedule updated meanwhile is never deleted in its place.
SCHEDULER_LOCK = threading.RLock()


def schedules_as_aws_keeps_them() -> None:
    """moto's Scheduler stores whatever it is given; EventBridge Scheduler does not.

    - A bad expression or time zone is refused with ``ValidationException`` (moto accepts any text,
      which the dispatcher could then never fire), checked by ``automations.domain.schedules``.
    - A schedule in a group that does not exist is ``ResourceNotFoundException`` (moto: a 500).
    - ``UpdateSchedule`` replaces the schedule as AWS does: ``ActionAfterCompletion`` as given
      (moto keeps the old one) and ``State`` ENABLED when omitted (moto stores none).
    """
    from moto.scheduler.exceptions import ScheduleGroupNotFound, ValidationException
    from moto.scheduler.models import EventBridgeSchedulerBackend
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    from automations.domain import schedules

    def checked(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def call(self: EventBridgeSchedulerBackend, *args: Any, **kwargs: Any) -> Any:
            group = kwargs.get("group_name") or "default"
            if group not in self.schedule_groups:
                raise ScheduleGroupNotFound(group)
            try:
                schedules.parse_expression(kwargs["schedule_expression"])
                schedules.check_timezone(kwargs.get("schedule_expression_timezone") or "UTC")
            except ValueError as error:
                raise ValidationException(str(error)) from None
            with SCHEDULER_LOCK:
                return method(self, *args, **kwargs)

        return call

    EventBridgeSchedulerBackend.create_schedule = checked(  # type: ignore[method-assign]
        EventBridgeSchedulerBackend.create_schedule
    )
    EventBridgeSchedulerBackend.update_schedule = checked(  # type: ignore[method-assign]
        EventBridgeSchedulerBackend.update_schedule
    )
    delete_schedule = EventBridgeSchedulerBackend.delete_schedule

    def locked_delete(self: EventBridgeSchedulerBackend, group_name: str | None, name: str) -> None:
        with SCHEDULER_LOCK:
            delete_schedule(self, group_name, name)

    EventBridgeSchedulerBackend.delete_schedule = locked_delete  # type: ignore[method-assign]
    respond_to_update = EventBridgeSchedulerResponse.update_schedule

    def update_schedule(self: EventBridgeSchedulerResponse) -> str:
        with SCHEDULER_LOCK:  # the whole replacement at once, as the dispatcher sees it
            answer = respond_to_update(self)
            name = self.uri.split("?")[0].split("/")[-1]
            schedule = self.scheduler_backend.get_schedule(self._get_param("GroupName"), name)
            schedule.action_after_completion = self._get_param("ActionAfterCompletion")
            schedule.state = schedule.state or "ENABLED"
            return answer

    EventBridgeSchedulerResponse.update_schedule = update_schedule  # type: ignore[method-assign]
