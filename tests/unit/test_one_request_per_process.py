"""Two API containers in one process (the local stack) each resolve their own request."""

from __future__ import annotations

import threading
import time
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Request
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

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


def test_a_container_imported_while_another_resolves_serves_its_first_request_from_its_own_event() -> None:
    # Given Lambda's guarantee restored, and routes on a router that every container includes
    resolve_one_request_at_a_time()
    shared = APIGatewayRouter()
    imported: list[APIGatewayRestResolver] = []

    def new_container() -> APIGatewayRestResolver:
        app = APIGatewayRestResolver(enable_validation=True)  # as the API's: it injects `Request`
        app.include_router(shared)
        return app

    @shared.post("/echo")
    def echo(request: Request) -> dict[str, Any]:
        if not imported:  # a new container is imported (its module run) while this request resolves
            importer = threading.Thread(target=lambda: imported.append(new_container()), daemon=True)
            importer.start()
            importer.join(timeout=0.2)  # unpatched, the import runs now; patched, it waits for this request
        return {"got": request.resolved_event.json_body}

    def resolve(app: APIGatewayRestResolver, body: str) -> Any:
        event = proxy_event("POST", "/echo", {"Content-Type": ["application/json"]}, body.encode(), "127.0.0.1")
        return app.resolve(event, None)["body"]

    # When a request is resolved by the first container, and the next by the container imported meanwhile
    first = resolve(new_container(), '{"n": 1}')
    deadline = time.monotonic() + 5
    while not imported and time.monotonic() < deadline:
        time.sleep(0.01)
    second = resolve(imported[0], '{"n": 2}')
    # Then the second read its own request, not the one being resolved when it was imported
    assert (first, second) == ('{"got":{"n":1}}', '{"got":{"n":2}}')
