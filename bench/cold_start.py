"""Cold starts: every function of template.yaml, in fresh interpreters, against ``import boto3`` + one client.

    python -m bench --only cold_start [--repeat 7] [--tracing as-deployed|off|on]

For each ``AWS::Serverless::Function`` (its ``CodeUri`` and ``Handler``), ``--repeat`` fresh
interpreters (``bench/_cold_child.py``) each import the handler module (the init phase) and
invoke it once with the function's sample event from ``events/`` (what ``make invoke`` sends).
The baseline, timed in the same run and interleaved with them, is a fresh interpreter doing
``import boto3; boto3.client("dynamodb")``. A function's ratio is its median (import + one
invocation) over the baseline's median; the interpreter's own start-up is in neither.

Each invocation does its real work against AWS stood in by a moto server on 127.0.0.1 that this
bench starts: a table built from template.yaml's definition, the schedule group, a state machine,
the email connection's parameter, and the demo objects the events name (``devstack.demo``),
seeded again before every run, in a table made anew, so each run finds the same data. A node task's run is first
brought to that node by this process (the lifecycle's start, the earlier nodes' tasks),
in-process and untimed. HTTP calls go to a sink on 127.0.0.1 (``OUTBOUND_GUARD=offline``, as
the local stack sets). Nothing leaves this machine's loopback.

Each function sees the environment template.yaml gives it (resolved against what the bench
created) and the variables the Lambda runtime sets (``LAMBDA_TASK_ROOT``,
``AWS_LAMBDA_FUNCTION_NAME``, a trace header, the X-Ray daemon's address on loopback), so the
libraries decide as they would deployed: with ``Tracing: Active`` and the template's default
``PowertoolsTraceDisabled`` ("true"), Powertools' Tracer is off (Lambda still traces each
invocation). ``--tracing on`` sets ``POWERTOOLS_TRACE_DISABLED=false`` (the stack parameter's
"false": the X-Ray SDK is imported and traces every call); ``--tracing off`` sets it "true".
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

from bench import results

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / "layers" / "shared"
EVENTS = ROOT / "events"
CHILD = Path(__file__).resolve().parent / "_cold_child.py"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TABLE = "automations-bench"
SCHEDULE_GROUP = "automations-bench-runs"
STATE_MACHINE = "automations-bench-FlowInterpreter"
PREFIX = "cold_start"
_SECRET_REFERENCE = re.compile(r"\{\{resolve:secretsmanager:[^}]*\}\}")

# The sample event each function serves, and the invocations that bring the demo run to where the
# event expects it (in this process, before each timed run). A function not named here serves
# the first events/<snake_case name>_*.json file, with no preparation.
START = ("RunLifecycleFunction", "run_lifecycle_start.json")
NOTIFY = ("HttpRequestFunction", "http_request_node.json")
PLAN: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "ApiFunction": ("api_webhook.json", []),  # a signed webhook: records a trigger and its run
    "StreamFunction": ("stream_run_recorded.json", []),  # starts the run's execution
    "RunLifecycleFunction": ("run_lifecycle_start.json", []),
    "HttpRequestFunction": ("http_request_node.json", [START]),
    "ComputeNodeFunction": ("compute_node_delay.json", [START]),  # a condition runs inline (in NOTIFY)
    "SendEmailFunction": ("send_email_node.json", [START, NOTIFY]),
    "SweeperFunction": ("sweeper_tick.json", []),
    "ExecutionStatusFunction": ("execution_status_aborted.json", [START]),
}

# what the parent's own (untimed) preparation runs with: quiet, no tracing, no metrics output
QUIET = {"POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "CRITICAL"}


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name.removesuffix("Function")).lower()


def event_plan(function: str) -> tuple[str, list[tuple[str, str]]]:
    if function in PLAN:
        return PLAN[function]
    candidates = sorted(EVENTS.glob(f"{snake(function)}_*.json"))
    if not candidates:
        raise LookupError(f"no events/{snake(function)}_*.json for {function}")
    return candidates[0].name, []


@dataclass
class FunctionSpec:
    name: str
    code_uri: str
    handler: str
    memory_mb: int
    environment: dict[str, str]


@dataclass
class Sample:
    import_seconds: float
    invoke_seconds: float
    total_seconds: float
    ok: bool
    modules: int
    error: dict[str, Any] | None = None
    cpu_seconds: float = 0.0  # the whole child process's user + system time (start-up included)


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)

    def seconds(self, what: str) -> list[float]:
        return [getattr(s, what) for s in self.samples]


# --- figures ------------------------------------------------------------------------


def figures(measured: dict[str, Measured], baseline: Measured, events: dict[str, str], mode: str) -> dict[str, Any]:
    """The ``cold_start.*`` keys of bench/results.json, from the samples of one run."""
    base = baseline.seconds("total_seconds")
    base_cpu = baseline.seconds("cpu_seconds")
    out: dict[str, Any] = {
        f"{PREFIX}.baseline_seconds": results.summary(base),
        f"{PREFIX}.measured_at": results.now_iso(),
        f"{PREFIX}.method": {
            "baseline": 'fresh interpreter: import boto3; boto3.client("dynamodb")',
            "function": "fresh interpreter: import the handler module, invoke it once with its events/ sample",
            "ratio": "median of the function's seconds / median of the baseline's seconds (wall clock)",
            "cpu_ratio": "the same of each child process's CPU seconds (start-up included; moto's serving not)",
            "tracing": mode,
            "repeat": len(base),
            "aws": "moto server on 127.0.0.1",
        },
    }
    for name, runs in measured.items():
        total = runs.seconds("total_seconds")
        errors = sorted({s.error["errorType"] for s in runs.samples if s.error})
        out[f"{PREFIX}.{name}.ratio"] = {
            **results.ratio(total, base),
            "seconds": results.summary(total),
            "cpu_ratio": _cpu_ratio(runs.seconds("cpu_seconds"), base_cpu),
            "event": events[name],
            "outcome": "ok" if not errors else "raised " + ", ".join(errors),
        }
        out[f"{PREFIX}.{name}.import_seconds"] = {
            **results.summary(runs.seconds("import_seconds")),
            "ratio": round(statistics.median(runs.seconds("import_seconds")) / statistics.median(base), 2),
            "modules": int(statistics.median(s.modules for s in runs.samples)),
        }
    return out


def _cpu_ratio(samples: list[float], baseline: list[float]) -> float | None:
    if not samples or statistics.median(baseline) <= 0:
        return None
    return round(statistics.median(samples) / statistics.median(baseline), 2)


def table(figs: dict[str, Any]) -> str:
    """The figures as a text table, for the terminal."""
    base = figs[f"{PREFIX}.baseline_seconds"]
    rows = [
        ("function", "ratio (min-max)", "floor", "cpu ratio", "total s", "import s", "modules", "outcome"),
        ("boto3 baseline", "1.00", "1.00", "1.00", f"{base['median']:.3f}", "", "", ""),
    ]
    for key in sorted(k for k in figs if k.endswith(".ratio") and k.startswith(PREFIX)):
        name = key[len(PREFIX) + 1 : -len(".ratio")]
        r, imp = figs[key], figs[f"{PREFIX}.{name}.import_seconds"]
        rows.append(
            (
                name,
                f"{r['median']:.2f} ({r['min']:.2f}-{r['max']:.2f})",
                f"{r['floor']:.2f}" if "floor" in r else "",
                f"{r['cpu_ratio']:.2f}" if r.get("cpu_ratio") is not None else "",
                f"{r['seconds']['median']:.3f}",
                f"{imp['median']:.3f}",
                str(imp["modules"]),
                r["outcome"],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)


# --- the stand-ins: a sink for HTTP calls, moto for AWS -------------------------------------


class _Sink(BaseHTTPRequestHandler):
    """Answers every POST as an echo endpoint / SendGrid would (200, a message id)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"received": true}'
        self.send_response(202 if self.path.endswith("/v3/mail/send") else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Message-Id", "bench-message")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextlib.contextmanager
def sink() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def aws_stand_ins(endpoint: str) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        "OUTBOUND_GUARD": "offline",  # the sink is on loopback, which the guard refuses deployed
        "TZ": "UTC",
    }


