"""The README's walk-through, run as written against the local stack (only the port differs)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from devstack.template import ROOT
from tests.support.stack_client import StackClient, step_of

pytestmark = pytest.mark.e2e

README_API = "API=http://127.0.0.1:3000\n"


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walk-through (local)", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_walkthrough_works_as_written(stack: StackClient) -> None:
    assert shutil.which("curl") and shutil.which("openssl"), "the walk-through needs curl and openssl"
    script = walkthrough()
    # The first line is the only place the port is written: a reader on another port edits it alone.
    assert script.startswith(README_API) and script.count("127.0.0.1:3000") == 1, script
    assert "KEY=dev-key" in script
    script = script.replace(README_API, f"API={stack.url}\n").replace("KEY=dev-key", f"KEY={stack.api_key}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "completed", result.stdout
    assert '"status":"completed"' in lines[1] and "ada@example.com" not in lines[1]
    # the flow called the echo endpoint of the stack that ran it, not some other one on port 3000
    (listed,) = json.loads(lines[1])["items"]
    notify = step_of(stack.run(listed["runId"]), "notify")
    assert notify["attempts"][-1]["http"]["request"]["url"] == f"{stack.url}/_local/echo", notify
    assert notify["output"]["body"] == {"received": {"email": "ada@example.com"}}, notify


def reminder_walkthrough() -> str:
    section = (ROOT / "README.md").read_text().split("### A scheduled reminder, and the local clock", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_reminder_walkthrough_works_as_written(stack: StackClient) -> None:
    script = reminder_walkthrough()
    assert script.startswith(README_API) and script.count("127.0.0.1:3000") == 1, script
    script = script.replace(README_API, f"API={stack.url}\n").replace("KEY=dev-key", f"KEY={stack.api_key}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    # the run waited for its time, then the advanced clock fired it
    assert result.stdout.splitlines() == ["scheduled", "completed"], result.stdout
