"""Least privilege: each function's policy in template.yaml names only the actions and key prefixes
it uses, and the functions that run flows' nodes cannot reach API-key items.

Two kinds of test:

* static ones, on template.yaml alone: every DynamoDB grant is bounded by partition-key prefixes
  (``dynamodb:LeadingKeys``), each function's grants are exactly the expected ones, the node
  functions' exclude ``APIKEY#``/``ACCOUNT#``, secrets are read one parameter at a time;
* recorded ones: ``make test`` loads this module as a pytest plugin (``-p tests.unit.test_policies``),
  which makes every local stack the end-to-end tests start record each AWS call its functions make
  (function, action, key prefix or index). The last tests of the session then check every recorded
  call against the function's policy (a missing permission fails here, not in production) and,
  when the whole suite ran, every granted (action, prefix) against the calls (a grant nothing used
  fails, unless listed below with the code path the end-to-end tests do not reach).
  Run without the plugin (plain ``pytest``), these two skip.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import pytest

from devstack.template import ROOT, resources_of_type
from tests.support import aws_calls

NODE_FUNCTIONS = ("HttpRequestFunction", "SendEmailFunction", "ComputeNodeFunction")
# code that runs a flow's nodes or follows their executions: never near API keys or accounts
RUN_FUNCTIONS = (*NODE_FUNCTIONS, "RunLifecycleFunction", "ExecutionStatusFunction")
FORBIDDEN_TO_RUN_FUNCTIONS = ("APIKEY#", "ACCOUNT#")

# Every partition-key prefix of the table (adapters/dynamo/keys.py) and of its indexes.
TABLE_PREFIXES = {"APIKEY#", "ACCOUNT#", "FLOW#", "TRIGGER#", "RUN#"}
INDEX_PREFIXES = {
    "FlowsByAccount": {"ACCOUNT#"},
    "RunsByFlow": {"FLOW#"},
    "RunsByAccount": {"ACCOUNT#"},
    "Overdue": {"OVERDUE#"},
    "ScheduledByFlow": {"FLOW#"},
    "ScheduledByKey": {"FLOW#"},  # FLOW#<flowId>#KEY#<digest>
    "InFlight": {"INFLIGHT#"},
}
TABLE = "table"  # the resource of a grant or call on the table itself (else an index's name)

# Every statement names item actions only: ForAllValues conditions hold vacuously for a request
# without partition keys (Scan), so a Scan must never sit under a LeadingKeys condition.
KEY_ADDRESSED = {
    "dynamodb:GetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
}

Grant = tuple[str, str, str]  # (action, table or index name, partition-key prefix)


def _grants(actions: set[str], resource: str, prefixes: set[str]) -> set[Grant]:
    return {(action, resource, prefix) for action in actions for prefix in prefixes}


_GET, _QUERY, _PUT, _UPDATE = (
    {"dynamodb:GetItem"},
    {"dynamodb:Query"},
    {"dynamodb:PutItem"},
    {"dynamodb:UpdateItem"},
)
_RUN_TASKS = _grants(_GET, TABLE, {"RUN#", "FLOW#", "TRIGGER#"}) | _grants(_QUERY | _PUT | _UPDATE, TABLE, {"RUN#"})
# What each function may do to the table, by partition-key prefix: a change here is a change of
# least privilege, made on purpose (and checked against the recorded calls by `make test`).
EXPECTED_DYNAMODB = {
    "ApiFunction": _grants(_GET | _UPDATE | _PUT, TABLE, TABLE_PREFIXES)
    | _grants(_QUERY, TABLE, {"ACCOUNT#", "RUN#"})
    | _grants({"dynamodb:ConditionCheckItem"}, TABLE, {"ACCOUNT#"})
    | _grants(_QUERY, "FlowsByAccount", {"ACCOUNT#"})
    | _grants(_QUERY, "RunsByAccount", {"ACCOUNT#"})
    | _grants(_QUERY, "RunsByFlow", {"FLOW#"})
    | _grants(_QUERY, "ScheduledByFlow", {"FLOW#"})
    | _grants(_QUERY, "ScheduledByKey", {"FLOW#"}),
    "StreamFunction": _grants(_GET, TABLE, {"FLOW#", "TRIGGER#"})
    | _grants(_PUT, TABLE, {"RUN#", "TRIGGER#"})
    | _grants(_QUERY | _UPDATE, TABLE, {"RUN#"})
    | _grants(_QUERY, "ScheduledByFlow", {"FLOW#"}),
    # flows of overdue runs; the execution of a run in flight (an Express one's age says if it lives)
    "SweeperFunction": _grants(_GET, TABLE, {"FLOW#", "RUN#"})
    | _grants(_UPDATE, TABLE, {"RUN#"})
    | _grants(_QUERY, "Overdue", {"OVERDUE#"})
    | _grants(_QUERY, "InFlight", {"INFLIGHT#"}),
    # it records an execution's end (ended_executions.execution_ended), nothing else: a run's first
    # execution has no item before its end, which writes it whole from the run (first_execution_of)
    "ExecutionStatusFunction": _grants(_GET | _UPDATE, TABLE, {"RUN#"}),
    **dict.fromkeys(("RunLifecycleFunction", *NODE_FUNCTIONS), _RUN_TASKS),
}

# Grants the end-to-end tests do not exercise, each with the code path that needs it.
NOT_EXERCISED_END_TO_END: dict[tuple[str, Grant], str] = {
    ("StreamFunction", ("dynamodb:GetItem", TABLE, "TRIGGER#")): (
        "a recurring flow's occurrence recorded twice (a redelivered stream record): record_runs reads "
        "the first trigger (logic/recording.py)"
    ),
}

# SAM policy templates the functions use, as the actions they grant (the resource is SAM's).
SAM_POLICY_TEMPLATES = {
    "StepFunctionsExecutionPolicy": ["states:StartExecution"],
    "SQSSendMessagePolicy": ["sqs:SendMessage*"],
}


@dataclass(frozen=True)
class Statement:
    function: str
    source: str  # "inline", a SAM policy template's name, or the managed policy's logical id
    actions: tuple[str, ...]
    resources: tuple[str, ...]  # TABLE, an index name, or the resource as written
    prefixes: tuple[str, ...] | None  # dynamodb:LeadingKeys patterns, if the statement has them

    def allows(self, action: str, resource: str | None = None, key: str | None = None) -> bool:
        if not any(fnmatchcase(action, pattern) for pattern in self.actions):
            return False
        if not action.startswith("dynamodb:"):
            return True
        if resource not in self.resources:
            return False
        return self.prefixes is None or (key is not None and any(fnmatchcase(key, p) for p in self.prefixes))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _resource(value: Any) -> str:
    if value == {"Fn::GetAtt": ["Table", "Arn"]}:
        return TABLE
    sub = value.get("Fn::Sub") if isinstance(value, dict) else None
    if isinstance(sub, str) and (match := re.fullmatch(r"\$\{Table\.Arn\}/index/(\w+)", sub)):
        return match.group(1)
    return json.dumps(value, sort_keys=True)


def _statement(function: str, source: str, raw: dict[str, Any]) -> Statement:
    assert raw["Effect"] == "Allow", (function, raw)
    condition = raw.get("Condition")
    prefixes = None
    if condition is not None:
        assert set(condition) == {"ForAllValues:StringLike"}, (function, condition)
        (key, patterns), *others = condition["ForAllValues:StringLike"].items()
        assert key == "dynamodb:LeadingKeys" and not others, (function, condition)
        prefixes = tuple(_as_list(patterns))
    return Statement(
        function,
        source,
        tuple(_as_list(raw["Action"])),
        tuple(_resource(r) for r in _as_list(raw["Resource"])),
        prefixes,
    )


def function_statements(template: dict[str, Any], function: str) -> list[Statement]:
    """Every statement of the function's Policies: inline, SAM templates, the stack's managed policies."""
    found = []
    for policy in template["Resources"][function]["Properties"].get("Policies", []):
        if isinstance(policy, dict) and "Ref" in policy:
            managed = template["Resources"][policy["Ref"]]
            assert managed["Type"] == "AWS::IAM::ManagedPolicy", policy
            for raw in managed["Properties"]["PolicyDocument"]["Statement"]:
                found.append(_statement(function, policy["Ref"], raw))
        elif isinstance(policy, dict) and "Statement" in policy:
            found.extend(_statement(function, "inline", raw) for raw in policy["Statement"])
        else:
            ((name, _),) = policy.items()
            assert name in SAM_POLICY_TEMPLATES, f"{function}: policy template {name} not known to this test"
            found.append(Statement(function, name, tuple(SAM_POLICY_TEMPLATES[name]), ("*",), None))
    return found


def dynamodb_grants(statements: list[Statement]) -> set[Grant]:
    """(action, table or index, prefix) for every DynamoDB action granted; a prefix is 'X#' for 'X#*'."""
    grants = set()
    for statement in statements:
        for action in statement.actions:
            if action.startswith("dynamodb:"):
                for resource in statement.resources:
                    for pattern in statement.prefixes or ("*",):
                        grants.add((action, resource, pattern.removesuffix("*")))
    return grants


@pytest.fixture(scope="module")
def functions(template: dict[str, Any]) -> dict[str, list[Statement]]:
    return {
        name: function_statements(template, name) for name in resources_of_type(template, "AWS::Serverless::Function")
    }


# --- static ------------------------------------------------------------------------------------------


def test_every_dynamodb_grant_names_item_actions_bounded_by_partition_key_prefixes(functions) -> None:
    for name, statements in functions.items():
        for statement in statements:
            dynamodb = [a for a in statement.actions if a.startswith("dynamodb:")]
            if not dynamodb:
                continue
            # no dynamodb:*, no Scan or batch operations, no SAM DynamoDB*Policy templates
            assert set(dynamodb) <= KEY_ADDRESSED and len(dynamodb) == len(statement.actions), (name, statement)
            assert statement.prefixes, f"{name}: {statement.actions} without a dynamodb:LeadingKeys condition"
            for resource in statement.resources:
                known = TABLE_PREFIXES if resource == TABLE else INDEX_PREFIXES.get(resource)
                assert known is not None, f"{name}: DynamoDB access to {resource}"
                assert {p.removesuffix("*") for p in statement.prefixes} <= known | set().union(
                    *(INDEX_PREFIXES[r] for r in statement.resources if r != TABLE)
                ), (name, statement)
                assert all(p.endswith("#*") for p in statement.prefixes), (name, statement)


def test_each_function_may_do_exactly_the_expected_actions_on_the_expected_key_prefixes(functions) -> None:
    for name, statements in functions.items():
        assert dynamodb_grants(statements) == EXPECTED_DYNAMODB[name], name


def test_functions_that_run_nodes_cannot_reach_api_keys_or_accounts(functions) -> None:
    for name in RUN_FUNCTIONS:
        for action, resource, prefix in dynamodb_grants(functions[name]):
            for forbidden in FORBIDDEN_TO_RUN_FUNCTIONS:
                assert not fnmatchcase(f"{forbidden}x", prefix + "*"), (name, action, resource, prefix)
        # and their DynamoDB access is the shared run-task policy alone (the status-change handler's,
        # narrower still, is its own)
        sources = {s.source for s in functions[name] if any(a.startswith("dynamodb:") for a in s.actions)}
        assert sources == ({"inline"} if name == "ExecutionStatusFunction" else {"RunTaskTableAccess"}), name


def test_secrets_are_read_one_at_a_time_by_the_one_function_that_needs_each(functions) -> None:
    connections = {
        "Fn::Sub": "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/automations/connections/*"
    }
    expected = {
        # connection keys: one parameter at a time, never by path
        "SendEmailFunction": [(("ssm:GetParameter",), (json.dumps(connections, sort_keys=True),))],
        # the paging cursors' key material: that one secret
        "ApiFunction": [(("secretsmanager:GetSecretValue",), (json.dumps({"Ref": "CursorSecret"}, sort_keys=True),))],
    }
    for name, statements in functions.items():
        granted = [s for s in statements if any(a.split(":")[0] in ("ssm", "kms", "secretsmanager") for a in s.actions)]
        assert [(s.actions, s.resources) for s in granted] == expected.get(name, []), name


def test_no_function_is_granted_a_wildcard_action(functions) -> None:
    for name, statements in functions.items():
        for statement in statements:
            assert not [a for a in statement.actions if a == "*" or a.endswith(":*")], (name, statement)


def test_make_test_and_make_lint_run_the_policy_analyser() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test", "lint"):
        (line,) = [line for line in makefile.splitlines() if line.startswith(f"{target}:")]
        assert "policy" in line.split("##")[0].split(":", 1)[1].split(), line
    assert re.search(r"^CHECKOV_VERSION := \d+\.\d+\.\d+$", makefile, re.MULTILINE), "checkov is pinned"
    assert "-p tests.unit.test_policies" in makefile, "make test records the end-to-end tests' AWS calls"


def test_the_policy_check_refuses_what_a_policy_does_not_grant(functions) -> None:
    # the evaluator the recorded calls go through, on calls it must allow and refuse
    def allowed(function: str, action: str, resource: str | None = None, key: str | None = None) -> bool:
        return any(s.allows(action, resource, key) for s in functions[function])

    assert allowed("HttpRequestFunction", "dynamodb:GetItem", TABLE, "RUN#run_1")
    assert not allowed("HttpRequestFunction", "dynamodb:GetItem", TABLE, "APIKEY#0a1b")
    assert not allowed("HttpRequestFunction", "dynamodb:GetItem", TABLE, None)
    assert not allowed("HttpRequestFunction", "dynamodb:Scan", TABLE, None)
    assert not allowed("HttpRequestFunction", "dynamodb:Query", "RunsByAccount", "ACCOUNT#acct_1")
    assert allowed("SweeperFunction", "dynamodb:Query", "Overdue", "OVERDUE#3")
    assert not allowed("SweeperFunction", "dynamodb:Query", "Overdue", "INFLIGHT#3")
    assert not allowed("StreamFunction", "dynamodb:PutItem", TABLE, "FLOW#flow_1")
    assert allowed("StreamFunction", "states:StartExecution")
    assert not allowed("SweeperFunction", "states:StopExecution")
    assert allowed("SendEmailFunction", "ssm:GetParameter")
    assert not allowed("SendEmailFunction", "ssm:GetParametersByPath")


# --- recorded: every AWS call the functions made in this session's end-to-end tests ---------------------

# The recorder (a sitecustomize.py the local stacks the end-to-end tests start inherit through
# PYTHONPATH) lives in tests/support/aws_calls.py, shared with the cost bench (bench/cost.py).

_recording: dict[str, Path] = {}
_complete: dict[str, bool] = {}


def pytest_configure(config: pytest.Config) -> None:
    """As a plugin (``-p tests.unit.test_policies``): record what this session's local stacks call."""
    directory = Path(tempfile.mkdtemp(prefix="aws-calls-"))
    os.environ.update(aws_calls.install(directory))
    _recording["dir"] = directory


