"""The whole engine on one machine: moto in-process, resources built from ``template.yaml``.

Start order matters: the API's and moto's ports are listened on first (``devstack.ports``: a
busy one fails at once, and none can be taken during setup); the local clock is read back from
the data directory and installed as the engine's time; the environment and moto's patches are
in place before the moto server starts; resources are created next (table, queues, roles,
schedule groups, functions, state machine, in template order of dependency); then what the data
directory kept is restored into them, the template's own schedules (SAM ``ScheduleV2`` events)
are made, the executions the last stop cut short are recovered, and only then do the stream
poller (from its saved checkpoint), the schedule dispatcher (from its saved progress), the saver
and finally the API on loopback start serving.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import socket
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3

from automations.observability import logger
from devstack import event_patterns, moto_patches
from devstack.api_gateway import ApiGatewayServer
from devstack.clock import LocalClock
from devstack.eventbridge import EventBus, rule_targets, status_change_event
from devstack.functions import LocalFunction
from devstack.local_api import LocalApi, register_account
from devstack.metrics import LocalMetrics, capture_stdout
from devstack.one_request_per_process import resolve_one_request_at_a_time
from devstack.persistence import DataDir, Saver, Snapshot, restore
from devstack.ports import API_PORT, MOTO_PORT, listen
from devstack.recovery import Recovered, recover_executions
from devstack.schedule_targets import Deliverer
from devstack.scheduler import Dispatcher, delete_unless_changed, moto_schedules
from devstack.streams import StreamPoller, StreamSettings
from devstack.template import (
    ROOT,
    Resolver,
    function_environment,
    load_template,
    resources_of_type,
    scheduled_events,
    table_create_args,
)
from devstack.ttl import Expiry

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "automations-local"
LOCAL_ACCOUNT_ID = "acct_local"
LOCAL_SENDGRID_KEY = "SG.local-email-sink"
# A clean stop waits this long, in all, for its parts to wind down (a process manager's grace
# period is often 30 s); the last snapshot is taken after, whatever they left unsettled.
STOP_BUDGET_SECONDS = 20.0


@dataclass
class StackConfig:
    host: str = "127.0.0.1"
    api_port: int = 3000  # 0: any free one (LocalStack.api_url says which)
    moto_port: int = 0  # 0: any free one
    api_key: str | None = None
    retry_wait_scale: float = 1.0
    function_timeout_scales: dict[str, float] = field(default_factory=dict)  # logical id -> scale
    log_level: str = "WARNING"
    data_dir: Path | None = None  # where state survives a restart; None keeps nothing
    reset: bool = False  # forget what data_dir holds before starting
    # template parameters, as `sam deploy --parameter-overrides` gives them (e.g. ExpressFirst=false)
    parameters: dict[str, str] = field(default_factory=dict)


def moto_server(listener: socket.socket) -> BaseWSGIServer:
    """moto's server (what ``ThreadedMotoServer`` runs) on a socket already listening, serving in a
    daemon thread. ``ThreadedMotoServer`` binds its own port in that thread and, when the port is
    taken, leaves its caller waiting forever."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    host, port = listener.getsockname()[:2]
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler, fd=listener.fileno())
    listener.close()  # the server serves a duplicate of it
    threading.Thread(target=server.serve_forever, name="moto", daemon=True).start()
    return server


def outbound_guard_environment() -> dict[str, str]:
    """The outbound guard of the local stack's functions: flows on this machine may call services
    on this machine (loopback only, never the other private ranges), unless the stack is started
    with ``AUTOMATIONS_SSRF_GUARD=strict``, which applies the deployed rules, or ``offline``: loopback
    only, no name looked up (the test suite's stacks)."""
    from automations.domain.node_settings import GUARD_MODES

    mode = os.environ.get("AUTOMATIONS_SSRF_GUARD", "").strip().lower() or "loopback"
    if mode not in GUARD_MODES:
        raise RuntimeError(f"AUTOMATIONS_SSRF_GUARD must be one of {', '.join(GUARD_MODES)}, got '{mode}'")
    return {"OUTBOUND_GUARD": mode}


