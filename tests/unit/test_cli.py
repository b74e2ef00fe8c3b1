"""The operator CLI (``automations``) against a stub of the REST API on 127.0.0.1.

The stub answers the API's contract (JSON, camelCase, ``{"error": {"type", "message"}}``) and
records every request, so each test checks both what the CLI asked and what it printed.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from click.testing import CliRunner, Result

from automations_cli.main import cli
from devstack.ports import free_port

KEY = "cli-test-key"
# what the developer's shell may have set must not leak into a test
CLEAN_ENV: dict[str, str | None] = {"AUTOMATIONS_API_URL": None, "AUTOMATIONS_API_KEY": None, "NO_COLOR": None}


@dataclass
class Request:
    method: str
    path: str  # as sent (still quoted)
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


Handler = Callable[[Request], tuple[int, Any]]


class StubApi:
    """The engine's REST API as the CLI sees it: scripted answers per route, requests recorded."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        self.release = threading.Event()  # what a hanging route waits for
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                url = urlsplit(self.path)
                request = Request(
                    self.command, url.path, dict(parse_qsl(url.query)), dict(self.headers), json.loads(raw or b"null")
                )
                stub.requests.append(request)
                handler = stub.routes.get((self.command, url.path))
                if handler is None:
                    error = {"type": "NotFound", "message": f"no route for {self.command} {url.path}"}
                    status, body = 404, {"error": error}
                else:
                    status, body = handler(request)
                payload = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if not isinstance(body, bytes) else "text/html")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        # a short poll interval: shutdown() at the end of each test waits for one poll
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def on(self, method: str, path: str, answer: Handler | tuple[int, Any]) -> None:
        self.routes[(method, path)] = answer if callable(answer) else (lambda _request: answer)

    def hang(self, method: str, path: str) -> None:
        """Answer only when the test ends (a server that stopped answering)."""

        def wait(_request: Request) -> tuple[int, Any]:
            self.release.wait(timeout=30)
            return 200, {}

        self.on(method, path, wait)

    def only_request(self) -> Request:
        (request,) = self.requests
        return request


@pytest.fixture
def api() -> Iterator[StubApi]:
    stub = StubApi()
    yield stub
    stub.release.set()
    stub.server.shutdown()
    stub.server.server_close()


def automations(api: StubApi, *args: str, env: dict[str, str | None] | None = None, color: bool = False) -> Result:
    """``automations --api-url <stub> --api-key KEY ARGS``; ``color=True`` is a terminal."""
    return CliRunner().invoke(
        cli, ["--api-url", api.url, "--api-key", KEY, *args], env={**CLEAN_ENV, **(env or {})}, color=color
    )


def api_error(status: int, type_: str, message: str) -> tuple[int, Any]:
    return status, {"error": {"type": type_, "message": message}}


# --- the contract's shapes ------------------------------------------------------------------------


def summary(run_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "runId": run_id,
        "flowId": "flow_A",
        "flowVersion": 1,
        "triggerId": f"trg_{run_id}",
        "triggerKind": "webhook",
        "status": status,
        "createdAt": "2025-01-02T10:00:00.000Z",
        "scheduledFor": "2025-01-02T10:00:00.000Z",
        "overdue": False,
        "deadline": None,
        "correlationKey": None,
        "startedAt": "2025-01-02T10:00:00.100Z",
        "endedAt": "2025-01-02T10:00:01.600Z",
        "durationMs": 1500,
        "error": None,
        "stepCounts": {"completed": 1, "failed": 0},
        "failedStep": None,
        "retriggerOf": None,
        "retriggeredBy": [],
        **extra,
    }


FAILED_RUN = summary(
    "run_FAILED",
    "failed",
    error={"type": "StepFailed", "message": "step notify failed"},
    stepCounts={"completed": 1, "failed": 1},
    failedStep={"nodeId": "notify", "errorType": "AuthenticationError", "message": "401 from CRM", "httpStatus": 401},
)
COMPLETED_RUN = summary("run_DONE", "completed")


