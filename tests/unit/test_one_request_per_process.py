"""Two API containers in one process (the local stack) each resolve their own request."""

from __future__ import annotations

import threading
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver

from devstack.api_gateway import proxy_event
from devstack.one_request_per_process import resolve_one_request_at_a_time


def container() -> APIGatewayRestResolver:
    """A resolver whose route reads the request back after a moment, as a slow handler would."""
    app = APIGatewayRestResolver()

    @app.post("/echo")
    def echo() -> dict[str, Any]:
        time.sleep(0.05)  # another container resolves meanwhile
        return {"got": app.current_event.json_body}

    return app


def resolve_concurrently() -> list[Any]:
    first, second = container(), container()
    answers: list[Any] = [None, None]

    def call(index: int, app: APIGatewayRestResolver, body: str) -> None:
        event = proxy_event("POST", "/echo", {"Content-Type": ["application/json"]}, body.encode(), "127.0.0.1")
        answers[index] = app.resolve(event, None)["body"]

    threads = [
        threading.Thread(target=call, args=(0, first, '{"n": 1}')),
        threading.Thread(target=call, args=(1, second, '{"n": 2}')),
    ]
    threads[0].start()
    time.sleep(0.01)
    threads[1].start()
    for thread in threads:
        thread.join()
    return answers


def test_one_resolve_at_a_time_gives_each_request_its_own_event() -> None:
    # Given Lambda's guarantee restored in this process
    resolve_one_request_at_a_time()
    # When two containers resolve a request each, at the same time
    answers = resolve_concurrently()
    # Then each route read its own body (unpatched, the first reads the second's: Powertools keeps
    # the request in a class attribute shared by every resolver of the process)
    assert answers == ['{"got":{"n":1}}', '{"got":{"n":2}}']
