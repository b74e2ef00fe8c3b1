"""``python -m devstack``: run the engine on this machine (what ``make local`` starts).

Environment: AUTOMATIONS_API_KEY (the local account's key; generated and printed when
unset), AUTOMATIONS_RETRY_WAIT_SCALE (multiplies every retry wait; default 1),
AUTOMATIONS_LOG_LEVEL (default WARNING), AUTOMATIONS_PORT (the API's port; default 3000).

``--node-module MODULE`` (repeatable) imports a module that registers a node type before the
engine starts: a way to try a node type on the local stack before it joins ``automations/nodes``
(the tests use it for a fixture type). A type that needs its own function still needs one in
``template.yaml``; one that computes runs in ComputeNodeFunction.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("AUTOMATIONS_PORT", "3000")))
    parser.add_argument("--moto-port", type=int, default=int(os.environ.get("AUTOMATIONS_MOTO_PORT", "0")))
    parser.add_argument("--node-module", action="append", default=[], help="import MODULE to register a node type")
    args = parser.parse_args(argv)
    for module in args.node_module:  # before the flow model is built from the registry
        importlib.import_module(module)
    from devstack.stack import LocalStack, StackConfig

    config = StackConfig(
        host=args.host,
        api_port=args.port,
        moto_port=args.moto_port,
        api_key=os.environ.get("AUTOMATIONS_API_KEY") or None,
        retry_wait_scale=float(os.environ.get("AUTOMATIONS_RETRY_WAIT_SCALE", "1")),
        log_level=os.environ.get("AUTOMATIONS_LOG_LEVEL", "WARNING"),
    )
    stack = LocalStack(config).start()
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    print(f"Automations engine running at {stack.api_url}", flush=True)
    print(f"  API key (Authorization: Bearer ...): {stack.api_key}", flush=True)
    if not config.api_key:
        print("  (generated; set AUTOMATIONS_API_KEY to choose one)", flush=True)
    print(
        f"  AWS services (moto): {os.environ['AWS_ENDPOINT_URL']}  retry-wait scale: {config.retry_wait_scale:g}",
        flush=True,
    )
    print(f"  OpenAPI: {stack.api_url}/openapi.json   Swagger UI: {stack.api_url}/swagger", flush=True)
    stopped.wait()
    stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
