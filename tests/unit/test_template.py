"""template.yaml: lint-clean, and every function has code, a handler and sample events."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from devstack.template import ROOT, resources_of_type

# which events/*.json serve which function (sam local invoke -e ... and the unit tests)
EVENT_PREFIXES = {
    "ApiFunction": "api_",
    "StreamFunction": "stream_",
    "RunLifecycleFunction": "run_lifecycle_",
    "HttpRequestFunction": "http_request_",
    "SendEmailFunction": "send_email_",
    "ComputeNodeFunction": "compute_node_",
    "SweeperFunction": "sweeper_",
    "ExecutionStatusFunction": "execution_status_",
}


def test_cfn_lint_reports_nothing() -> None:
    cfn_lint = Path(sys.executable).with_name("cfn-lint")
    result = subprocess.run([str(cfn_lint), str(ROOT / "template.yaml")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_function_has_its_handler_and_sample_events(template) -> None:
    functions = resources_of_type(template, "AWS::Serverless::Function")
    assert set(functions) == set(EVENT_PREFIXES)
    for name, spec in functions.items():
        props = spec["Properties"]
        module, _, handler = props["Handler"].rpartition(".")
        source = (ROOT / props["CodeUri"] / f"{module}.py").read_text()
        assert f"def {handler}(" in source, name
        assert list((ROOT / "events").glob(f"{EVENT_PREFIXES[name]}*.json")), f"no events/ sample for {name}"


def test_functions_run_on_a_supported_python(template) -> None:
    assert template["Globals"]["Function"]["Runtime"] == "python3.13"


def test_the_layer_ships_the_projects_runtime_dependencies() -> None:
    import tomllib

    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    layer = (ROOT / "layers" / "shared" / "requirements.txt").read_text().split()
    # boto3 comes with the Lambda runtime and click is the operator CLI's (never imported by a
    # function: see the next test); everything else must be in the layer, pinned alike
    assert sorted(d for d in declared if not d.startswith(("boto3", "click"))) == sorted(layer)


def test_no_function_imports_the_operator_cli() -> None:
    sources = [*(ROOT / "functions").rglob("*.py"), *(ROOT / "layers" / "shared").rglob("*.py")]
    assert not [
        str(path) for path in sources if "automations_cli" in path.read_text() or "import click" in path.read_text()
    ]


def test_executions_that_end_without_reaching_the_end_reach_the_status_function(template) -> None:
    # Given the status function's EventBridge rule
    function = template["Resources"]["ExecutionStatusFunction"]["Properties"]
    (rule,) = [e["Properties"] for e in function["Events"].values() if e["Type"] == "EventBridgeRule"]
    # Then it takes Step Functions' status changes of the interpreter's executions, only the endings
    # the interpreter did not record itself, with retries and a queue for what cannot be handled
    assert rule["Pattern"] == {
        "source": ["aws.states"],
        "detail-type": ["Step Functions Execution Status Change"],
        "detail": {"status": ["ABORTED", "TIMED_OUT", "FAILED"], "stateMachineArn": [{"Ref": "FlowInterpreter"}]},
    }
    assert rule["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue = {"Fn::GetAtt": ["ExecutionEventFailures", "Arn"]}
    assert rule["DeadLetterConfig"] == {"Arn": queue}
    assert function["EventInvokeConfig"]["DestinationConfig"]["OnFailure"] == {"Type": "SQS", "Destination": queue}
    # And the queue lets that rule (by its name) send to it, and its URL is an output
    (statement,) = template["Resources"]["ExecutionEventFailuresPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    source = statement["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(f"rule/{rule['RuleName']['Fn::Sub']}")
    assert template["Outputs"]["ExecutionEventFailuresQueueUrl"]["Value"] == {"Ref": "ExecutionEventFailures"}


def _as_list(action: str | list[str]) -> list[str]:
    return [action] if isinstance(action, str) else action


def test_the_stream_may_stop_and_the_sweeper_describe_only_the_interpreters_executions(template) -> None:
    executions = "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${FlowInterpreter.Name}:*"
    allowed = {
        "StreamFunction": ["states:DescribeExecution", "states:StopExecution"],  # cancel stops the execution
        "SweeperFunction": "states:DescribeExecution",  # the liveness check only reads
    }
    for name, actions in allowed.items():
        statements = [
            statement
            for policy in template["Resources"][name]["Properties"]["Policies"]
            if "Statement" in policy
            for statement in policy["Statement"]
            if any(action.startswith("states:") for action in _as_list(statement["Action"]))
        ]
        assert statements == [{"Effect": "Allow", "Action": actions, "Resource": {"Fn::Sub": executions}}], name


RUN_TASKS = ("RunLifecycleFunction", "HttpRequestFunction", "SendEmailFunction", "ComputeNodeFunction")


def test_functions_that_run_nodes_reach_only_runs_flows_and_triggers_never_api_keys(template) -> None:
    # Given the functions that run a flow's nodes (some call out to customers' targets)
    for name in RUN_TASKS:
        policies = template["Resources"][name]["Properties"]["Policies"]
        # Then their only table access is the run-task policy (no CRUD on the whole table; the
        # status-change handler has a narrower policy of its own: see test_policies.py)
        assert {"Ref": "RunTaskTableAccess"} in policies, name
        assert not [p for p in policies if isinstance(p, dict) and "DynamoDBCrudPolicy" in p], name
    # and that policy's every statement is bounded by partition-key prefixes that exclude API keys
    statements = template["Resources"]["RunTaskTableAccess"]["Properties"]["PolicyDocument"]["Statement"]
    for statement in statements:
        prefixes = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
        assert prefixes and all(p.endswith("#*") and not p.startswith("APIKEY") for p in prefixes)
    writes = next(s for s in statements if "dynamodb:PutItem" in s["Action"])
    assert writes["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"] == ["RUN#*"]


def test_deployed_functions_trace_invocations_but_not_each_call_unless_asked(template) -> None:
    # Given the template's defaults
    globals_ = template["Globals"]["Function"]
    variables = globals_["Environment"]["Variables"]
    # Then Lambda's active tracing traces every invocation, while Powertools' per-call tracing (the
    # X-Ray SDK, a slower cold start) is off unless the stack parameter turns it on
    assert globals_["Tracing"] == "Active"
    assert variables["POWERTOOLS_TRACE_DISABLED"] == {"Ref": "PowertoolsTraceDisabled"}
    parameter = template["Parameters"]["PowertoolsTraceDisabled"]
    assert (parameter["Default"], sorted(parameter["AllowedValues"])) == ("true", ["false", "true"])
    # and no trace ever records a handler's response (run detail, email addresses)
    assert variables["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"
