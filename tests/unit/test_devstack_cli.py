"""``python -m devstack`` on a port in use says so in one line; ``make help`` lists the targets."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys

import pytest

from devstack.template import ROOT


def devstack(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "devstack", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def assert_one_line_naming(result: subprocess.CompletedProcess[str], port: int) -> None:
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"devstack: port {port} on 127.0.0.1 is in use (another make local?); set AUTOMATIONS_PORT or pass --port"
    ], result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_a_busy_api_port_is_one_line_before_anything_starts() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        # a few seconds: the check comes before the stack starts (which takes ~10 s)
        result = devstack("--port", str(port), timeout=10)
    assert_one_line_naming(result, port)
    assert result.stdout == ""  # nothing started, nothing announced


def test_a_busy_moto_port_names_its_own_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = devstack("--port", "0", "--moto-port", str(port), timeout=10)
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"devstack: port {port} on 127.0.0.1 is in use (another make local?); "
        "set AUTOMATIONS_MOTO_PORT or pass --moto-port"
    ], result.stderr


def test_an_api_port_taken_after_the_check_is_the_same_one_line(tmp_path) -> None:
    """The race: moto on the API's port binds it first, so the check passes and the API's bind fails."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # its own data directory: a developer's `make local` may hold the default one
    result = devstack("--port", str(port), "--moto-port", str(port), "--data-dir", str(tmp_path), timeout=120)
    assert_one_line_naming(result, port)


@pytest.mark.skipif(shutil.which("make") is None, reason="needs make")
def test_make_help_lists_the_targets_with_their_comments() -> None:
    # as a user types it: under `make test`, an inherited MAKELEVEL adds "Entering directory" lines
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    result = subprocess.run(["make", "help"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30, check=True)
    lines = result.stdout.splitlines()
    listed = dict(line.split(maxsplit=1) for line in lines)
    for target in ("local", "test", "lint", "build", "deploy", "clean"):
        assert listed.get(target), result.stdout
    comment_columns = {line.index(listed[line.split()[0]]) for line in lines}
    assert len(comment_columns) == 1, result.stdout  # aligned
