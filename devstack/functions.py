"""Lambda functions run in-process: each function is a pool of "containers".

A container is a fresh import of the function's handler module (``CodeUri`` + ``Handler``
from ``template.yaml``), so module-level state (the REST resolver, the batch processor) is
never shared by two concurrent invocations, exactly as on Lambda.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import queue
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

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
    """A handler raised: carries the payload Lambda would return (errorType, errorMessage)."""

    def __init__(self, payload: dict[str, Any]) -> None:
        super().__init__(payload["errorMessage"])
        self.payload = payload


@dataclass
class LocalFunction:
    name: str  # the logical id in template.yaml
    arn: str
    code_uri: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    max_containers: int = 8

    def __post_init__(self) -> None:
        self._idle: queue.LifoQueue[Callable[..., Any]] = queue.LifoQueue()
        self._created = 0
        self._lock = threading.Lock()

    def _container(self) -> Callable[..., Any]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._created < self.max_containers:
                self._created += 1
                return load_handler_module(self.code_uri, self.handler)[1]
        return self._idle.get()  # all containers busy: wait for one, like reserved concurrency

    def warm(self) -> None:
        """Start one container now: imports run one at a time, before any request arrives.

        (Concurrent first imports of the same packages from several threads can trip over
        partly initialised modules; Lambda never imports two handlers in one process.)
        """
        self._idle.put(self._container())

    def invoke(self, event: Any) -> Any:
        """Run the handler; a raised exception becomes FunctionError with Lambda's error payload."""
        handler = self._container()
        context = LambdaContext(
            function_name=self.name,
            invoked_function_arn=self.arn,
            memory_limit_in_mb=self.memory_mb,
            timeout_seconds=self.timeout_seconds,
            aws_request_id=str(uuid.uuid4()),
        )
        try:
            return handler(event, context)
        except Exception as error:
            raise FunctionError(
                {
                    "errorType": type(error).__name__,
                    "errorMessage": str(error),
                    "requestId": context.aws_request_id,
                    "stackTrace": traceback.format_tb(error.__traceback__),
                }
            ) from error
        finally:
            self._idle.put(handler)

    def invoke_json(self, event: Any) -> tuple[str, bool]:
        """(payload as JSON text, errored?) -- the shape moto's Lambda backend hands back."""
        try:
            return json.dumps(self.invoke(event)), False
        except FunctionError as failure:
            return json.dumps(failure.payload), True
