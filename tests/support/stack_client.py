"""The local stack as a black box: a client for its public API, and polling with a deadline."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import boto3
import requests

from automations.domain import clock, signing
from devstack.template import ROOT

RUN_SCHEDULE_GROUP = "automations-local-runs"  # the template's RunSchedules: "${AWS::StackName}-runs"

API_KEY = "e2e-local-key"
# Retry waits shrink ~500x: the full transient budget (~11 min deployed) takes about a second.
RETRY_WAIT_SCALE = "0.002"
# HttpRequestFunction's 40 s timeout becomes 6 s; the other functions keep theirs.
FUNCTION_TIMEOUT_SCALE = "HttpRequestFunction=0.15"
TERMINAL = ("completed", "failed", "cancelled")
# what `python -m devstack` prints once it serves (whole lines: the output may be read mid-write)
ANNOUNCED_API = re.compile(r"^Automations engine running at (http://\S+)\n", re.MULTILINE)
ANNOUNCED_MOTO = re.compile(r"^  AWS services \(moto\): (http://\S+) ", re.MULTILINE)
# a node type only the tests have (see fixture_nodes.py): the stack registers it at start
FIXTURE_NODE_MODULE = "tests.support.fixture_nodes"


def wait_for(condition: Callable[[], Any], *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


@dataclass
class StackClient:
    """A client for the engine's public API, as a user of the local stack would write it."""

    url: str
    api_key: str
    moto_endpoint: str

    def request(self, method: str, path: str, *, key: str | None = None, **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {key or self.api_key}", **kwargs.pop("headers", {})}
        return requests.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def create_flow(self, nodes: list[dict[str, Any]], name: str = "e2e flow", **extra: Any) -> dict[str, Any]:
        response = self.request(
            "POST", "/flows", json={"name": name, "trigger": {"type": "webhook"}, "nodes": nodes, **extra}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def call_webhook(self, flow: dict[str, Any], body: Any, **headers: str) -> requests.Response:
        """Signed with this machine's time, as any caller signs: the engine checks a signature's age
        against the real time (``clock.wall_now``), whatever the stack's clock says."""
        raw = json.dumps(body).encode()
        signature = signing.sign(flow["webhookSecret"], raw, int(time.time()))
        return requests.post(
            f"{self.url}/hooks/{flow['flowId']}",
            data=raw,
            headers={"Content-Type": "application/json", "X-Signature": signature, **headers},
            timeout=10,
        )

    def trigger(self, flow: dict[str, Any], body: Any) -> str:
        response = self.call_webhook(flow, body)
        assert response.status_code == 202, response.text
        return response.json()["runIds"][0]

    def run(self, run_id: str) -> dict[str, Any]:
        response = self.request("GET", f"/runs/{run_id}")
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for_run(self, run_id: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 30) -> dict[str, Any]:
        return wait_for(
            lambda: (run := self.run(run_id))["status"] in statuses and run,
            timeout=timeout,
            what=f"run {run_id} to reach {statuses}",
        )

    # --- the local clock and the scheduler (see devstack/local_api.py) -----------------------------

    def clock_now(self) -> datetime:
        """The stack's "now" (its clock may run ahead of this machine's)."""
        return clock.parse_iso(self._local("GET", "/_local/clock")["now"])

    def advance(self, duration: str) -> datetime:
        """Move the stack's clock forward by an ISO 8601 duration (``PT24H``); the new now."""
        return clock.parse_iso(self._local("POST", "/_local/clock", {"advance": duration})["now"])

    def set_clock(self, moment: str | datetime) -> datetime:
        """Move the stack's clock forward to ``moment`` (ISO 8601 with a zone, or an aware datetime)."""
        text = clock.iso(moment) if isinstance(moment, datetime) else moment
        return clock.parse_iso(self._local("POST", "/_local/clock", {"set": text})["now"])

    def scheduler(self) -> dict[str, Any]:
        """``{"paused", "schedules", "passes", "delivered", "failures"}``."""
        return self._local("GET", "/_local/scheduler")

    def pause_scheduler(self) -> dict[str, Any]:
        return self._local("POST", "/_local/scheduler", {"paused": True})

    def resume_scheduler(self) -> dict[str, Any]:
        return self._local("POST", "/_local/scheduler", {"paused": False})

    def aws(self, service: str) -> Any:
        """A boto3 client of the stack's moto server (on loopback)."""
        return boto3.client(
            service,
            endpoint_url=self.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def run_schedule_exists(self, name: str) -> bool:
        """Whether the one-time schedule ``name`` (a run's execution) waits in the stack's run group."""
        scheduler = self.aws("scheduler")
        try:
            scheduler.get_schedule(Name=name, GroupName=RUN_SCHEDULE_GROUP)
        except scheduler.exceptions.ResourceNotFoundException:
            return False
        return True

    def _local(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, self.url + path, json=body, timeout=10)
        assert response.status_code == 200, f"{method} {path}: {response.status_code} {response.text}"
        return response.json()


def step_of(run: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(s for s in run["steps"] if s["nodeId"] == node_id)


def statuses(history: list[dict[str, Any]]) -> list[str]:
    return [h["status"] for h in history]


@contextmanager
def running_local_stack(data_dir: Path | None = None, *args: str) -> Iterator[StackClient]:
    """``python -m devstack ARGS`` in a subprocess on free ports, until the block ends.

    Its data directory is ``data_dir``, or a temporary one (so tests never share the developer's
    ``.local-data``, nor each other's)."""
    with contextlib.ExitStack() as cleanup:
        if data_dir is None:
            data_dir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="devstack-data-")))
        with local_stack_process(data_dir, *args) as stack:
            yield stack.client


@dataclass
class LocalStackProcess:
    """A local stack in a subprocess: its client, its output so far, and ways to stop it."""

    process: subprocess.Popen[bytes]
    log: IO[str]
    client: StackClient

    def stop(self, signum: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        """Send ``signum`` (SIGTERM: a clean stop; SIGKILL: a crash) and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError(f"the local stack did not stop within {timeout}s of {signum.name}") from None
        return int(self.process.returncode)

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()


@contextmanager
def local_stack_process(data_dir: Path, *args: str, label: str = "local stack") -> Iterator[LocalStackProcess]:
    """``python -m devstack --data-dir DATA_DIR ARGS`` on free ports, healthy, until the block ends
    (then stopped with SIGTERM unless already stopped); its output is printed at the end, which
    pytest shows when a test failed.

    The stack picks its ports (``--port 0``) and announces them: a port picked free here could be
    taken by another program before the stack binds it."""
    log = tempfile.NamedTemporaryFile("w+", prefix="devstack-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        "AUTOMATIONS_SSRF_GUARD": "offline",  # loopback only, no name looked up (unless the caller says)
        **os.environ,
        "AUTOMATIONS_API_KEY": API_KEY,
        "AUTOMATIONS_RETRY_WAIT_SCALE": RETRY_WAIT_SCALE,
        "AUTOMATIONS_FUNCTION_TIMEOUT_SCALE": FUNCTION_TIMEOUT_SCALE,
        "TZ": "UTC",
    }
    process = subprocess.Popen(
        [
            *(sys.executable, "-m", "devstack", "--port", "0", "--moto-port", "0"),
            *("--node-module", FIXTURE_NODE_MODULE, "--data-dir", str(data_dir), *args),
        ],
        env=env,
        cwd=ROOT,  # so that `tests.support.fixture_nodes` imports
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    stack = LocalStackProcess(process, log, StackClient("", API_KEY, ""))

    def still_running() -> None:
        if process.poll() is not None:
            raise AssertionError(f"the {label} exited:\n{stack.output()}")

    def announced() -> tuple[str, str] | None:
        still_running()
        output = stack.output()
        api, moto = ANNOUNCED_API.search(output), ANNOUNCED_MOTO.search(output)
        return (api[1], moto[1]) if api and moto else None

    def healthy() -> bool:
        still_running()
        try:
            return requests.get(f"{stack.client.url}/_local/health", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        stack.client.url, stack.client.moto_endpoint = wait_for(
            announced, timeout=60, interval=0.2, what=f"the {label} to announce its ports"
        )
        wait_for(healthy, timeout=10, interval=0.2, what=f"the {label} to answer /_local/health")
        yield stack
    finally:
        with contextlib.suppress(AssertionError):
            stack.stop(signal.SIGTERM, timeout=10)
        tail = "".join(stack.output().splitlines(keepends=True)[-200:])
        print(f"--- {label} output (tail) ---\n{tail}")  # shown when a test failed
        log.close()
        os.unlink(log.name)