def step(number: int, node_id: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "nodeId": node_id,
        "nodeType": "http_request",
        "stepNumber": number,
        "status": status,
        "queuedAt": "2025-01-02T10:00:00.000Z",
        "startedAt": "2025-01-02T10:00:00.200Z",
        "endedAt": "2025-01-02T10:00:00.450Z",
        "input": {},
        "output": None,
        "error": None,
        "history": [],
        "attempts": [],
        **extra,
    }


def attempt(number: int, status: str, http_status: int, error: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "attempt": number,
        "status": status,
        "startedAt": "2025-01-02T10:00:00.200Z",
        "endedAt": "2025-01-02T10:00:00.450Z",
        "durationMs": 250,
        "error": error,
        "http": {"request": {"method": "POST"}, "response": {"status": http_status, "headers": {}, "body": {}}},
    }


AUTH_ERROR = {"type": "AuthenticationError", "message": "the target answered 401: token revoked", "retryable": False}
CONSOLE_URL = "https://us-east-1.console.aws.amazon.com/states/home?region=us-east-1#/v2/executions/details/arn"
FAILED_RUN_DETAIL = {
    **FAILED_RUN,
    "history": [
        {"status": "scheduled", "at": "2025-01-02T10:00:00.000Z"},
        {"status": "running", "at": "2025-01-02T10:00:00.100Z"},
        {"status": "failed", "at": "2025-01-02T10:00:01.600Z"},
    ],
    "trigger": {"triggerId": "trg_run_FAILED", "kind": "webhook", "receivedAt": "2025-01-02T10:00:00.000Z"},
    "executions": [
        {
            "name": "run_FAILED",
            "startAt": None,
            "requestedAt": "2025-01-02T10:00:00.000Z",
            "startedAt": "2025-01-02T10:00:00.050Z",
            "endedAt": "2025-01-02T10:00:01.600Z",
            "outcome": "reached_end",
            "error": None,
            "reason": None,
            "arn": "arn:aws:states:us-east-1:123456789012:execution:FlowInterpreter:run_FAILED",
            "consoleUrl": CONSOLE_URL,
        }
    ],
    # out of order on purpose: the CLI shows them by step number
    "steps": [
        step(
            2,
            "notify",
            "failed",
            error=AUTH_ERROR,
            attempts=[attempt(1, "failed", 401, AUTH_ERROR)],
        ),
        step(1, "fetch", "completed", attempts=[attempt(1, "completed", 200)]),
    ],
}
OPS_SUMMARY = {
    "window": "PT1H",
    "from": "2025-01-02T09:00:00Z",
    "to": "2025-01-02T10:00:00Z",
    "previousFrom": "2025-01-02T08:00:00Z",
    "rule": "failed >= 5 and at least 3x the previous window",
    "account": {"current": {"completed": 40, "failed": 12}, "previous": {"completed": 38, "failed": 2}, "spike": True},
    "flows": [
        {
            "flowId": "flow_A",
            "name": "Tell the CRM",
            "current": {"completed": 10, "failed": 12},
            "previous": {"completed": 9, "failed": 1},
            "spike": True,
        },
        {"flowId": "flow_B", "name": "Reminders", "current": {"completed": 30}, "previous": {}, "spike": False},
    ],
    "spikingFlows": 1,
    "partial": False,
}
OVERDUE = {
    "count": 2,
    "byFlow": [{"flowId": "flow_B", "count": 2, "oldest": "2025-01-02T08:00:00Z"}],
    "items": [
        summary("run_LATE1", "scheduled", flowId="flow_B", scheduledFor="2025-01-02T08:00:00Z", overdue=True),
        summary("run_LATE2", "scheduled", flowId="flow_B", scheduledFor="2025-01-02T08:30:00Z", overdue=True),
    ],
    "nextCursor": None,
}


def lines_with(output: str, text: str) -> list[str]:
    return [line for line in output.splitlines() if text in line]


# --- runs list ------------------------------------------------------------------------------------


