"""Routing table changes (the DynamoDB stream) to one small reaction each.

A reaction is registered for an entity (``run``, ``execution``, ``step``, ...) and the kinds of
change it cares about (``INSERT``, ``MODIFY``, ``REMOVE``), with an optional ``when`` to narrow
it further. A new reaction is a new entry, not a new branch in a shared function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Deps = TypeVar("Deps")


@dataclass(frozen=True)
class TableChange:
    event: str  # INSERT | MODIFY | REMOVE
    new: dict[str, Any] | None
    old: dict[str, Any] | None

    @property
    def entity(self) -> str | None:
        return (self.new or self.old or {}).get("entity")

    def changed(self, attribute: str) -> bool:
        return (self.new or {}).get(attribute) != (self.old or {}).get(attribute)

    def became_set(self, attribute: str) -> bool:
        """The attribute has a value now and had none before."""
        return (self.new or {}).get(attribute) is not None and (self.old or {}).get(attribute) is None


Reaction = Callable[[TableChange, Deps], str]


@dataclass(frozen=True)
class _Route(Generic[Deps]):
    name: str
    events: frozenset[str]
    when: Callable[[TableChange], bool]
    react: Reaction[Deps]


@dataclass
class ChangeRouter(Generic[Deps]):
    routes: dict[str, list[_Route[Deps]]] = field(default_factory=dict)

    def on(
        self, entity: str, *events: str, when: Callable[[TableChange], bool] = lambda _: True
    ) -> Callable[[Reaction[Deps]], Reaction[Deps]]:
        """Register the decorated function for ``entity`` changes of these kinds (and ``when``)."""

        def register(react: Reaction[Deps]) -> Reaction[Deps]:
            route = _Route(react.__name__, frozenset(events), when, react)
            self.routes.setdefault(entity, []).append(route)
            return react

        return register

    def route(self, change: TableChange, deps: Deps) -> list[str]:
        """Run every matching reaction; returns what each did (``name: outcome``) for logs and tests."""
        done = []
        for route in self.routes.get(change.entity or "", []):
            if change.event in route.events and route.when(change):
                done.append(f"{route.name}: {route.react(change, deps)}")
        return done