@dataclass
class LocalStack:
    config: StackConfig
    functions: dict[str, LocalFunction] = field(default_factory=dict)
    restored: Snapshot | None = None
    recovered: Recovered = field(default_factory=Recovered)
    saver: Saver | None = None
    # the default event bus: Step Functions' status changes to the template's EventBridge rules
    event_bus: EventBus = field(default_factory=EventBus)

    def start(self) -> LocalStack:
        # first, so that a port or data dir in use fails at once (PortUnavailable, DataDirError)
        self.api_listener = listen(self.config.host, self.config.api_port, API_PORT)
        self.moto_listener = listen(self.config.host, self.config.moto_port, MOTO_PORT)
        self.api_port, self.moto_port = self.api_listener.getsockname()[1], self.moto_listener.getsockname()[1]
        self.data_dir = self._open_data_dir()
        # before anything asks the time: never earlier than the stopped stack's clock read
        self.clock = LocalClock.resume(self.restored.clock if self.restored else None)
        self.clock.install()
        # the functions' metrics (EMF lines on standard output) become datapoints: /_local/metrics
        self.metrics = LocalMetrics(self.clock.now)
        capture_stdout(self.metrics)
        self.template = load_template()
        self.resolver = Resolver(
            self.template,
            pseudo={"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::StackName": STACK, "AWS::Partition": "aws"},
        )
        self._prepare_environment()
        # like `sam deploy --parameter-overrides`: SendGrid is the local email sink
        self.resolver.refs["SendGridBaseUrl"] = f"http://{self.config.host}:{self.api_port}/_local/sendgrid"
        self._override_parameters()
        moto_patches.execute_state_machines()
        moto_patches.execution_status_changes_go_to(self._emit_status_change)
        moto_patches.stop_execution_aborts_at_once(self._emit_status_change)
        moto_patches.express_executions_as_on_aws()
        moto_patches.run_lambdas_in_process(self._function_by_physical_name)
        moto_patches.scale_retry_waits(self.config.retry_wait_scale)
        moto_patches.timestamp_waits_follow(self.clock.now)
        moto_patches.schedules_as_aws_keeps_them()
        moto_patches.reuse_interpreter_clients()
        moto_patches.serialize_dynamodb()
        moto_patches.atomic_transactions()
        moto_patches.query_one_partition()
        moto_patches.expire_shard_iterators()
        moto_patches.route_requests_once()
        moto_patches.parse_each_definition_once()
        moto_patches.serve_aws_in_process()
        moto_patches.fast_dynamodb_responses()
        moto_patches.parse_each_json_path_once()
        moto_patches.quiet_servers()
        resolve_one_request_at_a_time()
        self.moto = moto_server(self.moto_listener)
        self._create_table()
        self._create_queues()
        self._create_secrets()
        self._create_roles()
        self._create_schedule_groups()
        self._create_functions()
        self._create_state_machines()
        self._export_function_environment()
        self._start_event_bus()  # before anything can start an execution (the recovery may)
        if self.restored is not None:  # before anything reads or writes the table
            restore(self.restored, ACCOUNT, REGION, [self.table_name])
        self._create_template_schedules()
        self.api_key, self.api_key_origin = self._local_api_key()
        self._seed_local_account()
        for function in self.functions.values():
            function.warm()
        if self.restored is not None:
            self.recovered = self._recover_executions()
        self.poller = self._start_stream_poller()
        self.expiry = self._start_expiry()
        self.dispatcher = self._start_dispatcher()
        self.local_api = self._local_api()
        self.api = ApiGatewayServer(self.api_listener, self.functions["ApiFunction"], self.local_api.routes())
        if self.data_dir is not None:  # once the API could bind: a stack that did not start saves nothing
            self.saver = Saver(
                self.data_dir,
                ACCOUNT,
                REGION,
                [self.table_name],
                self.poller,
                self.api_key,
                clock=self.clock,
                scheduler=self.dispatcher,
            )
            self.saver.start()
        self.api_thread = threading.Thread(target=self.api.serve_forever, name="api-gateway", daemon=True)
        self.api_thread.start()
        return self

    def stop(self) -> dict[str, float]:
        """No new requests, no more firings or deliveries, then the last snapshot (executions still
        running are cut short here: the next start recovers them). How long it took, in all
        (``total``) and by part, in seconds."""
        began = time.monotonic()
        self.api.shutdown()
        # every part winds down at once; then each is waited for, in the order that keeps data whole,
        # all within one budget (the last snapshot is taken whatever it left)
        self.dispatcher.begin_stop()
        self.expiry.begin_stop()
        self.poller.begin_stop()
        self.event_bus.begin_stop()
        if self.saver is not None:
            self.saver.begin_stop()
        deadline = began + STOP_BUDGET_SECONDS
        took: dict[str, float] = {}

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        def timed(part: str, stop: Callable[[], None]) -> None:
            start = time.monotonic()
            stop()
            took[part] = round(time.monotonic() - start, 2)

        timed("scheduler", lambda: self.dispatcher.stop(join_seconds=left(), wait_seconds=min(5.0, left())))
        timed("ttl", lambda: self.expiry.stop(timeout=left()))
        timed("stream poller", lambda: self.poller.stop(timeout=left()))
        # what the event bus still delivers is in the table (and its stream) before the last save
        timed("event bus", lambda: self.event_bus.stop(timeout=left()))
        if self.saver is not None:
            saver = self.saver
            timed("data saver", lambda: saver.stop(timeout=left()))
        self.moto.shutdown()
        self.moto.server_close()
        took["total"] = round(time.monotonic() - began, 2)
        if took["total"] > STOP_BUDGET_SECONDS:
            logger.warning("the local stack took longer than its budget to stop", extra={"seconds": took})
        return took

    @property
    def moto_endpoint(self) -> str:
        """Where moto's server answers AWS API calls from outside the stack (tests, the AWS CLI)."""
        return f"http://{self.config.host}:{self.moto_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.config.host}:{self.api_port}"

    # --- data ---------------------------------------------------------------------------

    def _open_data_dir(self) -> DataDir | None:
        if self.config.data_dir is None:
            return None
        data_dir = DataDir(self.config.data_dir)
        data_dir.lock()
        if self.config.reset:
            data_dir.reset()
        self.restored = data_dir.read()
        return data_dir

    def _recover_executions(self) -> Recovered:
        from automations.adapters.dynamo.repository import get_repository
        from automations.adapters.scheduler import get_schedules
        from automations.adapters.stepfunctions import get_workflows

        return recover_executions(
            self.table_name, boto3.client("dynamodb"), get_repository(), get_workflows(), get_schedules()
        )

    # --- environment ----------------------------------------------------------------

    def _prepare_environment(self) -> None:
        """What the Lambda runtime would provide, pointed at the in-process moto server."""
        os.environ.update(
            {
                "MOTO_PORT": str(self.moto_port),
                "AWS_DEFAULT_REGION": REGION,
                "AWS_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
                "TZ": "UTC",  # as on Lambda (moto also reads datetimes without a zone as local time)
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_METRICS_DISABLED": "false",  # read back from standard output (devstack.metrics)
                "POWERTOOLS_LOG_LEVEL": self.config.log_level,
                **outbound_guard_environment(),
            }
        )
        # the stack's own clients reach moto in-process (moto_patches.serve_aws_in_process)
        os.environ.pop("AWS_ENDPOINT_URL", None)
        time.tzset()
        # the functions share one logger, built when the engine was first imported (before this
        # environment existed); on Lambda each process reads POWERTOOLS_LOG_LEVEL at start
        from automations.observability import logger

        logger.setLevel(self.config.log_level)

    def _export_function_environment(self) -> None:
        """Every function's variables, resolved; one process means one shared environment."""
        merged: dict[str, str] = {}
        for name in self.functions:
            for key, value in function_environment(self.template, name).items():
                resolved = str(self.resolver.resolve(value))
                if merged.get(key, resolved) != resolved:
                    raise RuntimeError(f"{key} differs between functions; the local stack shares one environment")
                merged[key] = resolved
        merged.pop("POWERTOOLS_LOG_LEVEL", None)  # the local stack's own level wins
        os.environ.update(merged)

    # --- resources --------------------------------------------------------------------

    def _create_table(self) -> None:
        ((name, spec),) = resources_of_type(self.template, "AWS::DynamoDB::Table").items()
        table_name = f"{STACK}-{name}"
        client = boto3.client("dynamodb")
        client.create_table(**table_create_args(self.template, table_name))
        ttl = spec["Properties"]["TimeToLiveSpecification"]
        client.update_time_to_live(TableName=table_name, TimeToLiveSpecification=ttl)
        described = client.describe_table(TableName=table_name)["Table"]
        self.table_name = table_name
        self.ttl = ttl
        self.key_attributes = [k["AttributeName"] for k in described["KeySchema"]]
        self.resolver.refs[name] = table_name
        self.resolver.attributes[(name, "Arn")] = described["TableArn"]
        self.resolver.attributes[(name, "StreamArn")] = described["LatestStreamArn"]

    def _create_functions(self) -> None:
        role = boto3.client("iam").create_role(RoleName="local-lambda", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        globals_ = (self.template.get("Globals") or {}).get("Function", {})
        client = boto3.client("lambda")
        archive = io.BytesIO()
        with zipfile.ZipFile(archive, "w") as zipped:
            zipped.writestr("README", "code runs in-process; see devstack/functions.py")
        for name, spec in resources_of_type(self.template, "AWS::Serverless::Function").items():
            props = {**globals_, **spec["Properties"]}
            physical = f"{STACK}-{name}"
            arn = client.create_function(
                FunctionName=physical,
                Runtime=props["Runtime"],
                Role=role,
                Handler=props["Handler"],
                Code={"ZipFile": archive.getvalue()},
                Timeout=int(props.get("Timeout", 3)),
            )["FunctionArn"]
            self.functions[name] = LocalFunction(
                name=name,
                arn=arn,
                code_uri=props["CodeUri"],
                handler=props["Handler"],
                timeout_seconds=int(props.get("Timeout", 3)),
                memory_mb=int(props.get("MemorySize", 128)),
                timeout_scale=self.config.function_timeout_scales.get(name, 1.0),
            )
            self.resolver.refs[name] = physical
            self.resolver.attributes[(name, "Arn")] = arn

    def _function_by_physical_name(self, physical: str) -> LocalFunction | None:
        return next((f for f in self.functions.values() if f.arn.endswith(f":{physical}")), None)

    def _override_parameters(self) -> None:
        declared = self.template.get("Parameters") or {}
        for name, value in self.config.parameters.items():
            if name not in declared:
                raise ValueError(f"template.yaml declares no parameter '{name}'")
            allowed = declared[name].get("AllowedValues")
            if allowed is not None and value not in [str(v) for v in allowed]:
                raise ValueError(f"parameter {name} must be one of {', '.join(map(str, allowed))}, got '{value}'")
            self.resolver.refs[name] = value

    def _create_state_machines(self) -> None:
        client = boto3.client("stepfunctions")
        for name, spec in resources_of_type(self.template, "AWS::Serverless::StateMachine").items():
            props = spec["Properties"]
            definition = (ROOT / props["DefinitionUri"]).read_text()
            for key, value in self.resolver.resolve(props.get("DefinitionSubstitutions", {})).items():
                definition = definition.replace("${" + key + "}", str(value))
            arn = client.create_state_machine(
                name=f"{STACK}-{name}",
                definition=definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/local-states",
                type=props.get("Type", "STANDARD"),
            )["stateMachineArn"]
            self.resolver.refs[name] = arn
            self.resolver.attributes[(name, "Name")] = f"{STACK}-{name}"
            self.resolver.attributes[(name, "Arn")] = arn

    def _emit_status_change(self, execution: object) -> None:
        """On an execution's worker thread: build the event and queue it, nothing more."""
        self.event_bus.put(status_change_event(execution))

    def _start_event_bus(self) -> None:
        """The template's EventBridge rules (functions' ``EventBridgeRule`` events), delivered by one thread."""
        arns = {name: function.arn for name, function in self.functions.items()}
        self.event_bus.route(rule_targets(self.template, self.resolver, arns, account=ACCOUNT, region=REGION))
        self.event_bus.start()

    def _create_queues(self) -> None:
        """Every queue, in moto's SQS (the scheduler's dead letters land there)."""
        sqs = boto3.client("sqs")
        for name in resources_of_type(self.template, "AWS::SQS::Queue"):
            url = sqs.create_queue(QueueName=f"{STACK}-{name}")["QueueUrl"]
            self.resolver.refs[name] = url
            self.resolver.attributes[(name, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{STACK}-{name}"
            self.resolver.attributes[(name, "QueueName")] = f"{STACK}-{name}"

    def _create_secrets(self) -> None:
        """Every Secrets Manager secret, in moto, its value generated as CloudFormation would
        (``GenerateSecretString``): a new one each start, so paging cursors sealed before a restart
        answer 400 InvalidCursor, as after a rotation. Ref: the secret's ARN."""
        client = boto3.client("secretsmanager")
        for name in resources_of_type(self.template, "AWS::SecretsManager::Secret"):
            arn = client.create_secret(Name=f"{STACK}-{name}", SecretString=secrets.token_urlsafe(32))["ARN"]
            self.resolver.refs[name] = arn

    def _create_roles(self) -> None:
        """Every IAM role, in moto (nothing enforces its policies locally; functions use ``local-lambda``)."""
        iam = boto3.client("iam")
        for name, spec in resources_of_type(self.template, "AWS::IAM::Role").items():
            trust = self.resolver.resolve(spec["Properties"].get("AssumeRolePolicyDocument", {}))
            role = iam.create_role(RoleName=f"{STACK}-{name}", AssumeRolePolicyDocument=json.dumps(trust))["Role"]
            self.resolver.refs[name] = role["RoleName"]
            self.resolver.attributes[(name, "Arn")] = role["Arn"]
            self.resolver.attributes[(name, "RoleId")] = role["RoleId"]

    def _create_schedule_groups(self) -> None:
        """Every EventBridge Scheduler group, in moto (Ref: the group's name)."""
        scheduler = boto3.client("scheduler")
        for name, spec in resources_of_type(self.template, "AWS::Scheduler::ScheduleGroup").items():
            group = self.resolver.resolve((spec.get("Properties") or {}).get("Name")) or f"{STACK}-{name}"
            arn = scheduler.create_schedule_group(Name=group)["ScheduleGroupArn"]
            self.resolver.refs[name] = group
            self.resolver.attributes[(name, "Arn")] = arn

    def _create_template_schedules(self) -> None:
        """What SAM makes of each function's ``ScheduleV2`` event: a schedule named
        ``<Function><Event>`` (unless named) whose target is the function, with Input ``{}`` unless
        given. After the restore: one kept from the last start stays as it was (with the
        dispatcher's progress) when the template did not change it."""
        scheduler = boto3.client("scheduler")
        for (function, event), unresolved in scheduled_events(self.template).items():
            props = self.resolver.resolve(unresolved)
            target: dict[str, object] = {
                "Arn": self.functions[function].arn,
                "RoleArn": props.get("RoleArn") or f"arn:aws:iam::{ACCOUNT}:role/{STACK}-{function}{event}Role",
                "Input": props.get("Input") or "{}",
            }
            if "RetryPolicy" in props:
                target["RetryPolicy"] = props["RetryPolicy"]
            if "DeadLetterConfig" in props:
                if "Arn" not in props["DeadLetterConfig"]:
                    raise NotImplementedError(f"{function}.{event}: the local stack takes a DeadLetterConfig Arn only")
                target["DeadLetterConfig"] = {"Arn": props["DeadLetterConfig"]["Arn"]}
            request = {
                "Name": props.get("Name") or f"{function}{event}",
                "GroupName": props.get("GroupName") or "default",
                "ScheduleExpression": props["ScheduleExpression"],
                "ScheduleExpressionTimezone": props.get("ScheduleExpressionTimezone") or "UTC",
                "FlexibleTimeWindow": props.get("FlexibleTimeWindow") or {"Mode": "OFF"},
                "State": props.get("State") or "ENABLED",
                "Target": target,
                **{key: props[key] for key in ("Description", "StartDate", "EndDate") if key in props},
            }
            try:
                kept = scheduler.get_schedule(Name=request["Name"], GroupName=request["GroupName"])
            except scheduler.exceptions.ResourceNotFoundException:
                scheduler.create_schedule(**request)
                continue
            compared = ("ScheduleExpression", "ScheduleExpressionTimezone", "State")
            if any(kept.get(key) != request[key] for key in compared) or any(
                kept["Target"].get(key) != value for key, value in target.items()
            ):
                scheduler.update_schedule(**request)

    def _start_stream_poller(self) -> StreamPoller:
        """Settings from the StreamFunction's DynamoDB event in the template; delivery resumes
        after the restored checkpoint."""
        stream_function = next(
            name
            for name, spec in resources_of_type(self.template, "AWS::Serverless::Function").items()
            if any(e["Type"] == "DynamoDB" for e in (spec["Properties"].get("Events") or {}).values())
        )
        event = next(
            e
            for e in self.template["Resources"][stream_function]["Properties"]["Events"].values()
            if e["Type"] == "DynamoDB"
        )["Properties"]
        filters = [json.loads(f["Pattern"]) for f in (event.get("FilterCriteria") or {}).get("Filters", [])]
        for pattern in filters:
            event_patterns.check(pattern)  # one this stack cannot match exactly fails the start
        settings = StreamSettings(
            batch_size=int(event.get("BatchSize", 100)),
            filters=filters,
            max_retry_attempts=int(event.get("MaximumRetryAttempts", 5)),
            parallelization_factor=int(event.get("ParallelizationFactor", 1)),
        )
        poller = StreamPoller(self.table_name, self.functions[stream_function], settings)
        poller.start(resume_after=self.restored.stream_checkpoint if self.restored else None)
        return poller

    # --- accounts and the local API ---------------------------------------------------

    def _provision_account(self, account_id: str, api_key: str) -> None:
        """An account with its API key and a working email connection (pointing at the sink)."""
        from automations.adapters.ssm import connection_parameter

        register_account(account_id, api_key)
        ssm = boto3.client("ssm")
        # restored from the data directory: a connection someone changed stays changed
        with contextlib.suppress(ssm.exceptions.ParameterAlreadyExists):
            ssm.put_parameter(
                Name=connection_parameter(account_id, "sendgrid"), Value=LOCAL_SENDGRID_KEY, Type="SecureString"
            )

    def _local_api_key(self) -> tuple[str, str]:
        """The local account's key and where it came from: AUTOMATIONS_API_KEY, the data directory
        (so a restarted stack prints the key that worked before), or new."""
        from automations.logic.accounts import new_api_key

        if self.config.api_key:
            return self.config.api_key, "given"
        if self.restored is not None and self.restored.local_api_key:
            return self.restored.local_api_key, "kept"
        return new_api_key(), "generated"

    def _seed_local_account(self) -> None:
        from automations.adapters.dynamo.repository import get_repository
        from automations.logic.accounts import hash_api_key

        if get_repository().account_for_api_key(hash_api_key(self.api_key)) == LOCAL_ACCOUNT_ID:
            return  # restored with its connection: registering again would only rewrite createdAt
        self._provision_account(LOCAL_ACCOUNT_ID, self.api_key)

    def _start_dispatcher(self) -> Dispatcher:
        """Fires due schedules by the local clock, from the progress the data directory kept."""
        self.deliverer = Deliverer()
        dispatcher = Dispatcher(
            now=self.clock.now,
            read_schedules=moto_schedules(ACCOUNT, REGION),
            deliver=self.deliverer,
            delete=delete_unless_changed(ACCOUNT, REGION),
            progress=self.restored.scheduler.progress if self.restored and self.restored.scheduler else None,
        )
        dispatcher.start()
        return dispatcher

    def _start_expiry(self) -> Expiry:
        """DynamoDB's TTL, by the local clock (moto keeps the setting, never deletes): ``devstack.ttl``."""
        expiry = Expiry(
            boto3.client("dynamodb"),
            self.table_name,
            attribute=self.ttl["AttributeName"],
            key=self.key_attributes,
            now=self.clock.now,
        )
        if self.ttl.get("Enabled"):
            expiry.start()
        return expiry

    def _local_api(self) -> LocalApi:
        return LocalApi(
            moto_endpoint=self.moto_endpoint,
            table_name=self.table_name,
            stream_failures=self.poller.failures,
            provision_account=self._provision_account,
            clock=self.clock,
            dispatcher=self.dispatcher,
            deliverer=self.deliverer,
            event_bus=self.event_bus,
            functions=self.functions,
            metrics=self.metrics,
            expiry=self.expiry,
        )
