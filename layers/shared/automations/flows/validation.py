"""Save-time checks of a flow definition: every problem at once, each naming its node and field.

Pydantic has already checked shapes; this checks what needs the whole flow. Control flow is
``graph.graph``: after a node comes its ``next``, else the node after it in list order (a node
type's ``branches``, such as a condition's ``then``/``else``, replace both). Node-specific rules
come from the node registry (``NodeType.check``, ``read_paths``, ``assigned_variables``).
While two nodes share an id, what runs after what is unclear: cycles, reachability and
``steps``/``vars`` references wait until every id is unique (and a later node repeating an id
only has its references and size checked).
Placeholders and condition paths may read
- what the flow's trigger carries (``TRIGGER_FIELDS``): a webhook's ``trigger.body`` and
  ``trigger.headers``, an event's ``trigger.data``, ``trigger.event`` and ``trigger.eventId``, a
  recurring flow's ``trigger.firedAt``; every trigger's ``trigger.receivedAt``;
- ``steps.<id>`` / ``steps.<id>.output|status|error...`` of a node that can run before this one;
- ``vars.<name>`` when a node that can run before this one assigns ``<name>`` (a ``set`` node).
A step or variable that only some paths provide needs ``| default(...)`` (in a condition: to be
read inside ``exists()`` only). "Every path" is decided exactly, by searching for a path from
the first node that avoids the step (or every set node assigning the variable): so a variable
assigned on both branches of a condition is always set after they merge.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from automations.domain import clock
from automations.domain.templating import Path, TemplateSyntaxError, field_placeholders, format_path
from automations.errors import FlowValidationError
from automations.flows import graph as flow_graph
from automations.flows.definition import FlowDefinition, Node
from automations.nodes import REGISTRY

MAX_NODE_BYTES = 16 * 1024
MAX_DEFINITION_BYTES = 128 * 1024
TRIGGER_FIELDS: dict[str, tuple[str, ...]] = {
    "webhook": ("body", "headers", "receivedAt"),
    "event": ("data", "event", "eventId", "receivedAt"),
    "schedule": ("firedAt", "receivedAt"),
}
# fields that are one text value: nothing can be read under them
_SCALAR_TRIGGER_FIELDS = ("receivedAt", "event", "eventId", "firedAt")
# an event trigger's own templates read the event only (no step has run when they are evaluated)
TRIGGER_TEMPLATE_FIELDS = ("at", "key")
STEP_FIELDS = ("output", "status", "error")


def validate_flow(definition: FlowDefinition) -> None:
    """Raise FlowValidationError (HTTP 422) listing every problem: ``{node, field, message}``."""
    details = _Checker(definition).run()
    if details:
        more = f" (and {len(details) - 1} more)" if len(details) > 1 else ""
        raise FlowValidationError(f"flow is invalid: {details[0]['message']}{more}", details=details)


def json_size(value: Any) -> int:
    """Bytes of compact UTF-8 JSON: how big a node or definition counts as."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


