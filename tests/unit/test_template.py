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
    # boto3 comes with the Lambda runtime; everything else must be in the layer, pinned alike
    assert sorted(d for d in declared if not d.startswith("boto3")) == sorted(layer)
