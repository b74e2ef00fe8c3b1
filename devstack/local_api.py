"""The local stack's own API under ``/_local/`` (demos and black-box tests; never deployed).

| route                                | does                                                   |
|--------------------------------------|--------------------------------------------------------|
| GET  /_local/health                  | the stack is up; where moto listens                    |
| POST /_local/echo                    | answers 200 with the JSON it received (a demo target)  |
| POST /_local/accounts                | a new account with its API key and email connection    |
| GET  /_local/stream-failures         | stream records that exhausted their retries            |
| POST /_local/sendgrid/v3/mail/send   | the email sink: speaks SendGrid's mail-send API        |
| GET  /_local/emails                  | what the sink "sent": recipients, subject, bodies      |
| POST /_local/faults                  | arm a fault (see devstack/faults.py); GET lists, DELETE clears |
| GET  /_local/functions               | each function as the stack runs it: code, environment, invocations |
| POST /_local/demo                    | (re)create the demo objects events/*.json name (devstack/demo.py) |
| GET  /_local/clock                   | the local clock: ``{"now": "<ISO 8601 Z>"}`` (devstack/clock.py) |
| POST /_local/clock                   | ``{"advance": "PT24H"}`` or ``{"set": "<ISO 8601>"}``: forward; the new now |
| GET  /_local/scheduler               | the dispatcher: paused, schedules, passes, delivered, failures |
| POST /_local/scheduler               | ``{"paused": true|false}``: stops or restarts firing (the sweeper's too) |
| GET  /_local/events                  | the event bus: rules, events put, matched, delivered, failures |
| GET  /_local/metrics?name=           | the functions' metrics (EMF) as datapoints: name, unit, value, at |
| GET  /_local/ttl                     | DynamoDB's TTL by the local clock (devstack/ttl.py): passes, deleted |

Bad requests answer 400 with ``{"error": {"type", "message"}}``; a clock move backwards is refused
(type ``ClockMovesForwardOnly``) and changes nothing.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3

from automations.adapters.dynamo.repository import get_repository
from automations.domain import clock, ids, schedules
from automations.logic.accounts import new_api_key, register_api_key
from devstack import demo, faults
from devstack.clock import ClockError, LocalClock
from devstack.eventbridge import EventBus
from devstack.functions import LocalFunction
from devstack.metrics import LocalMetrics
from devstack.schedule_targets import Deliverer
from devstack.scheduler import Dispatcher
from devstack.template import function_environment, load_template, resources_of_type
from devstack.ttl import Expiry

# Set by the local stack for every function besides the template's variables (see
# LocalStack._prepare_environment): a function run in another process needs them to behave alike.
RUNTIME_VARIABLES = ("TZ", "OUTBOUND_GUARD", "POWERTOOLS_TRACE_DISABLED", "POWERTOOLS_METRICS_DISABLED")


@dataclass
class LocalRequest:
    headers: dict[str, str]
    body: Any
    query: dict[str, str]


@dataclass
class LocalResponse:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


LocalRoute = Callable[[LocalRequest], LocalResponse]


@dataclass
class EmailSink:
    """Accepts SendGrid v3 mail-send requests and keeps what would have been sent."""

    emails: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()

    def send(self, request: LocalRequest) -> LocalResponse:
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return LocalResponse(401, {"errors": [{"message": "The provided authorization grant is invalid"}]})
        mail = request.body if isinstance(request.body, dict) else {}
        try:
            recipients = [to["email"] for p in mail["personalizations"] for to in p["to"]]
            contents = {c["type"]: c["value"] for c in mail["content"]}
            email = {
                "messageId": uuid.uuid4().hex,
                "to": recipients,
                "from": mail["from"]["email"],
                "subject": mail["subject"],
                "text": contents.get("text/plain"),
                "html": contents.get("text/html"),
                "receivedAt": clock.iso(clock.now()),
            }
        except (KeyError, TypeError) as error:
            return LocalResponse(400, {"errors": [{"message": f"invalid mail-send request: missing {error}"}]})
        with self._lock:
            self.emails.append(email)
        return LocalResponse(202, None, {"X-Message-Id": email["messageId"]})

    def list(self, request: LocalRequest) -> LocalResponse:
        to = request.query.get("to")
        with self._lock:
            items = [e for e in self.emails if not to or to in e["to"]]
        return LocalResponse(200, {"items": items})


@dataclass
class LocalApi:
    moto_endpoint: str
    table_name: str
    stream_failures: list[dict[str, Any]]
    provision_account: Callable[[str, str], None]
    clock: LocalClock
    dispatcher: Dispatcher
    deliverer: Deliverer
    event_bus: EventBus = field(default_factory=EventBus)
    sink: EmailSink = field(default_factory=EmailSink)
    functions: dict[str, LocalFunction] = field(default_factory=dict)  # for their invocation counts
    metrics: LocalMetrics | None = None  # what the functions published (devstack.metrics)
    expiry: Expiry | None = None  # DynamoDB's TTL (devstack.ttl)

    def list_metrics(self, request: LocalRequest) -> LocalResponse:
        items = self.metrics.query(request.query.get("name")) if self.metrics is not None else []
        return LocalResponse(200, {"items": items})

    def routes(self) -> dict[tuple[str, str], LocalRoute]:
        return {
            ("GET", "/_local/health"): self.health,
            ("POST", "/_local/echo"): lambda r: LocalResponse(200, {"received": r.body}),
            ("POST", "/_local/accounts"): self.create_account,
            ("GET", "/_local/stream-failures"): self.failures,
            ("POST", "/_local/sendgrid/v3/mail/send"): self.sink.send,
            ("GET", "/_local/emails"): self.sink.list,
            ("POST", "/_local/faults"): self.arm_fault,
            ("GET", "/_local/faults"): lambda _: LocalResponse(200, {"items": faults.BOARD.armed()}),
            ("DELETE", "/_local/faults"): self.clear_faults,
            ("GET", "/_local/functions"): self.describe_functions,
            ("POST", "/_local/demo"): self.seed_demo,
            ("GET", "/_local/clock"): lambda _: LocalResponse(200, {"now": clock.iso(self.clock.now())}),
            ("POST", "/_local/clock"): self.move_clock,
            ("GET", "/_local/scheduler"): lambda _: LocalResponse(200, self._scheduler_status()),
            ("POST", "/_local/scheduler"): self.control_scheduler,
            ("GET", "/_local/events"): lambda _: LocalResponse(200, self.event_bus.status()),
            ("GET", "/_local/metrics"): self.list_metrics,
            ("GET", "/_local/ttl"): lambda _: LocalResponse(200, self._expiry_status()),
        }

    def move_clock(self, request: LocalRequest) -> LocalResponse:
        """``{"advance": "<ISO 8601 duration>"}`` or ``{"set": "<ISO 8601 time with zone>"}``."""
        body = request.body
        if not isinstance(body, dict) or len(body) != 1 or not ({"advance", "set"} & body.keys()):
            raise ValueError('POST /_local/clock takes {"advance": "PT24H"} or {"set": "2027-03-26T08:00:00Z"}')
        ((how, value),) = body.items()
        if not isinstance(value, str):
            raise ValueError(f"{how}: give a string (an ISO 8601 {'duration' if how == 'advance' else 'time'})")
        try:
            if how == "advance":
                moved = self.clock.advance(schedules.parse_duration(value))
            else:
                moved = self.clock.set(_aware_time(value))
        except ClockError as error:
            return LocalResponse(400, {"error": {"type": "ClockMovesForwardOnly", "message": str(error)}})
        if self.expiry is not None:  # what expired with the move goes now, not within the minute
            self.expiry.nudge()
        return LocalResponse(200, {"now": clock.iso(moved)})

    def _expiry_status(self) -> dict[str, Any]:
        if self.expiry is None:
            return {"attribute": None, "passes": 0, "deleted": 0}
        return {"attribute": self.expiry.attribute, "passes": self.expiry.passes, "deleted": self.expiry.deleted}

    def control_scheduler(self, request: LocalRequest) -> LocalResponse:
        """``{"paused": true}`` stops firing schedules (the sweeper's too); ``false`` starts again."""
        body = request.body
        if not isinstance(body, dict) or body.keys() != {"paused"} or not isinstance(body["paused"], bool):
            raise ValueError('POST /_local/scheduler takes {"paused": true} or {"paused": false}')
        if body["paused"]:
            self.dispatcher.pause()
        else:
            self.dispatcher.resume()
        return LocalResponse(200, self._scheduler_status())

    def _scheduler_status(self) -> dict[str, Any]:
        return {
            "paused": self.dispatcher.paused,
            "schedules": self.dispatcher.schedule_count,
            "passes": self.dispatcher.passes,  # grows on every look at the schedules, paused or not
            "delivered": self.deliverer.delivered,
            "failures": list(self.deliverer.failures),  # the latest firings not delivered
        }

    def arm_fault(self, request: LocalRequest) -> LocalResponse:
        """Faults on demand (devstack/faults.py); a bad request is a ValueError, answered 400."""
        faults.BOARD.arm(request.body)
        return LocalResponse(201, {"items": faults.BOARD.armed()})

    def clear_faults(self, _: LocalRequest) -> LocalResponse:
        faults.BOARD.clear()
        return LocalResponse(200, {"items": []})

    def health(self, _: LocalRequest) -> LocalResponse:
        return LocalResponse(200, {"status": "ok", "motoEndpoint": self.moto_endpoint, "table": self.table_name})

    def create_account(self, _: LocalRequest) -> LocalResponse:
        account_id, key = ids.new_id("acct"), new_api_key()
        self.provision_account(account_id, key)
        return LocalResponse(201, {"accountId": account_id, "apiKey": key})

    def failures(self, _: LocalRequest) -> LocalResponse:
        return LocalResponse(200, {"items": json.loads(json.dumps(self.stream_failures, default=str))})

    def describe_functions(self, _: LocalRequest) -> LocalResponse:
        """What ``python -m devstack.invoke`` needs to run one function in its own process, against
        this stack: where moto answers, and each function's code and environment, resolved.

        The stack resolved every template variable once and exported it to its own process (one
        process, one environment), so the values are read back from there: they are exactly what
        the in-process handlers see. ``stats`` counts the invocations so far and their billed
        duration (what the cost bench reads).
        """
        template = load_template()
        globals_ = (template.get("Globals") or {}).get("Function", {})
        lambda_ = boto3.session.Session().client("lambda")  # a session of its own: requests come on many threads
        arns = {f["FunctionName"]: f["FunctionArn"] for f in lambda_.list_functions()["Functions"]}
        functions = {}
        for name, spec in resources_of_type(template, "AWS::Serverless::Function").items():
            props = {**globals_, **spec["Properties"]}
            variables = [*function_environment(template, name), *RUNTIME_VARIABLES]
            functions[name] = {
                "arn": next(arn for physical, arn in arns.items() if physical.endswith(f"-{name}")),
                "codeUri": props["CodeUri"],
                "handler": props["Handler"],
                "timeout": int(props.get("Timeout", 3)),
                "memorySize": int(props.get("MemorySize", 128)),
                "environment": {key: os.environ[key] for key in variables if key in os.environ},
            }
            if name in self.functions:
                functions[name]["stats"] = self.functions[name].stats()
        body = {
            "motoEndpoint": self.moto_endpoint,
            "region": os.environ["AWS_REGION"],
            "table": self.table_name,
            "functions": functions,
        }
        return LocalResponse(200, body)

    def seed_demo(self, request: LocalRequest) -> LocalResponse:
        """The demo objects, (re)created; the demo flow calls the echo endpoint of the stack asked."""
        host = request.headers.get("host")
        if not host:
            raise ValueError("POST /_local/demo needs a Host header: the demo flow calls this stack's echo endpoint")
        return LocalResponse(200, demo.seed(f"http://{host}/_local/echo"))


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"set: {text!r} is not an ISO 8601 time (e.g. 2027-03-26T08:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"set: {text!r} has no time zone; add Z (UTC) or an offset")
    return moment


def register_account(account_id: str, api_key: str) -> None:
    register_api_key(get_repository(), account_id, api_key)
