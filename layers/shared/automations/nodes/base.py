"""What a node type is, and the registry every other part reads node types from.

A node type is one module in this package that declares (see ``NodeType``):
- its model (the fields a flow gives it, with a ``type`` literal),
- its executor (resolved parameters in, a ``NodeOutcome`` out; errors are ``NodeError`` classes),
- its output rules (when the output counts as empty; which variables a completed step provides),
- its control flow (``branches``) and save-time checks beyond its fields' placeholders,
- the Task state of the interpreter that runs it, and the function behind that state.

The flow model, save-time validation, the node runner and a test of the ASL read the registry,
so nothing else lists node types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, TypeVar

from pydantic import Field

from automations.domain.base import CamelModel
from automations.domain.interpreter import Wait
from automations.domain.node_settings import NodeSettings
from automations.domain.runs import HttpExchange
from automations.domain.templating import Path
from automations.errors import NodeError

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")]
TemplateText = Annotated[str, Field(max_length=10_000)]
# Node types that compute rather than call out share one Task state and one function.
COMPUTE_TASK = "ComputeNode"
COMPUTE_FUNCTION = "ComputeNodeFunction"


class NodeBase(CamelModel):
    """The fields every node has. A node type's model adds its own and a ``type`` literal."""

    # the parameters (wire names) whose strings may hold {{ placeholders }}
    template_fields: ClassVar[tuple[str, ...]] = ()

    id: NodeId
    type: str
    name: str | None = Field(default=None, max_length=200)
    next: NodeId | None = None
    on_error: Literal["fail", "continue"] = "fail"
    fail_on_empty_output: bool = False


@dataclass(frozen=True)
class NodeContext:
    """What an executor may read besides its resolved parameters."""

    account_id: str
    run_id: str
    node_id: str
    variables: dict[str, Any]  # the placeholder roots: trigger, steps, vars


@dataclass
class NodeOutcome:
    """What an executor reports. ``error`` set means the attempt failed (``http`` may still be set)."""

    output: Any = None
    http: HttpExchange | None = None
    error: NodeError | None = None
    next_node: str | None = None  # a branching node picks what runs next
    wait: Wait | None = None  # the state machine waits until then; the step completes when it wakes up
    step_fields: dict[str, Any] = field(default_factory=dict)  # e.g. a delay's wakeAt


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...


@dataclass(frozen=True)
class NodeServices:
    """What executors may use to reach the outside world; each function handler builds one."""

    secrets: SecretStore
    settings: NodeSettings


N = TypeVar("N", bound=NodeBase)


def is_empty_value(output: Any) -> bool:
    return output is None or output == "" or output == {} or output == []


class NodeType(Generic[N]):
    """One kind of node. Subclass it in a module of this package and register an instance."""

    model: type[N]
    task: ClassVar[str] = COMPUTE_TASK  # the interpreter's Task state that runs it
    function: ClassVar[str] = COMPUTE_FUNCTION  # the function (template logical id) behind that state
    # Pure: reads nothing but its variables, never waits, and fails only permanently (the same input
    # gives the same result). Such a node runs where the task before it chooses the next node, as a
    # step of its own but without a Task state (a Lambda invocation and two state transitions less).
    runs_inline: ClassVar[bool] = False
    # Waits (a delay): its step stays open while a Wait state sleeps, which only the Standard machine
    # may do for long; a run on Express hands off to Standard before such a node (see ``logic.hand_off``).
    waits: ClassVar[bool] = False

    @property
    def name(self) -> str:
        return str(self.model.model_fields["type"].annotation.__args__[0])  # type: ignore[union-attr]

    def execute(self, node: N, params: dict[str, Any], context: NodeContext, services: NodeServices) -> NodeOutcome:
        raise NotImplementedError

    # --- output rules ---

    def is_empty(self, output: Any) -> bool:
        """When ``failOnEmptyOutput`` turns a result into ``EmptyOutput``."""
        return is_empty_value(output)

    def variables(self, node: N, output: Any) -> dict[str, Any]:
        """What a completed step of this node adds under ``vars`` for later nodes."""
        return {}

    def assigned_variables(self, node: N) -> set[str]:
        """The variable names ``variables`` can provide (checked when a flow is saved)."""
        return set()

    # --- control flow and save-time checks ---

    def branches(self, node: N) -> dict[str, str] | None:
        """Fields naming the nodes that may run next, when the node chooses (None: ``next`` or list order)."""
        return None

    def check(self, node: N) -> Iterable[tuple[str | None, str]]:
        """Save-time problems beyond the model's own validation: ``(field, message)``."""
        return ()

    def read_paths(self, node: N) -> Iterable[tuple[str, Path, bool]]:
        """Variable paths the node reads outside its template fields: ``(field, path, optional)``."""
        return ()

    def longest_wait(self, node: N) -> timedelta:
        """The longest a step of this node may keep its run waiting (a delay's wait): what a run
        records when it is triggered is kept that much longer (``flows.graph.longest_wait``)."""
        return timedelta(0)


class Registry:
    """Every node type, by name. Closed once the flow model is built from it."""

    def __init__(self) -> None:
        self._types: dict[str, NodeType[Any]] = {}
        self._closed = False

    def register(self, node_type: NodeType[Any]) -> NodeType[Any]:
        if self._closed:
            raise RuntimeError(
                f"node type '{node_type.name}' registered after the flow model was built: import its module first"
            )
        if node_type.name in self._types:
            raise ValueError(f"node type '{node_type.name}' is registered twice")
        self._types[node_type.name] = node_type
        return node_type

    def close(self) -> tuple[type[NodeBase], ...]:
        """The models of every registered type; no type can be added afterwards."""
        self._closed = True
        return tuple(t.model for t in self._types.values())

    def names(self) -> tuple[str, ...]:
        return tuple(self._types)

    def types(self) -> tuple[NodeType[Any], ...]:
        return tuple(self._types.values())

    def get(self, name: str) -> NodeType[Any]:
        return self._types[name]

    def of(self, node: NodeBase) -> NodeType[Any]:
        return self._types[node.type]


REGISTRY = Registry()
