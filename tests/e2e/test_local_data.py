"""The local stack keeps its data across restarts: a clean stop (SIGTERM) loses nothing, a crash
(SIGKILL) at most the last second, and what was running comes back ``interrupted``."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from devstack.persistence import SNAPSHOT_FILE
from devstack.template import ROOT
from tests.support.stack_client import StackClient, local_stack_process, step_of, wait_for

pytestmark = pytest.mark.e2e

# Long enough that the run is still waiting when the stack stops, whatever the machine's load.
LONG_DELAY_SECONDS = 120
SETTLED = ("completed", "interrupted")


@dataclass
class Recorded:
    """What a test recorded before the stop, to find again after it."""

    quick: dict[str, Any]  # a flow that completes at once (with its webhook secret)
    slow: dict[str, Any]  # a flow that waits LONG_DELAY_SECONDS
    mail: dict[str, Any]  # another account's flow sending an email through its connection
    other_key: str  # that account's API key
    completed_run: str
    waiting_run: str


def create_flow(stack: StackClient, nodes: list[dict[str, Any]], key: str | None = None) -> dict[str, Any]:
    body = {"name": "kept", "trigger": {"type": "webhook"}, "nodes": nodes}
    response = stack.request("POST", "/flows", key=key, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def record(stack: StackClient) -> Recorded:
    """Flows, keys, a connection, a completed run and one waiting in a delay (its step running)."""
    quick = create_flow(stack, [{"id": "note", "type": "set", "values": {"seen": "{{ trigger.body.n }}"}}])
    slow = create_flow(
        stack,
        [
            {"id": "wait", "type": "delay", "seconds": LONG_DELAY_SECONDS},
            {"id": "after", "type": "set", "values": {"woke": "yes"}},
        ],
    )
    other_key = stack.request("POST", "/_local/accounts").json()["apiKey"]  # with its own `sendgrid` connection
    email = {"id": "mail", "type": "send_email", "to": "{{ trigger.body.to }}", "subject": "kept", "text": "hi"}
    mail = create_flow(stack, [email], key=other_key)
    completed_run = stack.trigger(quick, {"n": 1})
    assert stack.wait_for_run(completed_run)["status"] == "completed"
    waiting_run = stack.trigger(slow, {"n": 2})
    wait_for(lambda: waiting_in_delay(stack.run(waiting_run)), timeout=30, what="the delay to wait, its run running")
    return Recorded(quick, slow, mail, other_key, completed_run, waiting_run)


def waiting_in_delay(run: dict[str, Any]) -> bool:
    steps = {s["nodeId"]: s for s in run["steps"]}
    return run["status"] == "running" and bool(steps.get("wait", {}).get("wakeAt"))


def assert_kept(stack: StackClient, before: Recorded) -> None:
    """Everything recorded is there; the waiting run was interrupted; the same keys and secrets work."""
    listed = {f["flowId"] for f in stack.request("GET", "/flows").json()["items"]}
    assert {before.quick["flowId"], before.slow["flowId"]} <= listed
    theirs = stack.request("GET", "/flows", key=before.other_key)
    assert theirs.status_code == 200 and [f["flowId"] for f in theirs.json()["items"]] == [before.mail["flowId"]]
    history = stack.request("GET", f"/flows/{before.quick['flowId']}/runs").json()["items"]
    assert [(r["runId"], r["status"]) for r in history] == [(before.completed_run, "completed")]
    completed = stack.run(before.completed_run)
    assert [(s["nodeId"], s["status"], len(s["attempts"])) for s in completed["steps"]] == [("note", "completed", 1)]
    assert step_of(completed, "note")["output"] == {"seen": 1}

    interrupted = stack.wait_for_run(before.waiting_run, ("interrupted",), timeout=30)
    wait = step_of(interrupted, "wait")
    assert wait["status"] == "interrupted", wait
    assert wait["attempts"][-1]["status"] == "failed", wait  # the open attempt was closed
    handed_off, execution = interrupted["executions"]  # Express handed it off to Standard at the delay
    assert handed_off["outcome"] == "handed_off"
    assert execution["outcome"] == "aborted" and "local stack stopped" in execution["error"]["message"], execution

    # new webhooks, signed with the secrets from before, run to the end; the restored connection sends
    assert stack.wait_for_run(stack.trigger(before.quick, {"n": 3}))["status"] == "completed"
    mailed = stack.call_webhook(before.mail, {"to": "kept@example.com"})
    assert mailed.status_code == 202, mailed.text
    (mail_run,) = mailed.json()["runIds"]
    mail_status = wait_for(
        lambda: (
            (status := stack.request("GET", f"/runs/{mail_run}", key=before.other_key).json()["status"])
            in ("completed", "failed")
            and status
        ),
        timeout=30,
        what="the other account's run to end",
    )
    assert mail_status == "completed"
    sent = requests.get(f"{stack.url}/_local/emails", params={"to": "kept@example.com"}, timeout=5).json()["items"]
    assert [e["subject"] for e in sent] == ["kept"]


def test_a_clean_stop_keeps_everything_and_interrupts_what_ran(tmp_path: Path) -> None:
    with local_stack_process(tmp_path, label="stack before SIGTERM") as first:
        before = record(first.client)
        # and a burst the stop catches at every stage: recorded, delivered, started, done
        busy = create_flow(first.client, [{"id": "note", "type": "set", "values": {"n": "{{ trigger.body.n }}"}}])
        burst = [first.client.trigger(busy, {"n": n}) for n in range(10)]
        assert first.stop(signal.SIGTERM) == 0
        # and it says how long the stop took, and where the data is
        assert re.search(r"^Stopped in [0-9.]+ s; the data is kept in ", first.output(), re.MULTILINE), first.output()
    with local_stack_process(tmp_path, label="stack after SIGTERM") as second:
        assert_kept(second.client, before)
        # none is stuck in `scheduled` or `running`: each completed, or was interrupted with no step left
        # running (a step still queued stays `scheduled`: next in line when the run is resumed)
        for run_id in burst:
            run = second.client.wait_for_run(run_id, SETTLED, timeout=60)
            allowed = SETTLED if run["status"] == "completed" else (*SETTLED, "scheduled")
            assert all(s["status"] in allowed for s in run["steps"]), run


def test_after_kill_9_at_most_the_last_second_is_lost(tmp_path: Path) -> None:
    snapshot = tmp_path / SNAPSHOT_FILE
    with local_stack_process(tmp_path, label="stack before SIGKILL") as first:
        before = record(first.client)
        settled_at = time.time()  # every change the test waits for was made by now
        # the snapshot's modification time is when its contents were last known current
        wait_for(
            lambda: snapshot.exists() and snapshot.stat().st_mtime > settled_at,
            timeout=10,
            what="the data directory to hold the last change",
        )
        assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    with local_stack_process(tmp_path, label="stack after SIGKILL") as second:
        assert_kept(second.client, before)


def test_reset_starts_clean_and_a_data_dir_has_one_stack(tmp_path: Path) -> None:
    with local_stack_process(tmp_path, label="stack before --reset") as first:
        flow = first.client.create_flow([{"id": "note", "type": "set", "values": {"n": "1"}}])
        # a second stack on the same data directory is refused at once, naming the way out
        refused = subprocess.run(
            [sys.executable, "-m", "devstack", "--port", "0", "--data-dir", str(tmp_path)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert refused.returncode == 2, refused
        assert refused.stderr.splitlines() == [
            f"devstack: the data directory {tmp_path.resolve()} is used by another local stack; "
            "set AUTOMATIONS_DATA_DIR or pass --data-dir"
        ], refused.stderr
        assert first.stop(signal.SIGTERM) == 0
    with local_stack_process(tmp_path, "--reset", label="stack after --reset") as second:
        assert second.client.request("GET", "/flows").json()["items"] == []  # the configured key still works
        assert second.client.request("GET", f"/flows/{flow['flowId']}").status_code == 404
