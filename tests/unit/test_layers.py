"""The package's layering: who may import whom, read statically from every import statement.

Each package states its import rules in its opening docstring (``automations/domain/__init__.py``,
``automations/ports.py`` ...). ``LAYERS`` below is those rules as one table; the tests parse every
module with ``ast`` (nothing under test is imported) and list every import that breaks its row.

A layer is a package (``automations.domain`` covers ``automations.domain.*``) or a single module
(``automations.ports``). A module is governed by the most specific layer that covers it, so
``automations.api.dependencies`` has its own row apart from the rest of ``automations.api``.
"""

from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "automations"
PACKAGE_DIR = ROOT / "layers" / "shared" / PACKAGE
HANDLERS = sorted((ROOT / "functions").glob("*/app.py"))

AWS_SDK = frozenset({"boto3", "botocore"})


@dataclass(frozen=True)
class Rule:
    may_import: frozenset[str]
    """The ``automations.*`` prefixes the layer may import; anything else of ours is a violation."""
    never: frozenset[str] = frozenset()
    """``automations.*`` prefixes the layer's docstring forbids by name (reported as such)."""
    no_third_party: frozenset[str] = frozenset()
    """Top-level third-party packages the layer must not import."""


def rule(*may_import: str, never: tuple[str, ...] = (), no_third_party: frozenset[str] = frozenset()) -> Rule:
    return Rule(frozenset(may_import), frozenset(never), no_third_party)


ERRORS = "automations.errors"
SETTINGS = "automations.settings"
OBSERVABILITY = "automations.observability"
DOMAIN = "automations.domain"
NODES = "automations.nodes"
FLOWS = "automations.flows"
PORTS = "automations.ports"
LOGIC = "automations.logic"
ADAPTERS = "automations.adapters"
API = "automations.api"

# layer -> what it may import (and what its docstring forbids by name). Lowest layers first.
LAYERS: dict[str, Rule] = {
    # The root package's __init__ only (not a prefix of everything): a docstring, no re-exports.
    PACKAGE: rule(),
    # Cross-cutting modules.
    ERRORS: rule(),
    OBSERVABILITY: rule(),
    "automations.cold_start": rule(),  # imported first by every handler: nothing of ours
    SETTINGS: rule("automations.domain.node_settings"),  # for NodeSettings, nothing else
    # The layers, bottom up.
    DOMAIN: rule(ERRORS, DOMAIN, no_third_party=AWS_SDK),
    NODES: rule(ERRORS, DOMAIN, NODES, never=(FLOWS, LOGIC, ADAPTERS, API), no_third_party=AWS_SDK),
    FLOWS: rule(ERRORS, DOMAIN, NODES, FLOWS, no_third_party=AWS_SDK),
    PORTS: rule(DOMAIN, FLOWS, no_third_party=AWS_SDK),
    LOGIC: rule(
        ERRORS,
        OBSERVABILITY,
        DOMAIN,
        NODES,
        FLOWS,
        PORTS,
        LOGIC,
        never=(ADAPTERS, SETTINGS, API),
        no_third_party=AWS_SDK,
    ),
    ADAPTERS: rule(ERRORS, SETTINGS, OBSERVABILITY, DOMAIN, NODES, FLOWS, PORTS, ADAPTERS, never=(LOGIC, API)),
    API: rule(LOGIC, PORTS, FLOWS, DOMAIN, ERRORS, SETTINGS, OBSERVABILITY, API, never=(ADAPTERS,)),
    # The one API module that wires the adapters in.
    "automations.api.dependencies": rule(LOGIC, PORTS, FLOWS, DOMAIN, ERRORS, SETTINGS, OBSERVABILITY, API, ADAPTERS),
}

# functions/*/app.py: thin handlers may import anything of ours, but get AWS clients via the adapters.
HANDLER_NO_THIRD_PARTY = frozenset({"boto3"})


def is_within(name: str, prefix: str) -> bool:
    """``automations.domain.runs`` is within ``automations.domain``; ``automations.domainx`` is not."""
    return name == prefix or name.startswith(prefix + ".")


def covers(layer: str, module: str) -> bool:
    if layer == PACKAGE:  # the root is a layer of one module, or it would cover every module
        return module == PACKAGE
    return is_within(module, layer)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE_DIR.rglob("*.py"))}


def layer_of(module: str) -> str | None:
    """The most specific layer covering the module, or None if no row governs it."""
    return max((layer for layer in LAYERS if covers(layer, module)), key=len, default=None)


def modules_in(layer: str) -> list[str]:
    return [m for m in MODULES if layer_of(m) == layer]


@dataclass(frozen=True)
class Import:
    name: str  # the dotted module imported: "automations.domain.runs", "boto3.dynamodb.types"
    line: int


def _from_target(module: str, name: str) -> str:
    """``from automations import errors`` -> automations.errors; ``from automations.domain import clock``
    -> automations.domain.clock (a module); ``from automations.domain.runs import Run`` -> automations.domain.runs.
    """
    if name != "*" and (module == PACKAGE or f"{module}.{name}" in MODULES):
        return f"{module}.{name}"
    return module