def pytest_unconfigure(config: pytest.Config) -> None:
    if "dir" in _recording:
        shutil.rmtree(_recording.pop("dir"), ignore_errors=True)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The recorded checks run last, after every end-to-end test has made its calls."""
    last = [item for item in items if item.name.startswith("test_recorded_")]
    items[:] = [item for item in items if item not in last] + last
    # whether this session runs the whole suite (as `make test` does): only then is a grant no
    # call used a grant nothing uses
    paths = {Path(arg.split("::")[0]).resolve() for arg in config.args}
    whole = not config.option.keyword and not config.option.markexpr and not config.option.deselect
    _complete["suite"] = whole and paths <= {ROOT.resolve(), (ROOT / "tests").resolve()}


@dataclass(frozen=True)
class Call:
    function: str
    action: str  # service:Operation, as IAM names it
    resource: str | None  # TABLE or an index name, for DynamoDB
    key: str | None  # the partition key (DynamoDB) or parameter name (SSM)


IAM_PREFIX = {"dynamodb": "dynamodb", "states": "states", "scheduler": "scheduler", "ssm": "ssm", "sqs": "sqs"}


@pytest.fixture(scope="module")
def recorded_calls(template: dict[str, Any]) -> Iterator[list[Call]]:
    directory = _recording.get("dir")
    if directory is None:
        pytest.skip("needs the recording plugin: `make test` (pytest -p tests.unit.test_policies)")
    names = set(resources_of_type(template, "AWS::Serverless::Function"))
    calls = []
    for entry in aws_calls.entries(directory):
        assert "error" not in entry, entry
        function = aws_calls.function_of(entry, names)
        if function is None:
            continue  # the local stack's own machinery (setup, stream poller, scheduler, ...)
        service = entry["service"]
        resource = (entry["index"] or TABLE) if service == "dynamodb" else None
        calls.append(Call(function, f"{IAM_PREFIX.get(service, service)}:{entry['operation']}", resource, entry["key"]))
    if not calls:
        pytest.skip("no end-to-end test ran in this session: nothing was recorded")
    yield calls


def test_recorded_calls_of_every_function_are_allowed_by_its_policy(functions, recorded_calls) -> None:
    denied = sorted(
        {
            f"{call.function}: {call.action} on {call.resource or '-'} {call.key or ''}"
            for call in recorded_calls
            if not any(s.allows(call.action, call.resource, call.key) for s in functions[call.function])
        }
    )
    assert not denied, "calls the deployed functions' roles would refuse:\n" + "\n".join(denied)
    # the secrets read are connections, by name
    for call in recorded_calls:
        if call.action.startswith("ssm:"):
            assert call.key and call.key.startswith("/automations/connections/"), call


def test_recorded_calls_use_every_dynamodb_grant(functions, recorded_calls) -> None:
    if not _complete.get("suite"):
        pytest.skip("only a run of the whole suite (`make test`) exercises every grant")
    used: dict[str, set[Grant]] = defaultdict(set)
    for call in recorded_calls:
        if call.action.startswith("dynamodb:") and call.key:
            used[call.function].add((call.action, call.resource or TABLE, call.key.split("#", 1)[0] + "#"))
    # a policy shared by several functions is used when any of them uses it
    sharing: dict[str, set[str]] = defaultdict(set)
    for name, statements in functions.items():
        for statement in statements:
            sharing[statement.source if statement.source != "inline" else name].add(name)
    unused = []
    for name, statements in functions.items():
        for statement in statements:
            users = sharing[statement.source if statement.source != "inline" else name]
            for grant in dynamodb_grants([statement]):
                if not any(grant in used[user] for user in users) and (name, grant) not in NOT_EXERCISED_END_TO_END:
                    unused.append(f"{name} ({statement.source}): {grant}")
    # every function ran, so an unused grant is not just a function no test invoked
    assert set(used) == set(functions), f"functions with no recorded call: {set(functions) - set(used)}"
    assert not unused, "granted but never used by the end-to-end tests:\n" + "\n".join(sorted(unused))
