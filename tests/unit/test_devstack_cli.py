"""``python -m devstack`` on a port in use says so in one line; ``make help`` lists the targets."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys

import pytest

from devstack import ports
from devstack.ports import free_port
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


def test_the_api_port_is_taken_first_so_moto_on_it_is_refused_at_once(tmp_path) -> None:
    """Both ports are listened on before the ~10 s of setup: no program (here, the stack's own
    moto) can take the API's port in between, and the start fails in seconds, not after setup."""
    port = free_port()
    result = devstack("--port", str(port), "--moto-port", str(port), "--data-dir", str(tmp_path), timeout=10)
    assert result.returncode == 2, result
    assert result.stderr.splitlines() == [
        f"devstack: port {port} on 127.0.0.1 is in use (another make local?); "
        "set AUTOMATIONS_MOTO_PORT or pass --moto-port"
    ], result.stderr


def test_a_listened_port_cannot_be_bound_again_even_with_reuse_address() -> None:
    # Given a port the stack listens on (port 0: the system picks it)
    with ports.listen("127.0.0.1", 0, ports.API_PORT) as held:
        port = held.getsockname()[1]
        assert port != 0
        # When another program binds it as servers do (SO_REUSEADDR), or the stack is asked for it again
        with socket.socket() as other, pytest.raises(OSError) as refused:
            other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            other.bind(("127.0.0.1", port))
        with pytest.raises(ports.PortUnavailable) as again:
            ports.listen("127.0.0.1", port, ports.MOTO_PORT)
        # Then both are refused (a socket only bound would have let the first through on Linux)
        assert refused.value.errno == errno.EADDRINUSE
        assert str(again.value).endswith("set AUTOMATIONS_MOTO_PORT or pass --moto-port")
        # and the held one accepts connections at once
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass


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


def test_a_stop_signal_delivered_to_another_thread_still_stops_the_stack() -> None:
    # Given the stack's main thread waiting for a stop, with a handler that asks for one, as
    # `python -m devstack` sets them up, and another thread alive (the stack runs a dozen)
    import signal
    import threading
    import time

    from devstack.__main__ import wait_for_stop

    stopped, handled, other_may_end = threading.Event(), threading.Event(), threading.Event()
    other = threading.Thread(target=other_may_end.wait, daemon=True)
    other.start()

    def handler(*_: object) -> None:
        handled.set()
        stopped.set()

    previous = signal.signal(signal.SIGUSR1, handler)
    # (a safety net: were the signal never handled, the wait would end here, 5 s on)
    safety = threading.Timer(5.0, stopped.set)
    try:
        # When the kernel hands the signal to that other thread, not to the main one
        threading.Timer(0.1, signal.pthread_kill, (other.ident, signal.SIGUSR1)).start()
        safety.start()
        began = time.monotonic()
        wait_for_stop(stopped)
        waited = time.monotonic() - began
    finally:
        safety.cancel()
        other_may_end.set()
        signal.signal(signal.SIGUSR1, previous)
    # Then the main thread ran the handler within a turn of its wait, not when something else woke it
    assert handled.is_set() and waited < 2.0, waited