@functools.cache
def imports_of(path: Path) -> tuple[Import, ...]:
    """Every import in the file: top level, in functions and in ``if TYPE_CHECKING:`` blocks alike."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[Import] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level or node.module is None:
                pytest.fail(
                    f"{path}:{node.lineno}: relative import (level {node.level}) - the layer rules only read "
                    f"absolute imports; write `from automations.<package> import ...` instead"
                )
            found += [Import(_from_target(node.module, alias.name), node.lineno) for alias in node.names]
    return tuple(sorted(found, key=lambda imp: imp.line))


def broken_rule(layer: str, imported: str) -> str | None:
    """Why ``layer`` may not import ``imported``, or None if it may."""
    rules = LAYERS[layer]
    top = imported.split(".")[0]
    if top == PACKAGE:
        forbidden = next((p for p in sorted(rules.never) if is_within(imported, p)), None)
        if forbidden:
            return f"{layer} never imports {forbidden}"
        if not any(is_within(imported, p) for p in rules.may_import):
            return f"not in {layer}'s may-import list"
    elif top in rules.no_third_party:
        return f"{layer} never imports {top}"
    return None


def report(title: str, violations: list[str]) -> str:
    return "\n".join([title, *(f"  {v}" for v in violations)])


@pytest.mark.parametrize("layer", list(LAYERS))
def test_layer_imports_only_what_its_rules_allow(layer: str) -> None:
    # Given the layer's modules and its row of the rules table
    modules = modules_in(layer)
    rules = LAYERS[layer]

    # When every import statement in them is read
    violations = [
        f"{module} -> {imp.name} ({why}; line {imp.line})"
        for module in modules
        for imp in imports_of(MODULES[module])
        if (why := broken_rule(layer, imp.name))
    ]

    # Then none breaks the rule
    allowed = ", ".join(sorted(rules.may_import)) or "nothing of ours"
    assert not violations, report(
        f"{layer} breaks its import rules (may import: {allowed}; docstring: {MODULES[layer].relative_to(ROOT)}):",
        violations,
    )


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda p: p.parent.name)
def test_handler_gets_aws_clients_through_the_adapters(handler: Path) -> None:
    # Given a thin Lambda handler (functions/<name>/app.py)
    # When its imports are read
    violations = [
        f"{handler.relative_to(ROOT)} -> {imp.name} (handlers never import {imp.name.split('.')[0]}, "
        f"they get clients via automations.adapters; line {imp.line})"
        for imp in imports_of(handler)
        if imp.name.split(".")[0] in HANDLER_NO_THIRD_PARTY
    ]

    # Then it reaches AWS only through the adapters
    assert not violations, report("a handler imports the AWS SDK directly:", violations)


def test_every_module_belongs_to_exactly_one_layer() -> None:
    # Given every module file of the package, and the handlers the last test reads
    assert MODULES, f"no modules found under {PACKAGE_DIR}"
    assert HANDLERS, f"no handlers found under {ROOT / 'functions'}"

    # When each is matched to the most specific layer of the table (one answer per module: a nested
    # row such as automations.api.dependencies takes its module out of automations.api)
    ungoverned = [
        f"{m} -> ({MODULES[m].relative_to(ROOT)} is in no layer; add a row to LAYERS)"
        for m in MODULES
        if layer_of(m) is None
    ]
    empty = [f"{layer} -> (the row governs no module; stale or misspelt?)" for layer in LAYERS if not modules_in(layer)]

    # Then no module escapes the rules, and no row is dead
    assert not (ungoverned + empty), report("the layers table and the package disagree:", ungoverned + empty)


def test_the_rules_table_names_real_modules_and_does_not_contradict_itself() -> None:
    # Given every automations.* prefix the table mentions
    problems = []
    for layer, rules in LAYERS.items():
        for prefix in sorted(rules.may_import | rules.never):
            # Then each names a module or package that exists (a typo in `never` would forbid nothing)
            if not any(is_within(m, prefix) for m in MODULES):
                problems.append(f"{layer} -> {prefix} (no such module)")
        for prefix in sorted(rules.may_import):
            # And nothing is both allowed and forbidden
            if any(is_within(prefix, n) for n in rules.never):
                problems.append(f"{layer} -> {prefix} (both in may-import and never)")
    assert not problems, report("the layers table is inconsistent:", problems)


def test_imports_are_read_from_every_statement_form(tmp_path: Path) -> None:
    # Given a module using each form of import the rules must see
    source = tmp_path / "sample.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "import boto3.session\n"
        "from automations import errors\n"
        "from automations.domain import clock\n"
        "from automations.domain.runs import Run\n"
        "from automations.nodes import REGISTRY\n"
        "if TYPE_CHECKING:\n"
        "    from automations.adapters.ssm import get_secret_store\n"
        "def lazy():\n"
        "    import botocore.exceptions\n",
        encoding="utf-8",
    )

    # When its imports are read
    names = [imp.name for imp in imports_of(source)]

    # Then each resolves to the module it pulls in
    assert names == [
        "typing",
        "boto3.session",
        "automations.errors",
        "automations.domain.clock",
        "automations.domain.runs",
        "automations.nodes",
        "automations.adapters.ssm",
        "botocore.exceptions",
    ]
    assert broken_rule(LOGIC, "automations.adapters.ssm") == "automations.logic never imports automations.adapters"
    assert broken_rule(DOMAIN, "boto3.session") == "automations.domain never imports boto3"
    assert broken_rule(SETTINGS, "automations.nodes") == "not in automations.settings's may-import list"
    assert broken_rule(SETTINGS, "automations.domain.node_settings") is None


def test_a_relative_import_fails_clearly(tmp_path: Path) -> None:
    # Given a module with a relative import
    source = tmp_path / "relative.py"
    source.write_text("from . import sibling\n", encoding="utf-8")

    # When its imports are read, Then reading fails and says why
    with pytest.raises(pytest.fail.Exception, match="relative import"):
        imports_of(source)