class _Checker:
    def __init__(self, definition: FlowDefinition) -> None:
        self.definition = definition
        self.nodes: dict[str, Node] = {}  # the first node with each id, as the engine finds it
        for node in definition.nodes:
            self.nodes.setdefault(node.id, node)
        self.graph = flow_graph.graph(definition)
        self.before = flow_graph.predecessors(self.graph)
        self.start = definition.nodes[0].id
        # with a duplicate id, what runs after what is unclear: the graph checks wait until it is fixed
        self.ambiguous = len(self.nodes) < len(definition.nodes)
        self.details: list[dict[str, Any]] = []
        self._ancestors: dict[str, set[str]] = {}

    def report(self, node: str | None, field: str | None, message: str) -> None:
        detail = {"node": node, "field": field, "message": message}
        if detail not in self.details:  # the same placeholder twice in one field: once
            self.details.append(detail)

    def run(self) -> list[dict[str, Any]]:
        self.check_ids_and_references()
        if not self.ambiguous:
            for cycle in flow_graph.cycles(self.graph):
                last = self.nodes[cycle[-2]]
                self.report(last.id, _edge_field(last, cycle[-1]), f"nodes {' -> '.join(cycle)} form a cycle")
            reached = flow_graph.reachable(self.graph, [self.start])
            for node_id in [n for n in self.nodes if n not in reached]:
                message = f"node '{node_id}' can never run: no path leads to it from the first node '{self.start}'"
                self.report(node_id, None, message)
        self.check_sizes()
        self.check_trigger_templates()
        for node in self.nodes.values():
            self.check_templates(node)
            node_type = REGISTRY.of(node)
            for field, message in node_type.check(node):
                self.report(node.id, field, message)
            for field, path, optional in node_type.read_paths(node):
                if problem := self.check_path(node.id, path, optional):
                    self.report(node.id, field, problem)
        return self.details

    def check_ids_and_references(self) -> None:
        for node_id, count in Counter(node.id for node in self.definition.nodes).items():
            if count > 1:
                self.report(node_id, "id", f"duplicate node id '{node_id}' ({count} nodes have it)")
        for node in self.definition.nodes:
            targets: dict[str, str | None] = {"next": node.next}
            targets = {**(REGISTRY.of(node).branches(node) or targets)}
            for field, target in targets.items():
                if target is not None and target not in self.nodes:
                    self.report(node.id, field, f"node '{node.id}': {field} '{target}' is not a node of this flow")

    def check_sizes(self) -> None:
        for node in self.definition.nodes:
            if (size := json_size(node.model_dump(mode="json", by_alias=True))) > MAX_NODE_BYTES:
                limit = f"at most {MAX_NODE_BYTES} bytes (16 KiB)"
                self.report(node.id, None, f"node '{node.id}' is {size} bytes as JSON; a node may be {limit}")
        if (size := json_size(self.definition.model_dump(mode="json", by_alias=True))) > MAX_DEFINITION_BYTES:
            limit = f"at most {MAX_DEFINITION_BYTES} bytes (128 KiB)"
            self.report(None, None, f"the flow definition is {size} bytes as JSON; a flow may be {limit}")

    def check_trigger_templates(self) -> None:
        wire = self.definition.trigger.model_dump(mode="json", by_alias=True)
        for name in TRIGGER_TEMPLATE_FIELDS:
            field = f"trigger.{name}"
            try:
                found = field_placeholders(wire.get(name))
            except TemplateSyntaxError as exc:
                self.report(None, field, f"{field}: {str(exc).removeprefix(f'{exc.field}: ') if exc.field else exc}")
                continue
            if name == "at" and not found and wire.get(name) is not None:
                try:
                    clock.parse_iso(str(wire[name]))
                except ValueError:
                    self.report(None, field, f"{field}: '{wire[name]}' is neither an ISO 8601 time nor a template")
            for _, placeholder in found:
                path = placeholder.path
                if path[0] != "trigger":
                    self.report(None, field, f"{field} is evaluated when the event arrives: it may read only trigger.*")
                elif problem := self.check_trigger(path):
                    self.report(None, field, problem)

    def check_templates(self, node: Node) -> None:
        wire = node.model_dump(mode="json", by_alias=True)
        for name in node.template_fields:
            try:
                found = field_placeholders(wire.get(name))
            except TemplateSyntaxError as exc:  # the first malformed placeholder of the field
                field = _join(name, exc.field)
                reason = str(exc).removeprefix(f"{exc.field}: ") if exc.field else str(exc)
                self.report(node.id, field, f"node '{node.id}', {field}: {reason}")
                continue
            for location, placeholder in found:
                if problem := self.check_path(node.id, placeholder.path, placeholder.has_default):
                    self.report(node.id, _join(name, location), problem)

    def check_path(self, node_id: str, path: Path, optional: bool) -> str | None:
        """What is wrong with reading ``path`` in node ``node_id``; ``optional``: may be missing."""
        root = path[0]
        if root == "trigger":
            return self.check_trigger(path)
        if self.ambiguous:
            return None
        if len(path) < 2:
            return f"{root}: name what to read: " + ("steps.<node id>.output" if root == "steps" else "vars.<name>")
        name, shown = str(path[1]), format_path(path[:2])
        ancestors = self.ancestors(node_id)
        if root == "steps":
            if name not in self.nodes:
                return f"{shown}: there is no node '{name}' in this flow"
            if name not in ancestors:
                return f"{shown}: node '{name}' does not run before '{node_id}'"
            if len(path) > 2 and path[2] not in STEP_FIELDS:
                return f"{format_path(path[:3])}: a step has only output, status and error"
            providers = {name}
            why = f"{shown} may not have run when '{node_id}' runs (it is on only some paths)"
        else:
            providers = {a for a in ancestors if name in REGISTRY.of(self.nodes[a]).assigned_variables(self.nodes[a])}
            if not providers:
                return f"{shown} is not set by any set node before '{node_id}'"
            why = f"{shown} may not be set when '{node_id}' runs (it is set on only some paths)"
        if not optional and node_id in flow_graph.reachable(self.graph, [self.start], avoiding=providers):
            return f"{why}; add | default(...)"
        return None

    def check_trigger(self, path: Path) -> str | None:
        kind = self.definition.trigger.type
        allowed = TRIGGER_FIELDS[kind]
        parts = ", ".join(f"trigger.{f}" for f in allowed)
        if len(path) < 2:
            return f"trigger: name what to read: {parts}"
        if path[1] == "data" and kind == "webhook":
            return "trigger.data is only available to event triggers; a webhook's JSON is trigger.body"
        if path[1] not in allowed:
            article = "an" if kind[0] in "aeiou" else "a"
            return f"{format_path(path[:2])}: {article} {kind} trigger has only {parts}"
        if path[1] in _SCALAR_TRIGGER_FIELDS and len(path) > 2:
            return f"{format_path(path)}: trigger.{path[1]} is a string; nothing is under it"
        return None

    def ancestors(self, node_id: str) -> set[str]:
        """The nodes that can run before ``node_id``: a path leads from them to it."""
        if node_id not in self._ancestors:
            self._ancestors[node_id] = flow_graph.reachable(self.before, self.before[node_id])
        return self._ancestors[node_id]


def _join(name: str, location: str) -> str:
    """``headers`` + ``Authorization`` -> ``headers.Authorization``; ``to`` + ``[0]`` -> ``to[0]``."""
    return name if not location else f"{name}{location}" if location.startswith("[") else f"{name}.{location}"


def _edge_field(node: Node, target: str) -> str | None:
    """The field that sends ``node`` to ``target`` (None: the node after it in list order)."""
    branches = REGISTRY.of(node).branches(node)
    if branches is not None:
        return next(field for field, to in branches.items() if to == target)
    return "next" if node.next else None
