"""What a function's fresh interpreter imports at init (its cold start): only what it needs.

Each handler module is imported in an interpreter of its own, as Lambda does, with the layer on
``sys.path``; the modules it left loaded are compared with what it must not need. (How long the
imports take is the benchmark's to show, ``python -m bench``: never asserted here.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devstack.template import ROOT, load_template, resources_of_type

LAYER = ROOT / "layers" / "shared"
FUNCTIONS = {
    name: (spec["Properties"]["CodeUri"], spec["Properties"]["Handler"])
    for name, spec in resources_of_type(load_template(), "AWS::Serverless::Function").items()
}
# the REST API's machinery: routing, OpenAPI models and request/response validation
API_ONLY = ("aws_lambda_powertools.event_handler", "automations.api")
XRAY = ("aws_xray_sdk",)
# the outbound guard's HTTP client: imported by a node that calls out, on its first call
HTTP_CLIENT = ("requests", "automations.nodes.outbound")
# boto3 (its import imports s3transfer, an S3 transfer manager): the engine's clients are botocore's
BOTO3 = ("boto3", "s3transfer", "aws_lambda_powertools.utilities.parameters")
# Powertools' batch utility (it imports asyncio) and event data classes: the stream's batch is
# handled by adapters/dynamo/stream_batch.py
BATCH = ("aws_lambda_powertools.utilities.batch", "aws_lambda_powertools.utilities.data_classes", "asyncio")

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "TABLE_NAME": "automations-test",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:interpreter",
    "SCHEDULE_GROUP": "automations-test-runs",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "TZ": "UTC",
}
LAMBDA = {  # what the Lambda runtime sets: Powertools' Tracer is on unless disabled
    "LAMBDA_TASK_ROOT": str(ROOT),
    "AWS_LAMBDA_FUNCTION_NAME": "test",
    "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
}

IMPORT_HANDLER = """
import importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
module = importlib.import_module(sys.argv[3])
print(json.dumps(sorted(sys.modules)))
"""


def fresh_interpreter(script: str, *args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Any:
    """What ``script`` printed last, as JSON, run by a fresh interpreter with ``env``."""
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        env={"PATH": os.environ.get("PATH", ""), **ENV, **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def in_function(function: str, script: str, **env: str) -> Any:
    """``script`` run as the function's handler module would be imported (its code, the layer)."""
    code_uri, handler = FUNCTIONS[function]
    module = handler.rpartition(".")[0]
    return fresh_interpreter(script, str(ROOT / code_uri), str(LAYER), module, cwd=ROOT / code_uri, env=env)


def modules_at_init(function: str, **env: str) -> set[str]:
    return set(in_function(function, IMPORT_HANDLER, **env))


def of(modules: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.startswith(prefixes))


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_function_imports_the_xray_sdk_when_tracing_is_disabled(function: str) -> None:
    assert of(modules_at_init(function, POWERTOOLS_TRACE_DISABLED="true", **LAMBDA), XRAY) == []


def test_outside_lambda_tracing_is_off_and_the_xray_sdk_is_not_imported() -> None:
    assert of(modules_at_init("StreamFunction"), XRAY) == []  # tests, the local stack


@pytest.mark.parametrize("function", sorted(set(FUNCTIONS) - {"ApiFunction"}))
def test_only_the_api_function_imports_the_rest_api_machinery(function: str) -> None:
    assert of(modules_at_init(function, POWERTOOLS_TRACE_DISABLED="true"), API_ONLY) == []


def test_the_api_function_does_import_it() -> None:  # (so the test above looks for the right names)
    modules = modules_at_init("ApiFunction", POWERTOOLS_TRACE_DISABLED="true")
    assert "aws_lambda_powertools.event_handler.middlewares.openapi_validation" in modules
    assert "automations.api.resolver" in modules