def function_specs(template: dict[str, Any], endpoint: str, sink_url: str) -> list[FunctionSpec]:
    """Every function with its template environment, resolved against what the bench created."""
    from devstack.template import Resolver, function_environment, resources_of_type

    resolver = Resolver(template)
    resolver.refs.update(
        {
            "Table": TABLE,
            "RunSchedules": SCHEDULE_GROUP,
            "FlowInterpreter": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}",
            "FlowInterpreterExpress": f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STATE_MACHINE}Express",
            "SendGridBaseUrl": sink_url,
        }
    )
    resolver.pseudo.update({"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": "automations-bench"})
    specs = []
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    for name, function in resources_of_type(template, "AWS::Serverless::Function").items():
        props = function["Properties"]
        environment = {}
        for variable, value in function_environment(template, name).items():
            try:
                resolved = resolver.resolve(value)
            except (KeyError, NotImplementedError):  # a resource the bench has no stand-in for
                resolved = f"arn:aws:iam::{ACCOUNT}:role/bench-{variable.lower()}"
            # `{{resolve:secretsmanager:...}}` is resolved by CloudFormation: a stand-in value here
            environment[variable] = _SECRET_REFERENCE.sub("bench-secret-0123456789abcdef", str(resolved))
        memory = int(props.get("MemorySize") or globals_.get("MemorySize") or 128)
        specs.append(FunctionSpec(name, props["CodeUri"], props["Handler"], memory, environment))
    return specs


