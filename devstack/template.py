"""Reading ``template.yaml`` the way CloudFormation would, for the resources the local stack builds.

Only the intrinsics the template uses are understood (Ref, GetAtt, Sub); anything else is
an error, so the local stack cannot silently drift from what deploys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags as their long form."""


def _tag(name: str):
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name: value}

    return construct


for _short, _long in {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!Select": "Fn::Select",
}.items():
    _CfnLoader.add_constructor(_short, _tag(_long))


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass


@dataclass
class Resolver:
    """Resolves intrinsics against what the local stack created (refs and attributes)."""

    template: dict[str, Any]
    refs: dict[str, str] = field(default_factory=dict)
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)
    pseudo: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, spec in (self.template.get("Parameters") or {}).items():
            if "Default" in spec:
                self.refs.setdefault(name, str(spec["Default"]))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Fn::GetAtt":
                return self._attribute(arg[0], arg[1])
            if key == "Fn::Sub":
                return self._sub(arg)
            if key.startswith("Fn::"):
                raise NotImplementedError(f"the local stack does not understand {key}")
        return {k: self.resolve(v) for k, v in value.items()}

    def _ref(self, name: str) -> str:
        if name in self.pseudo:
            return self.pseudo[name]
        if name not in self.refs:
            raise KeyError(f"!Ref {name}: not created by the local stack")
        return self.refs[name]

    def _attribute(self, resource: str, attribute: str) -> str:
        if (resource, attribute) not in self.attributes:
            raise KeyError(f"!GetAtt {resource}.{attribute}: not created by the local stack")
        return self.attributes[(resource, attribute)]

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self._attribute(*name.split(".", 1))
            return self._ref(name)

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)


def resources_of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in template["Resources"].items() if spec["Type"] == kind}


def function_environment(template: dict[str, Any], name: str) -> dict[str, Any]:
    """Globals' variables overlaid with the function's own, still unresolved."""
    global_env = ((template.get("Globals") or {}).get("Function") or {}).get("Environment", {}).get("Variables", {})
    own = template["Resources"][name]["Properties"].get("Environment", {}).get("Variables", {})
    return {**global_env, **own}


def table_create_args(template: dict[str, Any], table_name: str) -> dict[str, Any]:
    """``create_table`` arguments from the template's one AWS::DynamoDB::Table."""
    ((_, spec),) = resources_of_type(template, "AWS::DynamoDB::Table").items()
    props = spec["Properties"]
    return {
        "TableName": table_name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "GlobalSecondaryIndexes": props.get("GlobalSecondaryIndexes", []),
        "BillingMode": props["BillingMode"],
        "StreamSpecification": {"StreamEnabled": True, **props["StreamSpecification"]},
    }


def scheduled_events(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every function's SAM ``ScheduleV2`` events: (function, event) -> the event's Properties,
    still unresolved. SAM makes each an EventBridge Scheduler schedule targeting the function."""
    return {
        (function, event): dict(spec.get("Properties") or {})
        for function, resource in resources_of_type(template, "AWS::Serverless::Function").items()
        for event, spec in ((resource["Properties"].get("Events") or {}).items())
        if spec.get("Type") == "ScheduleV2"
    }


def eventbridge_rules(template: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every function's SAM ``EventBridgeRule`` events: (function, event) -> the event's Properties,
    still unresolved. SAM makes each a rule on the default bus whose target is the function."""
    return {
        (function, event): dict(spec.get("Properties") or {})
        for function, resource in resources_of_type(template, "AWS::Serverless::Function").items()
        for event, spec in ((resource["Properties"].get("Events") or {}).items())
        if spec.get("Type") == "EventBridgeRule"
    }
