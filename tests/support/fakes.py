"""Stand-ins for the ports the engine's logic uses, for tests that watch what logic asked for."""

from __future__ import annotations

from automations.domain.runs import Machine
from automations.ports import ExecutionStart


class RecordingWorkflows:
    """Step Functions as far as logic uses it: remembers what it was asked to start and stop, and
    answers each execution's status (RUNNING once started, unless a test says otherwise)."""

    def __init__(self) -> None:
        self.started: list[str] = []
        self.stopped: list[str] = []
        self.statuses: dict[str, str] = {}
        self.described: list[str] = []

    def start(self, *, name: str, run_id: str, machine: Machine = Machine.STANDARD) -> ExecutionStart:
        self.started.append(name)
        self.statuses.setdefault(name, "RUNNING")
        return ExecutionStart(arn=f"arn:aws:states:::execution:{name}", started=True)

    def stop(self, *, name: str, cause: str) -> bool:
        if self.statuses.get(name) != "RUNNING":
            return False
        self.stopped.append(name)
        self.statuses[name] = "ABORTED"
        return True

    def status(self, *, name: str) -> str | None:
        self.described.append(name)
        return self.statuses.get(name)
