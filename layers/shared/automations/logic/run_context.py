"""Everything a node may read while it runs: the trigger, earlier steps' outputs, variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automations.errors import NotFound
from automations.logic.flows import load_version
from automations.models.flow import FlowDefinition, Node
from automations.models.run import Run, Step, TriggerEvent
from automations.models.status import StepStatus
from automations.repository.interfaces import FlowStore, RunStore, TriggerStore


@dataclass(frozen=True)
class RunContext:
    run: Run
    definition: FlowDefinition
    steps: list[Step]
    trigger: TriggerEvent

    def step(self, node_id: str) -> Step | None:
        return next((s for s in self.steps if s.node_id == node_id), None)

    def variables(self) -> dict[str, Any]:
        """The roots placeholders resolve against: ``trigger``, ``steps`` and ``vars``."""
        steps: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for step in sorted(self.steps, key=lambda s: s.seq):
            entry: dict[str, Any] = {"status": str(step.status)}
            if step.status == StepStatus.COMPLETED:
                entry["output"] = step.output
                if step.node_type == "set" and isinstance(step.output, dict):
                    values.update(step.output)
            elif step.error:
                entry["error"] = step.error.dump()
            steps[step.node_id] = entry
        trigger: dict[str, Any] = {"body": self.trigger.body, "headers": self.trigger.headers}
        trigger["receivedAt"] = self.trigger.received_at
        return {"trigger": trigger, "steps": steps, "vars": values}


@dataclass(frozen=True)
class StepAtNode:
    """A run's node (as its flow version defines it) and the step it has there, if any."""

    run: Run
    definition: FlowDefinition
    node: Node
    step: Step | None


def load_step_at_node(runs: RunStore, flows: FlowStore, run_id: str, node_id: str) -> StepAtNode:
    """What the state machine's bookkeeping after a node needs (no trigger, no outputs)."""
    found = runs.get_run_and_steps(run_id)
    if found is None:
        raise NotFound(f"run '{run_id}' not found")
    run, steps = found
    definition = load_version(flows, run.flow_id, run.flow_version).definition
    node = definition.node(node_id)
    return StepAtNode(run, definition, node, next((s for s in steps if s.node_id == node.id), None))


def load_run_context(runs: RunStore, flows: FlowStore, triggers: TriggerStore, run_id: str) -> RunContext:
    found = runs.get_run_and_steps(run_id)
    if found is None:
        raise NotFound(f"run '{run_id}' not found")
    run, steps = found
    trigger = triggers.get_trigger(run.trigger_id)
    if trigger is None:
        raise NotFound(f"trigger '{run.trigger_id}' of run '{run_id}' not found")
    version = load_version(flows, run.flow_id, run.flow_version)
    return RunContext(run, version.definition, steps, trigger)
