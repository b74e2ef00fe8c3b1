"""``python -m devstack.invoke FUNCTION EVENT``: run one function once, against the running local stack.

The Docker-free counterpart of ``sam local invoke FUNCTION -e EVENT`` (what ``make invoke``
runs). This process is the function's fresh "container": it asks the stack
(``GET /_local/functions``) for the function's code, handler and environment as the stack
resolved them from ``template.yaml``, points boto3 at the stack's moto server, imports the
handler and invokes it once with the event and a Lambda context. What the function writes
lands in the stack's table; executions it starts run in the stack.

Prints the function's result as JSON on stdout and exits 0; when the function raises or times
out, prints Lambda's error payload (errorType, errorMessage, ...) and exits 1; exits 2 when it
could not invoke (no stack answering, an unknown function, an unreadable event). The function's
own logs go to stderr, as with ``sam local invoke``.

The function reads the stack's clock (``GET /_local/clock``), which may run ahead of this
machine's, so what it records is stamped as the stack's own functions would stamp it.

A webhook event (``POST /hooks/{flowId}`` to ApiFunction) whose ``X-Signature`` is the
placeholder ``t=...,v1=000...0`` (64 zeros) is signed now (real time, as a caller would) with the
flow's secret, read from the stack's table: a signature is only valid for five minutes, so none
can be stored in a file.
``--print-event`` prints the event as it would be invoked (signed) instead of invoking it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

from automations.domain import clock
from devstack.functions import FunctionError, LocalFunction

PLACEHOLDER_SIGNATURE = re.compile(r"^t=\d+,v1=0{64}$")
WEBHOOK_PATH = re.compile(r"^/hooks/([^/]+)$")


class InvokeError(Exception):
    """Why the function could not be invoked at all (exit 2)."""


def describe_stack(url: str) -> dict[str, Any]:
    try:
        response = requests.get(f"{url}/_local/functions", timeout=10)
    except requests.RequestException as error:
        raise InvokeError(f"no local stack answers at {url} (start one with `make local`)") from error
    if response.status_code != 200:
        raise InvokeError(f"{url}/_local/functions answered {response.status_code}: is that a local stack?")
    return dict(response.json())


def follow_stack_clock(url: str) -> None:
    """This process's ``clock.now()`` reads the stack's time: the machine's plus the stack's lead."""
    try:
        response = requests.get(f"{url}/_local/clock", timeout=10)
        response.raise_for_status()
        lead = clock.parse_iso(response.json()["now"]) - datetime.now(UTC)
    except (requests.RequestException, KeyError, ValueError) as error:
        raise InvokeError(f"{url}/_local/clock did not answer the stack's time: {error}") from error
    clock.use_source(lambda: datetime.now(UTC) + lead)


def lambda_environment(stack: dict[str, Any], function: dict[str, Any]) -> dict[str, str]:
    """The function's variables, and an AWS that is the stack's moto server (never a real account)."""
    return {
        **function["environment"],
        "AWS_ENDPOINT_URL": stack["motoEndpoint"],
        "AWS_REGION": stack["region"],
        "AWS_DEFAULT_REGION": stack["region"],
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        # botocore would otherwise look for an account id in the credentials to build endpoints
        "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
        # standard output is the answer here; the stack reads metrics from its own (/_local/metrics)
        "POWERTOOLS_METRICS_DISABLED": "true",
    }


def sign_webhook(event: Any) -> Any:
    """The event with a live signature in place of the placeholder one, if it is such a webhook."""
    if not isinstance(event, dict):
        return event
    match = WEBHOOK_PATH.match(str(event.get("path", "")))
    headers = event.get("headers") or {}
    name = next((h for h in headers if h.lower() == "x-signature"), None)
    if event.get("httpMethod") != "POST" or match is None or name is None:
        return event
    if not PLACEHOLDER_SIGNATURE.match(headers[name]):
        return event  # a signature someone wrote on purpose (a bad one, to see the 401) stays
    # imported only now: the settings read the environment set above, once
    from automations.adapters.dynamo.repository import get_repository
    from automations.domain import signing

    flow = get_repository().get_flow(match.group(1))
    if flow is None:
        return event  # the API answers 404 for it, as it would to anyone
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    # a caller's signature carries the caller's real time, whatever the stack's clock says
    signature = signing.sign(flow.webhook_secret, body, int(clock.wall_now().timestamp()))
    signed = {**event, "headers": {**headers, name: signature}}
    if name in (event.get("multiValueHeaders") or {}):
        signed["multiValueHeaders"] = {**event["multiValueHeaders"], name: [signature]}
    return signed


def invoke(stack: dict[str, Any], name: str, event: Any) -> tuple[Any, bool]:
    """(result, errored): the handler run once, with the function's timeout, in a Lambda-like context."""
    spec = stack["functions"][name]
    function = LocalFunction(
        name=name,
        arn=spec["arn"],
        code_uri=spec["codeUri"],
        handler=spec["handler"],
        timeout_seconds=spec["timeout"],
        memory_mb=spec["memorySize"],
    )
    # The handler's module is imported inside (the first invoke makes the container): loggers it
    # creates bind to stderr, leaving stdout to the result.
    with contextlib.redirect_stdout(sys.stderr):
        try:
            return function.invoke(event), False
        except FunctionError as failure:
            return failure.payload, True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devstack.invoke", description=__doc__.splitlines()[0])
    parser.add_argument("function", help="the function's logical id in template.yaml, e.g. ApiFunction")
    parser.add_argument("event", type=Path, help="the event file, e.g. events/api_list_flows.json")
    parser.add_argument(
        "--url",
        default=f"http://127.0.0.1:{os.environ.get('AUTOMATIONS_PORT', '3000')}",
        help="the running local stack (default: http://127.0.0.1:$AUTOMATIONS_PORT, else port 3000)",
    )
    parser.add_argument("--print-event", action="store_true", help="print the event as it would be invoked; exit")
    args = parser.parse_args(argv)
    try:
        event = json.loads(args.event.read_text())
        stack = describe_stack(args.url.rstrip("/"))
        if args.function not in stack["functions"]:
            raise InvokeError(f"no function {args.function!r}; the stack runs {', '.join(sorted(stack['functions']))}")
        follow_stack_clock(args.url.rstrip("/"))
    except (InvokeError, OSError, ValueError) as error:
        print(f"devstack.invoke: {error}", file=sys.stderr)
        return 2
    # Before anything imports the engine: its settings and clients read the environment once.
    for inherited in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):  # nothing of the shell's AWS identity comes along
        os.environ.pop(inherited, None)
    os.environ.update(lambda_environment(stack, stack["functions"][args.function]))
    time.tzset()  # TZ as the stack's functions have it
    event = sign_webhook(event)
    if args.print_event:
        print(json.dumps(event, indent=2))
        return 0
    result, errored = invoke(stack, args.function, event)
    print(json.dumps(result, indent=2, default=str))
    return 1 if errored else 0


if __name__ == "__main__":
    sys.exit(main())