def provision(template: dict[str, Any]) -> None:
    """What the events need to exist in moto (created with this process's environment)."""
    import boto3

    from devstack.template import table_create_args

    boto3.client("dynamodb").create_table(**table_create_args(template, TABLE))
    boto3.client("scheduler").create_schedule_group(Name=SCHEDULE_GROUP)
    for suffix, kind, asl in (("", "STANDARD", "flow_interpreter"), ("Express", "EXPRESS", "flow_interpreter_express")):
        boto3.client("stepfunctions").create_state_machine(
            name=STATE_MACHINE + suffix,
            definition=(ROOT / "statemachine" / f"{asl}.asl.json").read_text(),
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/bench-interpreter",
            type=kind,
        )
    from automations.adapters.ssm import connection_parameter
    from devstack import demo

    boto3.client("ssm").put_parameter(
        Name=connection_parameter(demo.ACCOUNT_ID, "sendgrid"), Value="SG.bench", Type="SecureString"
    )


# --- one run ---------------------------------------------------------------------------


class Preparer:
    """Puts the demo back before a timed run and brings its run to where the event expects it."""

    def __init__(self, specs: dict[str, FunctionSpec], sink_url: str, template: dict[str, Any]) -> None:
        self.specs, self.sink_url, self.template = specs, sink_url, template
        self.handlers: dict[str, Callable[..., Any]] = {}

    def handler(self, name: str) -> Callable[..., Any]:
        if name not in self.handlers:
            from devstack.functions import load_handler_module

            spec = self.specs[name]
            self.handlers[name] = load_handler_module(spec.code_uri, spec.handler)[1]
        return self.handlers[name]

    def prepare(self, function: str, event_file: str, steps: list[tuple[str, str]], run: int) -> Any:
        from devstack import demo
        from devstack.functions import LambdaContext

        fresh_table(self.template)
        demo.seed(self.sink_url)
        for name, step_event in steps:
            context = LambdaContext(name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}", 512, 30, f"prep-{run}")
            self.handler(name)(json.loads((EVENTS / step_event).read_text()), context)
        event = json.loads((EVENTS / event_file).read_text())
        if function == "ApiFunction" and event_file == "api_webhook.json":
            from devstack.invoke import sign_webhook

            for headers in (event.get("headers") or {}, event.get("multiValueHeaders") or {}):
                for header in headers:
                    if header.lower() == "idempotency-key":  # a new trigger each run, not a replay
                        headers[header] = f"bench-{run}" if isinstance(headers[header], str) else [f"bench-{run}"]
            event = sign_webhook(event)
        return event


def fresh_table(template: dict[str, Any]) -> None:
    """The table made anew, so that every run serves its event against the same data: moto's
    TransactWriteItems copies the whole table, its stream's records included (DynamoDB's cost
    grows with neither), so a table written run after run made later runs of the API's webhook
    slower, from 9 ms to 300 ms."""
    import boto3

    from devstack.template import table_create_args

    client = boto3.client("dynamodb")
    client.delete_table(TableName=TABLE)
    client.create_table(**table_create_args(template, TABLE))


