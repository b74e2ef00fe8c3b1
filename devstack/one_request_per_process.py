"""What Lambda guarantees and one process of many containers does not: one request per process.

Powertools' REST resolver keeps the request it is resolving in a class attribute
(``BaseRouter.current_event``, set by every ``resolve``), shared by every resolver in the process;
its validation middleware and routers read it back. On Lambda a process serves one request at a
time, so that is safe. The local stack runs several ApiFunction containers as threads of one
process, so two requests resolved at once could each read the other's event (its body, its
signature). Resolving one request at a time restores Lambda's guarantee; the API answers in
milliseconds, so this costs the local stack little.

A new container imports the API module, whose resolver includes the shared routers
(``include_router``): that copies the context of the resolver that included them last, which,
mid-request, holds that request (``_request``): the new container's first request would be served
from it (its signature and body, answered 409 as a replay). So including routers waits for the
request being resolved, too.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

_RESOLVING = threading.Lock()


def resolve_one_request_at_a_time() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    original = ApiGatewayResolver.resolve
    if getattr(original, "one_at_a_time", False):
        return
    include = ApiGatewayResolver.include_router

    @functools.wraps(original)
    def resolve(self: ApiGatewayResolver, event: Any, context: Any) -> Any:
        with _RESOLVING:
            return original(self, event, context)

    @functools.wraps(include)
    def include_router(self: ApiGatewayResolver, *args: Any, **kwargs: Any) -> None:
        with _RESOLVING:
            include(self, *args, **kwargs)

    resolve.one_at_a_time = True  # type: ignore[attr-defined]
    ApiGatewayResolver.resolve = resolve  # type: ignore[method-assign]
    ApiGatewayResolver.include_router = include_router  # type: ignore[method-assign]