def test_runs_list_of_a_flow_prints_a_table_with_where_each_run_failed(api: StubApi) -> None:
    # Given a flow with a failed and a completed run
    api.on("GET", "/flows/flow_A/runs", (200, {"items": [FAILED_RUN, COMPLETED_RUN], "nextCursor": None}))
    # When an operator lists the flow's failed runs
    result = automations(api, "runs", "list", "--flow", "flow_A", "--status", "failed", "--limit", "10")
    # Then the CLI asked the flow's history with the filters and the bearer key
    assert result.exit_code == 0, result.output
    request = api.only_request()
    assert request.query == {"status": "failed", "limit": "10"}
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    # and prints one row per run: the failed step's node, error type and HTTP status inline
    (failed_row,) = lines_with(result.stdout, "run_FAILED")
    assert "failed" in failed_row
    assert "notify AuthenticationError HTTP 401" in failed_row
    assert "1.5s" in failed_row
    (done_row,) = lines_with(result.stdout, "run_DONE")
    assert "completed" in done_row
    # times as given, ISO and UTC
    assert "2025-01-02T10:00:00.000Z" in done_row
    # one flow's runs: no FLOW column
    assert "FLOW" not in result.stdout.splitlines()[0]


def test_runs_list_without_a_flow_reads_every_flow_of_the_account_with_the_time_window(api: StubApi) -> None:
    api.on("GET", "/runs", (200, {"items": [FAILED_RUN], "nextCursor": None}))
    result = automations(api, "runs", "list", "--from", "2025-01-01T00:00:00Z", "--to", "2025-01-03T00:00:00Z")
    assert result.exit_code == 0, result.output
    assert api.only_request().query == {"from": "2025-01-01T00:00:00Z", "to": "2025-01-03T00:00:00Z"}
    assert "FLOW" in result.stdout.splitlines()[0]
    assert "flow_A" in lines_with(result.stdout, "run_FAILED")[0]


