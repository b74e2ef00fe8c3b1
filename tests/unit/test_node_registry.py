"""The node registry is the one list of node types: every module in automations/nodes registers
its type, and the registry refuses what would make that list ambiguous."""

from __future__ import annotations

import importlib
import pkgutil
from typing import Literal

import pytest

import automations.nodes
from automations.flows.definition import FlowDefinition
from automations.nodes import REGISTRY
from automations.nodes.base import COMPUTE_TASK, NodeBase, NodeType, Registry

SUPPORT_MODULES = {"base", "outbound"}


def test_every_node_module_registers_the_types_it_defines() -> None:
    # Given every module of the package but the shared base
    modules = [m.name for m in pkgutil.iter_modules(automations.nodes.__path__) if m.name not in SUPPORT_MODULES]
    registered_by_module = {type(t).__module__.rsplit(".", 1)[-1] for t in REGISTRY.types()}
    # Then each registered a type (a module forgotten in nodes/__init__.py would be missing)
    assert sorted(registered_by_module) == sorted(modules)
    for module in modules:
        defined = [
            cls
            for cls in vars(importlib.import_module(f"automations.nodes.{module}")).values()
            if isinstance(cls, type) and issubclass(cls, NodeType) and cls is not NodeType
        ]
        assert {cls for cls in defined} <= {type(t) for t in REGISTRY.types()}, module


def test_a_types_name_is_its_models_type_literal_and_the_flow_model_accepts_exactly_those() -> None:
    for node_type in REGISTRY.types():
        assert node_type.model.model_fields["type"].annotation == Literal[node_type.name]  # type: ignore[comparison-overlap]
    with pytest.raises(ValueError, match="unknown type 'teleport' \\(one of: "):
        FlowDefinition.model_validate(
            {"name": "x", "trigger": {"type": "webhook"}, "nodes": [{"id": "a", "type": "teleport"}]}
        )


def test_types_that_compute_share_the_compute_task_and_the_others_name_their_own() -> None:
    tasks = {t.name: t.task for t in REGISTRY.types()}
    assert tasks == {
        "http_request": "HttpRequest",
        "send_email": "SendEmail",
        "delay": COMPUTE_TASK,
        "condition": COMPUTE_TASK,
        "set": COMPUTE_TASK,
    }


class _PingNode(NodeBase):
    type: Literal["ping"]


class _Ping(NodeType[_PingNode]):
    model = _PingNode


def test_a_type_cannot_be_registered_twice_or_after_the_flow_model_was_built() -> None:
    registry = Registry()
    registry.register(_Ping())
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(_Ping())
    assert registry.close() == (_PingNode,)
    with pytest.raises(RuntimeError, match="after the flow model was built"):
        Registry.register(registry, _Ping())
    # the package's registry is closed: the flow model was built from it
    with pytest.raises(RuntimeError, match="import its module first"):
        REGISTRY.register(_Ping())
