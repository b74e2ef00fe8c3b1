"""How control moves between a flow's nodes: ``next``, a condition's branches, or list order."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import timedelta

from automations.domain.interpreter import NodeRef
from automations.flows.definition import FlowDefinition, Node
from automations.nodes import REGISTRY


def successors(definition: FlowDefinition, node: Node) -> list[str]:
    """Every node that may run right after ``node`` (every branch of a node that chooses)."""
    branches = REGISTRY.of(node).branches(node)
    if branches is not None:
        return list(branches.values())
    following = default_next(definition, node)
    return [following] if following else []


def default_next(definition: FlowDefinition, node: Node) -> str | None:
    if node.next:
        return node.next
    position = [n.id for n in definition.nodes].index(node.id)
    return definition.nodes[position + 1].id if position + 1 < len(definition.nodes) else None


def after_failure(definition: FlowDefinition, node: Node) -> str | None:
    """Where a run goes after ``node`` failed for good: on with ``onError: continue``, else to its end."""
    return default_next(definition, node) if node.on_error == "continue" else None


def ref(definition: FlowDefinition, node_id: str | None) -> NodeRef:
    """The interpreter's pointer to a node (with the Task state that runs it), or the end of the flow."""
    if node_id is None:
        return NodeRef()
    node = definition.node(node_id)
    return NodeRef(id=node_id, type=node.type, task=REGISTRY.of(node).task)


def first(definition: FlowDefinition) -> NodeRef:
    return ref(definition, definition.nodes[0].id)


def longest_wait(definition: FlowDefinition) -> timedelta:
    """The longest a run of the flow may spend waiting: every node that waits, at its longest (no
    node runs twice in a run: flows have no cycles)."""
    return sum((REGISTRY.of(node).longest_wait(node) for node in definition.nodes), timedelta(0))


# --- whole-graph views (save-time validation) ---------------------------------------

Graph = dict[str, list[str]]


def graph(definition: FlowDefinition) -> Graph:
    """Node id -> the ids that may run right after it, in list order of the nodes.

    Each id maps the first node that has it (the one ``definition.node()`` finds); successors
    that name no node of the flow are left out, and so are repeats (``then`` == ``else``).
    """
    ids = {node.id for node in definition.nodes}
    result: Graph = {}
    for node in definition.nodes:
        if node.id not in result:
            result[node.id] = [s for s in dict.fromkeys(successors(definition, node)) if s in ids]
    return result


def predecessors(graph: Graph) -> Graph:
    """The same graph with every edge reversed."""
    result: Graph = {node_id: [] for node_id in graph}
    for node_id, following in graph.items():
        for target in following:
            result[target].append(node_id)
    return result


def reachable(graph: Graph, starts: Iterable[str], avoiding: Collection[str] = ()) -> set[str]:
    """Every node reached from ``starts`` (included) without entering a node in ``avoiding``."""
    seen: set[str] = set()
    pending = [s for s in starts if s not in avoiding]
    while pending:
        node_id = pending.pop()
        if node_id not in seen:
            seen.add(node_id)
            pending.extend(t for t in graph.get(node_id, ()) if t not in avoiding and t not in seen)
    return seen


def cycles(graph: Graph) -> list[list[str]]:
    """One cycle per back edge of a depth-first search from each node in order (the first node first).

    Each cycle is listed from the node the search entered first, that node repeated at the end:
    ``['a', 'b', 'a']``. Every cyclic part of the graph yields at least one cycle, none twice.
    """
    found: list[list[str]] = []
    on_path: list[str] = []
    done: set[str] = set()

    def visit(node_id: str) -> None:
        on_path.append(node_id)
        for target in graph[node_id]:
            if target in on_path:
                found.append([*on_path[on_path.index(target) :], target])
            elif target not in done:
                visit(target)
        on_path.pop()
        done.add(node_id)

    for node_id in graph:
        if node_id not in done:
            visit(node_id)
    return found