def inherited_environment() -> dict[str, str]:
    """All a child takes from this process's environment (nothing of AWS or Powertools)."""
    return {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "SYSTEMROOT")}


def child_environment(spec: FunctionSpec, stand_ins: dict[str, str], xray_port: int, mode: str) -> dict[str, str]:
    lambda_runtime = {
        "LAMBDA_TASK_ROOT": str(ROOT / spec.code_uri),
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_HANDLER": spec.handler,
        "_X_AMZN_TRACE_ID": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_port}",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
    }
    env = {**inherited_environment(), **lambda_runtime, **spec.environment, **stand_ins}
    if mode in ("off", "on"):
        env["POWERTOOLS_TRACE_DISABLED"] = "true" if mode == "off" else "false"
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_child(args: list[str], env: dict[str, str], cwd: Path) -> Sample:
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        result_file = Path(scratch) / "result.json"
        cpu_before = _children_cpu()  # children run one at a time: the difference is this one's
        done = subprocess.run(  # noqa: S603 - this interpreter, on this checkout's script
            [sys.executable, str(CHILD), str(result_file), *args],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,  # the function's logs and metrics (EMF)
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
        cpu = _children_cpu() - cpu_before
        if done.returncode != 0 or not result_file.exists():
            raise RuntimeError(f"cold start child {args[:2]} exited {done.returncode}:\n{done.stderr[-3000:]}")
        data = json.loads(result_file.read_text())
    return Sample(
        import_seconds=data["import_seconds"],
        invoke_seconds=data["invoke_seconds"],
        total_seconds=data["total_seconds"],
        ok=data["ok"],
        modules=data["modules"],
        error=data.get("error"),
        cpu_seconds=cpu,
    )


def measure(repeat: int = 7, mode: str = "as-deployed", only: list[str] | None = None, log=print) -> dict[str, Any]:
    """Run the cold-start benchmark; answer its figures (``cold_start.*``)."""
    from devstack.template import load_template

    template = load_template()
    # (the environment set below is this measurement's only: the benchmarks after it get theirs back)
    with mock.patch.dict(os.environ), sink() as sink_url, moto_server() as endpoint:
        stand_ins = aws_stand_ins(endpoint)
        every = function_specs(template, endpoint, sink_url)
        specs = [s for s in every if not only or s.name in only]
        # this process's own environment (for provisioning and preparation): every function's
        # variables at once, quiet, before anything imports the engine (its settings read it once)
        for spec in every:
            os.environ.update(spec.environment)
        os.environ.update({**stand_ins, **QUIET})
        for inherited in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            os.environ.pop(inherited, None)
        time.tzset()
        provision(template)
        preparer = Preparer({s.name: s for s in every}, sink_url, template)
        xray_port = free_udp_port()
        plans = {spec.name: event_plan(spec.name) for spec in specs}
        baseline, measured = Measured(), {spec.name: Measured() for spec in specs}

        def one(spec: FunctionSpec | None, run: int) -> Sample:
            if spec is None:
                return run_child(["baseline"], {**inherited_environment(), **stand_ins}, ROOT)
            event_file, steps = plans[spec.name]
            event = preparer.prepare(spec.name, event_file, steps, run)
            with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as out:
                json.dump(event, out)
            try:
                args = ["function", str(ROOT / spec.code_uri), spec.handler, out.name, str(LAYER), spec.name]
                return run_child(args, child_environment(spec, stand_ins, xray_port, mode), ROOT / spec.code_uri)
            finally:
                os.unlink(out.name)

        # run 0 warms the file cache and is not counted; runs are interleaved so that noise on
        # the machine falls on every function and the baseline alike
        for run in range(repeat + 1):
            for spec in [None, *specs]:
                sample = one(spec, run)
                if run == 0:
                    continue
                (baseline if spec is None else measured[spec.name]).samples.append(sample)
            if run:
                log(f"cold start: run {run}/{repeat} done")
    return figures(measured, baseline, {name: plan[0] for name, plan in plans.items()}, mode)