# the flow models and every node type (with templating, expressions, the node runner): what a
# function needs to read a flow or run a node. The execution status only records an execution's end;
# the sweeper starts overdue runs and asks after runs in flight, by name (it reads a flow, lazily,
# only for a waiting run whose flow may be gone); the stream imports them on a record that needs
# them (a flow saved, a recurring run's next occurrence).
FLOWS_AND_NODES = ("automations.flows", "automations.nodes", "automations.logic.lifecycle", "automations.logic.node_")


@pytest.mark.parametrize("function", ["ExecutionStatusFunction", "StreamFunction", "SweeperFunction"])
def test_functions_that_need_no_flow_import_no_flow_or_node_type_at_init(function: str) -> None:
    assert of(modules_at_init(function, POWERTOOLS_TRACE_DISABLED="true"), FLOWS_AND_NODES) == []


def test_the_settings_import_no_node_type() -> None:  # (every function reads them)
    modules = in_function("ExecutionStatusFunction", IMPORT_HANDLER.replace("sys.argv[3]", "'automations.settings'"))
    assert of(set(modules), FLOWS_AND_NODES) == []


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_no_function_imports_the_http_client_or_boto3_at_init(function: str) -> None:
    assert of(modules_at_init(function, POWERTOOLS_TRACE_DISABLED="true"), HTTP_CLIENT + BOTO3) == []


@pytest.mark.parametrize("function", sorted(set(FUNCTIONS) - {"ApiFunction"}))  # (its REST machinery does)
def test_no_function_but_the_api_imports_the_batch_utility_or_asyncio_at_init(function: str) -> None:
    assert of(modules_at_init(function, POWERTOOLS_TRACE_DISABLED="true"), BATCH) == []


MODELS_BUILT_AT_INIT = """
import importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
importlib.import_module(sys.argv[3])
from pydantic import BaseModel

def subclasses(model):
    for subclass in model.__subclasses__():
        yield subclass
        yield from subclasses(subclass)

ours = [m for m in subclasses(BaseModel) if m.__module__.startswith("automations.")]
print(json.dumps({"ours": len(ours), "built": sorted(m.__qualname__ for m in ours if m.__pydantic_complete__)}))
"""


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_the_engine_models_are_built_on_first_use_not_at_init(function: str) -> None:
    # (defer_build: a cold start imports every record, node and response model and uses a few;
    # the settings are read at once, by every invocation. The execution status and the stream
    # import the fewest: no flow or node model)
    models = in_function(function, MODELS_BUILT_AT_INIT, POWERTOOLS_TRACE_DISABLED="true")
    assert models["ours"] > 10 and set(models["built"]) <= {"Settings"}


TRACE_A_HANDLER = """
import json
from aws_lambda_powertools.shared import constants
from automations.observability import tracer

@tracer.capture_lambda_handler
def handler(event, context):
    return {"ok": True}

from aws_xray_sdk.core import xray_recorder

class Emitter:  # what would go to the daemon, kept here
    def __init__(self):
        self.sent = []
    def send_entity(self, entity):
        self.sent.append(entity.to_dict())
    def set_daemon_address(self, address):
        pass

emitter = Emitter()
xray_recorder.configure(emitter=emitter)
assert handler({}, None) == {"ok": True}
print(json.dumps([{"name": e["name"], "annotations": e.get("annotations", {})} for e in emitter.sent]))
"""


def test_with_tracing_enabled_the_handler_is_traced_as_before() -> None:
    # Given Lambda's environment with tracing on, the handler is decorated by Powertools' Tracer:
    # its invocation is a "## handler" subsegment, annotated as before
    sent: list[dict[str, Any]] = fresh_interpreter(TRACE_A_HANDLER, env=LAMBDA)
    (subsegment,) = [e for e in sent if e["name"] == "## handler"]
    assert subsegment["annotations"] == {"ColdStart": True, "Service": "automations"}


def test_the_lazy_tracer_follows_powertools_rule_for_being_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    from aws_lambda_powertools import Tracer

    from automations.observability import LazyTracer, tracing_enabled

    def handler(event: Any, context: Any) -> str:
        return "done"

    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    assert not tracing_enabled()  # outside Lambda
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    assert tracing_enabled() == (not Tracer._is_tracer_disabled()) is True
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not tracing_enabled()
    lazy = LazyTracer(service="automations")
    assert lazy.capture_lambda_handler(handler) is handler and not lazy.built
    assert lazy.capture_lambda_handler()(handler) is handler and not lazy.built


