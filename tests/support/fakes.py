"""Stand-ins for the ports the engine's logic uses, for tests that watch what logic asked for."""

from __future__ import annotations

from automations.ports import ExecutionStart


class RecordingWorkflows:
    """Step Functions as far as starting goes: remembers the names it was asked to start."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def start(self, *, name: str, run_id: str) -> ExecutionStart:
        self.started.append(name)
        return ExecutionStart(arn=f"arn:aws:states:::execution:{name}", started=True)

    def stop(self, *, name: str, cause: str) -> bool:
        raise AssertionError("nothing here stops an execution")