def test_runs_list_json_prints_the_apis_answer_as_is(api: StubApi) -> None:
    page = {"items": [FAILED_RUN, COMPLETED_RUN], "nextCursor": "cursor-2"}
    api.on("GET", "/flows/flow_A/runs", (200, page))
    result = automations(api, "runs", "list", "--flow", "flow_A", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == page


def test_runs_list_shows_one_page_and_says_how_to_get_the_next_on_stderr(api: StubApi) -> None:
    api.on("GET", "/flows/flow_A/runs", (200, {"items": [FAILED_RUN], "nextCursor": "cursor-2"}))
    result = automations(api, "runs", "list", "--flow", "flow_A")
    assert result.exit_code == 0, result.output
    assert "cursor-2" not in result.stdout
    assert "--cursor cursor-2" in result.stderr


def paged(pages: dict[str | None, dict[str, Any]]) -> Handler:
    return lambda request: (200, pages[request.query.get("cursor")])


def test_runs_list_all_follows_next_cursor_to_the_end(api: StubApi) -> None:
    # Given three pages of runs
    runs = [summary(f"run_{n}", "completed") for n in range(5)]
    api.on(
        "GET",
        "/flows/flow_A/runs",
        paged(
            {
                None: {"items": runs[:2], "nextCursor": "c2"},
                "c2": {"items": runs[2:4], "nextCursor": "c3"},
                "c3": {"items": runs[4:], "nextCursor": None},
            }
        ),
    )
    # When the operator asks for all of them as JSON
    result = automations(api, "runs", "list", "--flow", "flow_A", "--limit", "2", "--all", "--json")
    # Then the CLI followed each cursor once, and printed every run in one answer of the same shape
    assert result.exit_code == 0, result.output
    assert [r.query.get("cursor") for r in api.requests] == [None, "c2", "c3"]
    assert all(r.query["limit"] == "2" for r in api.requests)
    assert json.loads(result.stdout) == {"items": runs, "nextCursor": None}
    # and as a table, too
    api.requests.clear()
    table = automations(api, "runs", "list", "--flow", "flow_A", "--all")
    assert table.exit_code == 0, table.output
    assert [line.split()[0] for line in table.stdout.splitlines()[1:]] == [r["runId"] for r in runs]
    assert table.stderr == ""


# --- runs show ------------------------------------------------------------------------------------


def test_runs_show_prints_the_run_its_steps_in_order_and_its_executions(api: StubApi) -> None:
    # Given a run that failed at its second step with a 401
    api.on("GET", "/runs/run_FAILED", (200, FAILED_RUN_DETAIL))
    # When an operator shows it
    result = automations(api, "runs", "show", "run_FAILED")
    # Then the run comes first, then its steps by number, then its executions
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.index("run_FAILED") < out.index("Steps") < out.index("Executions")
    assert "StepFailed: step notify failed" in out
    fetch_row, notify_row = lines_with(out, "http_request")
    assert fetch_row.split()[:4] == ["1", "fetch", "http_request", "completed"]
    # step number, node, type, status, attempts, duration, HTTP status, error type and message
    assert notify_row.split()[:7] == ["2", "notify", "http_request", "failed", "1", "250ms", "401"]
    assert "AuthenticationError: the target answered 401: token revoked" in notify_row
    # and each execution with its console URL
    (execution_row,) = lines_with(out, CONSOLE_URL)
    assert "reached_end" in execution_row


def test_runs_show_says_which_steps_a_retrigger_reused(api: StubApi) -> None:
    # Given a run re-triggered from its second step: the first was carried over, not run again
    carried = step(1, "fetch", "completed", carriedFrom="run_FAILED", attempts=[attempt(1, "completed", 200)])
    detail = {**FAILED_RUN_DETAIL, "runId": "run_NEW", "retriggerOf": "run_FAILED", "steps": [carried]}
    api.on("GET", "/runs/run_NEW", (200, detail))
    # When it is shown
    result = automations(api, "runs", "show", "run_NEW")
    # Then the link and the reuse are visible
    assert result.exit_code == 0, result.output
    assert "run_FAILED" in lines_with(result.stdout, "retrigger of")[0]
    assert "(reused from run_FAILED)" in lines_with(result.stdout, "fetch")[0]


def test_runs_show_json_prints_the_apis_answer_as_is(api: StubApi) -> None:
    api.on("GET", "/runs/run_FAILED", (200, FAILED_RUN_DETAIL))
    result = automations(api, "runs", "show", "run_FAILED", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == FAILED_RUN_DETAIL


def test_a_run_id_cannot_reach_another_route(api: StubApi) -> None:
    # a run id is quoted into one path segment
    automations(api, "runs", "show", "../flows")
    assert api.only_request().path == "/runs/..%2Fflows"


# --- operator actions -----------------------------------------------------------------------------


def test_runs_retrigger_posts_an_empty_body_and_prints_the_new_run(api: StubApi) -> None:
    api.on("POST", "/runs/run_FAILED/retrigger", (202, {"runId": "run_NEW"}))
    result = automations(api, "runs", "retrigger", "run_FAILED")
    assert result.exit_code == 0, result.output
    assert api.only_request().body == {}
    assert "run_NEW" in result.stdout


def test_runs_retrigger_from_a_step_says_which(api: StubApi) -> None:
    api.on("POST", "/runs/run_FAILED/retrigger", (202, {"runId": "run_NEW"}))
    result = automations(api, "runs", "retrigger", "run_FAILED", "--from-step", "failed", "--json")
    assert result.exit_code == 0, result.output
    assert api.only_request().body == {"fromStep": "failed"}
    assert json.loads(result.stdout) == {"runId": "run_NEW"}


def test_runs_cancel_sends_the_reason(api: StubApi) -> None:
    api.on("POST", "/runs/run_LATE1/cancel", (202, {"runId": "run_LATE1", "status": "cancelled"}))
    result = automations(api, "runs", "cancel", "run_LATE1", "--reason", "customer unsubscribed")
    assert result.exit_code == 0, result.output
    assert api.only_request().body == {"reason": "customer unsubscribed"}
    assert "run_LATE1" in result.stdout and "cancelled" in result.stdout


def test_runs_resume_prints_the_new_execution(api: StubApi) -> None:
    answer = {"runId": "run_FAILED", "execution": "run_FAILED-r1"}
    api.on("POST", "/runs/run_FAILED/resume", (202, answer))
    result = automations(api, "runs", "resume", "run_FAILED")
    assert result.exit_code == 0, result.output
    assert api.only_request().method == "POST"
    assert "run_FAILED-r1" in result.stdout
    as_json = automations(api, "runs", "resume", "run_FAILED", "--json")
    assert json.loads(as_json.stdout) == answer


# --- ops ------------------------------------------------------------------------------------------


def test_ops_summary_prints_counts_per_flow_against_the_previous_window_with_spikes(api: StubApi) -> None:
    api.on("GET", "/ops/summary", (200, OPS_SUMMARY))
    result = automations(api, "ops", "summary", "--window", "PT1H")
    assert result.exit_code == 0, result.output
    assert api.only_request().query == {"window": "PT1H"}
    out = result.stdout
    assert OPS_SUMMARY["rule"] in out
    header = lines_with(out, "FLOW")[0].split()
    assert header[header.index("completed") :] == ["completed", "failed", "SPIKE"]
    (flow_a,) = lines_with(out, "flow_A")
    assert "10 (9)" in flow_a and "12 (1)" in flow_a and "SPIKE" in flow_a
    (flow_b,) = lines_with(out, "flow_B")
    assert "30 (0)" in flow_b and "SPIKE" not in flow_b
    (account,) = lines_with(out, "all flows")
    assert "12 (2)" in account and "SPIKE" in account
    as_json = automations(api, "ops", "summary", "--json")
    assert json.loads(as_json.stdout) == OPS_SUMMARY


def test_ops_overdue_prints_counts_per_flow_and_the_runs(api: StubApi) -> None:
    api.on("GET", "/ops/overdue", (200, OVERDUE))
    result = automations(api, "ops", "overdue", "--flow", "flow_B")
    assert result.exit_code == 0, result.output
    assert api.only_request().query == {"flowId": "flow_B"}
    assert "2 overdue runs" in result.stdout
    assert "2025-01-02T08:00:00Z" in lines_with(result.stdout, "flow_B")[0]
    assert len(lines_with(result.stdout, "run_LATE")) == 2
    as_json = automations(api, "ops", "overdue", "--json")
    assert json.loads(as_json.stdout) == OVERDUE
    assert api.requests[-1].query == {}


# --- exit codes -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "exit_code"),
    [
        (api_error(404, "NotFound", "run run_X not found"), 3),
        (api_error(409, "Conflict", "run run_X is completed: only a failed run can be re-triggered"), 4),
        (api_error(401, "Unauthorized", "invalid API key"), 5),
        (api_error(403, "Forbidden", "not allowed"), 5),
        (api_error(422, "ValidationFailed", "invalid request: fromStep: no such node"), 1),
        (api_error(500, "InternalError", "internal error; the request id is in the logs"), 6),
    ],
)
def test_an_error_answer_prints_the_apis_message_and_exits_with_its_code(
    api: StubApi, answer: tuple[int, Any], exit_code: int
) -> None:
    # Given an API answering an error
    api.on("POST", "/runs/run_X/retrigger", answer)
    # When the operator acts
    result = automations(api, "runs", "retrigger", "run_X")
    # Then the exit code says which kind, and the API's message goes to stderr, nothing to stdout
    assert result.exit_code == exit_code, result.output
    assert answer[1]["error"]["message"] in result.stderr
    assert result.stdout == ""


def test_a_5xx_without_json_is_the_api_being_unavailable(api: StubApi) -> None:
    api.on("GET", "/runs/run_X", (502, b"<html>Bad Gateway</html>"))
    result = automations(api, "runs", "show", "run_X")
    assert result.exit_code == 6
    assert "HTTP 502" in result.stderr


def test_a_success_without_json_is_an_error_not_a_traceback(api: StubApi) -> None:
    api.on("GET", "/runs/run_X", (200, b"<html>a login page</html>"))
    result = automations(api, "runs", "show", "run_X")
    assert result.exit_code == 1
    assert "without JSON" in result.stderr


def test_a_port_nobody_listens_on_is_unreachable() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = CliRunner().invoke(cli, ["--api-url", url, "--api-key", KEY, "runs", "show", "run_X"], env=CLEAN_ENV)
    assert result.exit_code == 6
    assert f"cannot reach the API at {url}: Connection refused" in result.stderr
    assert "Traceback" not in result.output


def test_an_api_that_does_not_answer_in_time_is_unreachable(api: StubApi) -> None:
    # Given an API that accepts the connection but does not answer
    api.hang("GET", "/runs/run_X")
    # When the CLI waits at most 0.2 s
    result = automations(api, "--timeout", "0.2", "runs", "show", "run_X")
    # Then it gives up as on an unreachable API
    assert result.exit_code == 6
    assert "did not answer within 0.2s" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "list", "--status", "lost"],
        ["runs", "show"],
        ["runs", "list", "--limit", "0"],
        ["runs", "frobnicate"],
    ],
)
def test_usage_errors_exit_2_without_calling_the_api(api: StubApi, args: list[str]) -> None:
    result = automations(api, *args)
    assert result.exit_code == 2, result.output
    assert api.requests == []