def test_a_lazy_client_is_made_on_first_use_and_then_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    from automations.adapters import clients
    from automations.adapters.clients import LazyClient

    made: list[str] = []

    class Client:
        exceptions = "the client's exceptions"

        def start_execution(self, **request: Any) -> dict[str, Any]:
            return request

    def client(service: str) -> Client:
        made.append(service)
        return Client()

    monkeypatch.setattr(clients, "make_client", client)
    lazy = LazyClient("stepfunctions")
    assert made == [] and not lazy.made
    assert lazy.start_execution(name="a") == {"name": "a"}
    assert lazy.exceptions == "the client's exceptions"
    assert made == ["stepfunctions"] and lazy.made


def test_the_sweeper_and_stream_adapters_make_their_clients_lazily(monkeypatch: pytest.MonkeyPatch) -> None:
    from automations.adapters import scheduler, stepfunctions
    from automations.adapters.clients import LazyClient
    from automations.settings import get_settings

    for name, value in {**ENV, "SCHEDULER_ROLE_ARN": "arn:aws:iam::123456789012:role/scheduler"}.items():
        monkeypatch.setenv(name, value)
    for cached in (get_settings, stepfunctions.get_workflows, scheduler.get_schedules):
        cached.cache_clear()
    try:
        for adapter in (stepfunctions.get_workflows(), scheduler.get_schedules()):
            assert isinstance(adapter.client, LazyClient) and not adapter.client.made
    finally:
        for cached in (get_settings, stepfunctions.get_workflows, scheduler.get_schedules):
            cached.cache_clear()


COLLECTOR_AT_INIT = """
import gc, importlib, json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
module = importlib.import_module(sys.argv[3])
code = module.handler.__code__  # the outermost decorator's wrapper (functools.wraps keeps the name)
print(json.dumps({"enabled": gc.isenabled(), "outermost": code.co_filename, "wrapper": code.co_name}))
"""


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_a_cold_start_in_lambda_runs_without_the_garbage_collector_until_its_first_invocation(function: str) -> None:
    # (the collector walks the hundreds of thousands of objects a cold start makes, for nothing)
    init = in_function(function, COLLECTOR_AT_INIT, POWERTOOLS_TRACE_DISABLED="true", **LAMBDA)
    assert init["enabled"] is False
    # the handler resumes it: its outermost decorator
    assert Path(init["outermost"]).name == "cold_start.py" and init["wrapper"] == "invoke"


def test_outside_lambda_the_garbage_collector_is_left_alone() -> None:  # tests, the local stack
    assert in_function("StreamFunction", COLLECTOR_AT_INIT, POWERTOOLS_TRACE_DISABLED="true")["enabled"] is True


FIRST_INVOCATIONS = """
import gc, json, sys
sys.path[:0] = [sys.argv[1]]
from automations import cold_start

paused = not gc.isenabled()
seen = []

@cold_start.resume_collector_after_first_invocation
def handler(event, context):
    seen.append(gc.isenabled())
    if event == "fail":
        raise ValueError(event)
    return event

try:
    handler("fail", None)
except ValueError:
    pass
frozen = gc.get_freeze_count()
assert handler("ok", None) == "ok"
print(json.dumps({"paused": paused, "seen": seen, "enabled": gc.isenabled(), "frozen": frozen,
                  "frozen_again": gc.get_freeze_count() != frozen}))
"""


def test_the_first_invocation_freezes_the_cold_start_and_resumes_the_collector_even_when_it_raises() -> None:
    result = fresh_interpreter(FIRST_INVOCATIONS, str(LAYER), env=LAMBDA)
    assert result["paused"] is True
    assert result["seen"] == [False, True]  # the first invocation ran paused, the next one not
    assert result["enabled"] is True and result["frozen"] > 1000 and result["frozen_again"] is False
