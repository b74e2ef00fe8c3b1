"""Lambda functions run in-process: each function is a pool of "containers".

A container is a fresh import of the function's handler module (``CodeUri`` + ``Handler``
from ``template.yaml``), so module-level state (the REST resolver, the batch processor) is
never shared by two concurrent invocations, exactly as on Lambda.

An invocation runs in its own thread and is given the function's ``Timeout``. Past it, the
caller gets Lambda's timeout error and the container is thrown away, as Lambda discards the
sandbox (see ``_Invocation`` for what the abandoned handler can still do).
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from automations.api.response_size import LAMBDA_RESPONSE_LIMIT_BYTES
from devstack import faults
from devstack.template import ROOT

_module_counter = itertools.count()


@dataclass
class LambdaContext:
    """The attributes handlers and Powertools read from Lambda's context object."""

    function_name: str
    invoked_function_arn: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_seconds * 1000


def load_handler_module(code_uri: str, handler: str) -> tuple[ModuleType, Callable[..., Any]]:
    """Import ``<CodeUri>/<module>.py`` under a unique name; return it and its handler."""
    module_name, _, function_name = handler.rpartition(".")
    path = ROOT / code_uri / f"{module_name.replace('.', '/')}.py"
    unique = f"lambda_{Path(code_uri).name}_{module_name}_{next(_module_counter)}"
    spec = importlib.util.spec_from_file_location(unique, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load handler module {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module, getattr(module, function_name)


class FunctionError(Exception):
    """A handler raised or timed out: carries the payload Lambda would return (errorType, errorMessage)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


class _Invocation(threading.Thread):
    """One invocation in its own thread, so that the caller can stop waiting at the timeout.

    Lambda ends a timed-out sandbox; Python cannot kill a thread. An abandoned invocation runs on
    as a daemon (it never keeps the local stack from exiting) until its handler returns, and its
    result or error is then dropped. What the handler writes on the way still lands, late: a
    node's attempt and step records, after the next attempt has begun. (Raising in the thread
    instead could stop it inside moto's in-process backends, half-way through a transaction.)
    """

    def __init__(self, handler: Callable[..., Any], event: Any, context: LambdaContext, *, crash: bool) -> None:
        super().__init__(name=f"{context.function_name}-{context.aws_request_id[:8]}", daemon=True)
        self.handler, self.event, self.context = handler, event, context
        self.result: Any = None
        self.error: Exception | None = None
        self.crash = crash  # a fault armed on /_local/faults: die part-way through
        self.crashed = False
        self.seconds = 0.0  # the handler's run time (what Lambda bills)

    def run(self) -> None:
        if self.crash:
            faults.BOARD.crash_after_first_write()
        started = time.perf_counter()
        try:
            self.result = self.handler(self.event, self.context)
        except Exception as error:
            self.error = error
        except faults.ProcessExit:
            self.crashed = True
        finally:
            self.seconds = time.perf_counter() - started


def _exited(request_id: str) -> dict[str, Any]:
    """What Lambda answers when the function's process dies mid-invocation."""
    return {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: exit status 1",
    }


def timeout_scales(spec: str) -> dict[str, float]:
    """``AUTOMATIONS_FUNCTION_TIMEOUT_SCALE``: ``HttpRequestFunction=0.1,...`` (logical id=scale).

    Per function, not one factor for all: shrunk, the busy functions' timeouts fire for real
    (a stream batch under load takes seconds).
    """
    scales = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, equals, scale = item.partition("=")
        if not equals:
            raise ValueError(f"AUTOMATIONS_FUNCTION_TIMEOUT_SCALE wants FunctionName=scale, got {item!r}")
        scales[name.strip()] = float(scale)
    return scales


@dataclass
class LocalFunction:
    name: str  # the logical id in template.yaml
    arn: str
    code_uri: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    max_containers: int = 8
    # Multiplies the time the handler is given, so that tests reach a timeout in seconds
    # (see `timeout_scales`); the context still reports the template's Timeout.
    timeout_scale: float = 1.0

    def __post_init__(self) -> None:
        self._idle: queue.LifoQueue[Callable[..., Any]] = queue.LifoQueue()
        # one slot per invocation in flight, like reserved concurrency: a timed-out invocation
        # gives its slot back though its container is thrown away, so a new one can be made
        self._slots = threading.BoundedSemaphore(self.max_containers)
        self._imports = threading.Lock()
        self._counting = threading.Lock()
        self.invocations = 0
        self.billed_ms = 0  # each invocation's duration rounded up to 1 ms, as Lambda bills it

    def _count(self, seconds: float) -> None:
        with self._counting:
            self.invocations += 1
            self.billed_ms += math.ceil(seconds * 1000)

    def stats(self) -> dict[str, int]:
        """Invocations so far, their billed duration (ms, handler time, imports not included) and memory."""
        with self._counting:
            return {"invocations": self.invocations, "durationMs": self.billed_ms, "memoryMb": self.memory_mb}

    def _new_container(self) -> Callable[..., Any]:
        with self._imports:  # concurrent first imports of one module can see it half initialised
            return load_handler_module(self.code_uri, self.handler)[1]

    def warm(self) -> None:
        """Start one container now: imports run one at a time, before any request arrives.

        (Concurrent first imports of the same packages from several threads can trip over
        partly initialised modules; Lambda never imports two handlers in one process.)
        """
        self._idle.put(self._new_container())

    def invoke(self, event: Any) -> Any:
        """Run the handler; a raised exception or a timeout becomes FunctionError with Lambda's payload."""
        with self._slots:  # all slots busy: wait for one
            try:
                handler = self._idle.get_nowait()
            except queue.Empty:
                handler = self._new_container()
            context = LambdaContext(
                function_name=self.name,
                invoked_function_arn=self.arn,
                memory_limit_in_mb=self.memory_mb,
                timeout_seconds=self.timeout_seconds,
                aws_request_id=str(uuid.uuid4()),
            )
            given = self.timeout_seconds * self.timeout_scale
            if faults.BOARD.take(fault="timeout", function=self.name):
                self._idle.put(handler)
                self._count(given)  # a timed-out invocation is billed up to its timeout
                raise FunctionError(self._timed_out(context.aws_request_id))
            crash = faults.BOARD.take(fault="crash", function=self.name)
            invocation = _Invocation(handler, event, context, crash=crash)
            invocation.start()
            invocation.join(given)
            if invocation.is_alive():  # abandoned, with its container: Lambda discards the sandbox
                self._count(given)
                raise FunctionError(self._timed_out(context.aws_request_id))
            self._count(invocation.seconds)
            if invocation.crashed:  # so is a container whose process died
                raise FunctionError(_exited(context.aws_request_id))
            self._idle.put(handler)
        if invocation.error is not None:
            error = invocation.error
            raise FunctionError(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ) from error
        if len(json.dumps(invocation.result)) > LAMBDA_RESPONSE_LIMIT_BYTES:  # as Lambda refuses it
            raise FunctionError(
                {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": "Response payload size exceeded maximum allowed payload size "
                    f"({LAMBDA_RESPONSE_LIMIT_BYTES} bytes).",
                }
            )
        return invocation.result

    def _timed_out(self, request_id: str) -> dict[str, Any]:
        """What Lambda answers for an invocation past its timeout (current runtimes).

        Step Functions names a function error after its ``errorType``: ``Sandbox.Timedout``.
        """
        seconds = self.timeout_seconds * self.timeout_scale
        return {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds",
        }

    def invoke_json(self, event: Any) -> tuple[str, bool]:
        """(payload as JSON text, errored?) -- the shape moto's Lambda backend hands back."""
        try:
            return json.dumps(self.invoke(event)), False
        except FunctionError as failure:
            return json.dumps(failure.payload), True