def test_no_api_key_is_a_usage_error_naming_the_variable(api: StubApi) -> None:
    result = CliRunner().invoke(cli, ["--api-url", api.url, "runs", "show", "run_X"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "AUTOMATIONS_API_KEY" in result.stderr
    assert api.requests == []


def test_an_api_url_that_is_not_http_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["--api-url", "127.0.0.1:3000", "runs", "list"], env=CLEAN_ENV)
    assert result.exit_code == 2
    assert "--api-url" in result.stderr


def test_help_documents_the_exit_codes() -> None:
    result = CliRunner().invoke(cli, ["--help"], env=CLEAN_ENV)
    assert result.exit_code == 0
    for line in ("3  not found (404)", "4  conflict", "5  authentication", "6  cannot reach the API"):
        assert line in result.stdout


# --- configuration: env vars and flags ------------------------------------------------------------


def test_env_vars_give_the_url_and_key(api: StubApi) -> None:
    api.on("GET", "/runs/run_DONE", (200, {**COMPLETED_RUN, "steps": [], "executions": [], "history": []}))
    result = CliRunner().invoke(
        cli,
        ["runs", "show", "run_DONE"],
        env={**CLEAN_ENV, "AUTOMATIONS_API_URL": api.url, "AUTOMATIONS_API_KEY": "key-from-env"},
    )
    assert result.exit_code == 0, result.output
    assert api.only_request().headers["Authorization"] == "Bearer key-from-env"


def test_flags_win_over_env_vars(api: StubApi) -> None:
    # Given env vars naming a dead port and another key
    api.on("GET", "/runs/run_DONE", (200, {**COMPLETED_RUN, "steps": [], "executions": [], "history": []}))
    env = {**CLEAN_ENV, "AUTOMATIONS_API_URL": f"http://127.0.0.1:{free_port()}", "AUTOMATIONS_API_KEY": "env-key"}
    # When the flags name the stub and a key
    result = CliRunner().invoke(
        cli, ["--api-url", api.url, "--api-key", "flag-key", "runs", "show", "run_DONE"], env=env
    )
    # Then the flags are used
    assert result.exit_code == 0, result.output
    assert api.only_request().headers["Authorization"] == "Bearer flag-key"


# --- colour ---------------------------------------------------------------------------------------

GREEN, RED = "\x1b[32m", "\x1b[31m"


def test_statuses_are_coloured_on_a_terminal(api: StubApi) -> None:
    api.on("GET", "/runs", (200, {"items": [FAILED_RUN, COMPLETED_RUN], "nextCursor": None}))
    result = automations(api, "runs", "list", color=True)
    assert result.exit_code == 0, result.output
    assert RED + "failed" in lines_with(result.stdout, "run_FAILED")[0]
    assert GREEN + "completed" in lines_with(result.stdout, "run_DONE")[0]


def test_no_colour_when_stdout_is_not_a_terminal(api: StubApi) -> None:
    api.on("GET", "/runs", (200, {"items": [FAILED_RUN, COMPLETED_RUN], "nextCursor": None}))
    result = automations(api, "runs", "list", color=False)
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout


def test_no_colour_when_no_color_is_set_even_on_a_terminal(api: StubApi) -> None:
    api.on("GET", "/runs/run_FAILED", (200, FAILED_RUN_DETAIL))
    result = automations(api, "runs", "show", "run_FAILED", env={"NO_COLOR": "1"}, color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b[" not in result.stdout


# --- keys -----------------------------------------------------------------------------------------

LIVE_KEY = {"keyId": "apikey:0123456789ab", "prefix": "ak_AbCdE", "createdAt": "2026-11-25T10:00:00Z", "name": "ci"}
REVOKED_KEY = {
    "keyId": "apikey:ba9876543210",
    "prefix": "ak_ZyXwV",
    "createdAt": "2026-11-24T10:00:00Z",
    "revokedAt": "2026-11-25T09:00:00Z",
}


def with_delete(api: StubApi) -> StubApi:
    """The stub answers DELETE too (only the key routes use it)."""
    handler = api.server.RequestHandlerClass
    handler.do_DELETE = handler._answer  # type: ignore[attr-defined]
    return api


def test_keys_list_prints_ids_prefixes_and_which_are_revoked(api: StubApi) -> None:
    # Given an account with a live key and a revoked one
    api.on("GET", "/keys", (200, {"items": [LIVE_KEY, REVOKED_KEY]}))

    # When the operator lists keys
    result = automations(api, "keys", "list")

    # Then one line per key: id, prefix, state, name
    assert result.exit_code == 0, result.output
    assert "ak_AbCdE" in lines_with(result.stdout, "apikey:0123456789ab")[0]
    assert "live" in lines_with(result.stdout, "apikey:0123456789ab")[0]
    assert "revoked 2026-11-25T09:00:00Z" in lines_with(result.stdout, "apikey:ba9876543210")[0]


def test_keys_list_json_prints_the_apis_answer_as_is(api: StubApi) -> None:
    api.on("GET", "/keys", (200, {"items": [LIVE_KEY]}))
    result = automations(api, "keys", "list", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"items": [LIVE_KEY]}


def test_keys_create_sends_the_name_and_prints_the_key_once(api: StubApi) -> None:
    # Given the API makes the key
    created = {**LIVE_KEY, "apiKey": "ak_AbCdEfGhIjKl"}
    api.on("POST", "/keys", (201, created))

    # When the operator creates a named key
    result = automations(api, "keys", "create", "--name", "ci")

    # Then the name was sent, and the key is printed with a warning that it is shown once
    assert result.exit_code == 0, result.output
    assert api.only_request().body == {"name": "ci"}
    assert "ak_AbCdEfGhIjKl" in result.stdout and "shown this once" in result.stdout


def test_keys_revoke_deletes_the_key_by_id(api: StubApi) -> None:
    # Given a key the API revokes
    with_delete(api).on("DELETE", "/keys/apikey:0123456789ab", (200, {**LIVE_KEY, "revokedAt": "2026-11-25T11:00:00Z"}))

    # When the operator revokes it
    result = automations(api, "keys", "revoke", "apikey:0123456789ab")

    # Then one DELETE of that key, and the time it was revoked
    assert result.exit_code == 0, result.output
    assert api.only_request().method == "DELETE"
    assert "Revoked apikey:0123456789ab at 2026-11-25T11:00:00Z" in result.stdout


@pytest.mark.parametrize(
    ("answer", "exit_code"),
    [
        (api_error(409, "Conflict", "this is the account's last live key"), 4),
        (api_error(404, "NotFound", "no API key"), 3),
        (api_error(401, "Unauthorized", "this API key was revoked"), 5),
    ],
)
def test_keys_revoke_errors_exit_with_their_codes(api: StubApi, answer: tuple[int, Any], exit_code: int) -> None:
    with_delete(api).on("DELETE", "/keys/apikey:0123456789ab", answer)
    result = automations(api, "keys", "revoke", "apikey:0123456789ab")
    assert result.exit_code == exit_code, result.output
    assert answer[1]["error"]["message"] in result.stderr


def test_a_key_id_cannot_reach_another_route(api: StubApi) -> None:
    with_delete(api)
    result = automations(api, "keys", "revoke", "../flows/x")
    assert result.exit_code == 3
    assert api.only_request().path == "/keys/..%2Fflows%2Fx"


def test_admin_create_account_needs_a_table_or_a_stack() -> None:
    result = CliRunner().invoke(cli, ["admin", "create-account"], env=CLEAN_ENV)
    assert result.exit_code == 2 and "--table" in result.output
