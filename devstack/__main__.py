"""``python -m devstack``: run the engine on this machine (what ``make local`` starts).

Environment: AUTOMATIONS_API_KEY (the local account's key; generated and printed when
unset), AUTOMATIONS_RETRY_WAIT_SCALE (multiplies every retry wait; default 1),
AUTOMATIONS_LOG_LEVEL (default WARNING), AUTOMATIONS_PORT (the API's port; default 3000; 0: any
free one, printed at start), AUTOMATIONS_MOTO_PORT (moto's port; default: any free one),
AUTOMATIONS_DATA_DIR (where flows, keys, runs and connections survive a restart; default:
.local-data in the repository). Both ports are taken first: a busy one fails the start at once.

``--node-module MODULE`` (repeatable) imports a module that registers a node type before the
engine starts: a way to try a node type on the local stack before it joins ``automations/nodes``
(the tests use it for a fixture type). A type that needs its own function still needs one in
``template.yaml``; one that computes runs in ComputeNodeFunction.

``--reset`` forgets what the data directory holds and starts clean (what ``make local-reset`` runs).
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from devstack.stack import LocalStack


# Beside the repository's code, git-ignored; AUTOMATIONS_DATA_DIR or --data-dir for another.
DEFAULT_DATA_DIR = Path(__file__).resolve().parent.parent / ".local-data"


def data_summary(stack: LocalStack) -> str:
    """Where the data lives, whether it was restored, and what the restart did to running runs."""
    if stack.data_dir is None:
        return "kept in memory only"
    where = str(stack.data_dir.path)
    if stack.restored is None:
        return f"{where} (new; `make local-reset` or --reset starts clean)"
    saved = datetime.fromtimestamp(stack.restored.captured_at, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    summary = f"{where} (restored as saved at {saved}; `make local-reset` or --reset starts clean)"
    if stack.recovered.aborted:
        summary += f"\n  {len(stack.recovered.aborted)} run(s) were running at the stop: now interrupted"
    if stack.recovered.offered:
        summary += f"\n  {len(stack.recovered.offered)} run(s) about to start at the stop: started again"
    return summary


def wait_for_stop(stopped: threading.Event, turn_seconds: float = 0.2) -> None:
    """Wait until a signal's handler sets ``stopped``, in short turns. Python runs a handler in the
    main thread, between two of its bytecodes, and the kernel may deliver SIGTERM to any of the
    stack's threads, which wakes no one: a main thread blocked in one untimed wait would never run
    the handler, and the stack would ignore the stop (seen about once in 20 stops under load)."""
    while not stopped.wait(timeout=turn_seconds):
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("AUTOMATIONS_PORT", "3000")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("AUTOMATIONS_MOTO_PORT", "0")))
    parser.add_argument("--node-module", action="append", default=[], help="import MODULE to register a node type")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("AUTOMATIONS_DATA_DIR") or DEFAULT_DATA_DIR),
        help="where the engine's data survives a restart (default: .local-data in the repository)",
    )
    parser.add_argument("--reset", action="store_true", help="forget the data directory's contents; start clean")
    parser.add_argument(
        "--parameter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a template parameter, as sam deploy --parameter-overrides gives it (e.g. ExpressFirst=false)",
    )
    args = parser.parse_args(argv)
    parameters = dict(item.partition("=")[::2] for item in args.parameter)
    for module in args.node_module:  # before the flow model is built from the registry
        importlib.import_module(module)
    from devstack.functions import timeout_scales
    from devstack.persistence import DataDirError
    from devstack.ports import PortUnavailable
    from devstack.stack import LocalStack, StackConfig

    config = StackConfig(
        host=args.host,
        api_port=args.port,
        moto_port=args.moto_port,
        api_key=os.environ.get("AUTOMATIONS_API_KEY") or None,
        retry_wait_scale=float(os.environ.get("AUTOMATIONS_RETRY_WAIT_SCALE", "1")),
        log_level=os.environ.get("AUTOMATIONS_LOG_LEVEL", "WARNING"),
        function_timeout_scales=timeout_scales(os.environ.get("AUTOMATIONS_FUNCTION_TIMEOUT_SCALE", "")),
        data_dir=args.data_dir.resolve(),
        reset=args.reset,
        parameters=parameters,
    )
    try:
        stack = LocalStack(config).start()
    except PortUnavailable as error:
        print(error, file=sys.stderr)
        return 2
    except DataDirError as error:
        print(f"devstack: {error}", file=sys.stderr)
        return 2
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print(f"Automations engine running at {stack.api_url}", flush=True)
    print(f"  API key (Authorization: Bearer ...): {stack.api_key}", flush=True)
    if stack.api_key_origin == "generated":
        print("  (generated; set AUTOMATIONS_API_KEY to choose one)", flush=True)
    elif stack.api_key_origin == "kept":
        print("  (the one from the last start; set AUTOMATIONS_API_KEY to choose one)", flush=True)
    print(f"  Data: {data_summary(stack)}", flush=True)
    if stack.clock.offset:
        print(
            f"  Clock: {stack.clock.now():%Y-%m-%d %H:%M:%S} UTC, {stack.clock.offset} ahead of this machine's"
            " (kept with the data; POST /_local/clock moves it)",
            flush=True,
        )
    print(
        f"  AWS services (moto): {stack.moto_endpoint}  retry-wait scale: {config.retry_wait_scale:g}",
        flush=True,
    )
    print(f"  OpenAPI: {stack.api_url}/openapi.json   Swagger UI: {stack.api_url}/swagger", flush=True)
    wait_for_stop(stopped)
    took = stack.stop()
    kept = f"; the data is kept in {stack.data_dir.path}" if stack.data_dir is not None else ""
    print(f"Stopped in {took['total']:g} s{kept}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
