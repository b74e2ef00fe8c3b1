"""Everything a node may read while it runs: the trigger, earlier steps' outputs, variables."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from automations.domain.item_budget import Truncated, unreadable
from automations.domain.runs import Run, Step
from automations.domain.status import StepStatus
from automations.domain.triggers import TriggerEvent
from automations.errors import NotFound
from automations.flows.definition import FlowDefinition, Node
from automations.logic.flows import load_version
from automations.nodes import REGISTRY
from automations.observability import log_run_keys
from automations.ports import Store


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
        for step in sorted(self.steps, key=lambda s: s.step_number):
            entry: dict[str, Any] = {"status": str(step.status)}
            if step.status == StepStatus.COMPLETED:
                # parts recorded truncated read as OutputTruncated, never as the marker
                output = unreadable(step.output, step.truncated or [], root="/output", node_id=step.node_id)
                entry["output"] = output
                values.update(self._variables_of(step, output))
            elif step.error:
                entry["error"] = step.error.dump()
            steps[step.node_id] = entry
        return {"trigger": self.trigger.variables(), "steps": steps, "vars": values}

    def _variables_of(self, step: Step, output: Any) -> dict[str, Any]:
        try:
            node = self.definition.node(step.node_id)
        except KeyError:  # a step carried over from a version without this node
            return {}
        node_type = REGISTRY.of(node)
        if isinstance(output, Truncated):  # recorded truncated whole: none of its variables can be read
            return {name: output for name in node_type.assigned_variables(node)}
        return node_type.variables(node, output)


@dataclass(frozen=True)
class StepAtNode:
    """A run's node (as its flow version defines it) and the step it has there, if any."""

    run: Run
    definition: FlowDefinition
    node: Node
    step: Step | None


def load_step_at_node(store: Store, run_id: str, node_id: str) -> StepAtNode:
    """What the state machine's bookkeeping around a node needs (no trigger, no outputs)."""
    found = store.get_run_and_steps(run_id)
    if found is None:
        raise NotFound(f"run '{run_id}' not found")
    run, steps = found
    definition = load_version(store, run.flow_id, run.flow_version).definition
    node = definition.node(node_id)
    return StepAtNode(run, definition, node, next((s for s in steps if s.node_id == node.id), None))


def load_run_context(store: Store, run_id: str) -> RunContext:
    found = store.get_run_and_steps(run_id)
    if found is None:
        raise NotFound(f"run '{run_id}' not found")
    run, steps = found
    trigger = store.get_run_trigger(run.trigger_id)
    if trigger is None:
        raise NotFound(f"trigger '{run.trigger_id}' of run '{run_id}' not found")
    version = load_version(store, run.flow_id, run.flow_version)
    log_run_keys(run)
    return RunContext(run, version.definition, steps, trigger)
