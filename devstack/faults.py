"""Faults on demand (``/_local/faults``): make a function crash, time out or fail at the Lambda
service, or DynamoDB throttle, a given number of times, to see that runs still end in the right
status and nothing is recorded twice.

Each of the next ``times`` matching occasions:

- ``{"function": F, "fault": "crash"}``: F's invocation dies right after its first write to
  DynamoDB (an attempt claimed, never recorded), answering Lambda's ``Runtime.ExitError``;
- ``{"function": F, "fault": "timeout"}``: F's invocation is given up as timed out before it
  runs (``Sandbox.Timedout``);
- ``{"function": F, "fault": "Lambda.ServiceException"}``: the Lambda service fails to invoke F
  (through the Lambda API, as Task states call it);
- ``{"service": "dynamodb", "fault": "throttle"}``: a DynamoDB request is refused with
  ``ProvisionedThroughputExceededException`` (only F's requests with ``"function": F``).
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

FUNCTION_FAULTS = ("crash", "timeout", "Lambda.ServiceException")
SERVICE_FAULTS = {"dynamodb": ("throttle",)}


class ProcessExit(BaseException):
    """The function's process died: a BaseException, so no ``except Exception`` in a handler stops it."""


@dataclass
class Fault:
    fault: str
    times: int
    function: str | None = None
    service: str | None = None


class FaultBoard:
    """The armed faults; thread-safe (invocations run on many threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._crashing = threading.local()

    def arm(self, request: Any) -> Fault:
        """Validate ``{"function"|"service", "fault", "times"}`` and arm it; ValueError says what is wrong."""
        if not isinstance(request, dict):
            raise ValueError('send a JSON object: {"function" or "service", "fault", "times"}')
        function, service, kind, times = (request.get(k) for k in ("function", "service", "fault", "times"))
        if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1000:
            raise ValueError("times must be a whole number from 1 to 1000")
        if service is not None:
            if kind not in SERVICE_FAULTS.get(service, ()):
                raise ValueError(f"service faults: {SERVICE_FAULTS}")
        elif not isinstance(function, str) or kind not in FUNCTION_FAULTS:
            raise ValueError(f"a function fault names a function (logical id) and one of {FUNCTION_FAULTS}")
        fault = Fault(fault=str(kind), times=times, function=function, service=service)
        with self._lock:
            self._faults.append(fault)
        return fault

    def armed(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{k: v for k, v in asdict(f).items() if v is not None} for f in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def take(self, *, fault: str, function: str | None = None, service: str | None = None) -> bool:
        """Use up one occurrence of a matching armed fault; True if there was one."""
        with self._lock:
            for armed in self._faults:
                if armed.fault != fault or armed.service != service:
                    continue
                if armed.function is not None and armed.function != function:
                    continue
                armed.times -= 1
                if armed.times == 0:
                    self._faults.remove(armed)
                return True
        return False

    # --- a crash in the middle of an invocation ---

    def crash_after_first_write(self) -> None:
        """The current thread (an invocation) dies as soon as its first DynamoDB write is done."""
        self._crashing.armed = True

    def after_dynamodb_call(self, action: str) -> None:
        """Called after every DynamoDB request that succeeded: raise ProcessExit where a crash is due."""
        if getattr(self._crashing, "armed", False) and action in _WRITES:
            self._crashing.armed = False
            raise ProcessExit(f"crashed right after {action}")


_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})

BOARD = FaultBoard()


def current_function() -> str | None:
    """The function whose invocation runs on this thread (``devstack.functions`` names them so)."""
    name = threading.current_thread().name
    return name.rsplit("-", 1)[0] if "-" in name else None
