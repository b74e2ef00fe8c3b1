"""The README's walk-through, run as written against the local stack (only the port differs)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from devstack.template import ROOT
from tests.support.stack_client import StackClient

pytestmark = pytest.mark.e2e


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Walk-through (local)", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


def test_the_readme_walkthrough_works_as_written(stack: StackClient) -> None:
    assert shutil.which("curl") and shutil.which("openssl"), "the walk-through needs curl and openssl"
    script = walkthrough()
    assert "API=http://127.0.0.1:3000" in script and "KEY=dev-key" in script
    script = script.replace("http://127.0.0.1:3000", stack.url).replace("KEY=dev-key", f"KEY={stack.api_key}")
    result = subprocess.run(
        ["bash", "-e", "-o", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "completed", result.stdout
    assert '"status":"completed"' in lines[1] and "ada@example.com" not in lines[1]
