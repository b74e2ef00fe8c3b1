"""Fixtures shared by every test layer: events, handlers from template.yaml, a moto table."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from moto import mock_aws

from automations import executions
from automations.repository import dynamo
from automations.repository.dynamo import DynamoRepository
from automations.settings import get_settings
from devstack.functions import LambdaContext, load_handler_module
from devstack.template import ROOT, load_template, table_create_args

EVENTS = ROOT / "events"
TABLE = "automations-test"


def load_event(name: str) -> dict[str, Any]:
    """The same events/*.json that `sam local invoke -e` uses."""
    return json.loads((EVENTS / name).read_text())


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return load_template()


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext(
        function_name="test",
        invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:test",
        memory_limit_in_mb=512,
        timeout_seconds=30,
        aws_request_id="test-request",
    )


@pytest.fixture
def handler_of(template: dict[str, Any]) -> Callable[[str], Callable[..., Any]]:
    """A fresh import of a function's handler, found through its CodeUri/Handler in the template."""

    def load(logical_id: str) -> Callable[..., Any]:
        props = template["Resources"][logical_id]["Properties"]
        return load_handler_module(props["CodeUri"], props["Handler"])[1]

    return load


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "TABLE_NAME": TABLE,
        "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:interpreter",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "ALLOW_PRIVATE_TARGETS": "true",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    caches = (get_settings, dynamo.get_repository, executions.get_engine)
    for cached in caches:
        cached.cache_clear()
    yield
    for cached in caches:
        cached.cache_clear()


@pytest.fixture
def repo(aws_env: None, template: dict[str, Any]) -> Iterator[DynamoRepository]:
    """A moto table built from template.yaml's definition (keys, indexes, stream)."""
    with mock_aws():
        boto3.client("dynamodb").create_table(**table_create_args(template, TABLE))
        yield dynamo.get_repository()


class TargetServer:
    """A real HTTP server on loopback that flows call: scripted answers, recorded requests."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                with target._lock:
                    target.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    script = target.scripts.get(path) or [(200, {"Content-Type": "application/json"}, b"{}")]
                    status, headers, payload = script.pop(0) if len(script) > 1 else script[0]
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, path: str, *answers: int | tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> str:
        """Answer ``path`` with these statuses (and JSON bodies) in order; the last one repeats."""
        script = []
        for answer in answers:
            status, body, headers = (answer, {"ok": answer < 400}, {}) if isinstance(answer, int) else (*answer, {})[:3]
            script.append((status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()))
        with self._lock:
            self.scripts[path] = script
        return self.url(path)

    def calls(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"].split("?")[0] == path]


@pytest.fixture(scope="session")
def target() -> Iterator[TargetServer]:
    server = TargetServer()
    yield server
    server.server.shutdown()
