"""A Lambda sandbox's cold start runs without the cyclic garbage collector, until its first invocation ends.

A cold start makes most of the objects its sandbox will hold for life (modules, classes,
botocore's service models, pydantic's validators: hundreds of thousands) and next to no garbage
cycles. The collector, run after every 700 new container objects, walks them over and over for
nothing: about 30 ms of each function's cold start (``python -m bench --only cold_start``).

So a handler module imports this module before anything else: the import pauses the collector
(in a Lambda sandbox only, Powertools' rule: ``LAMBDA_TASK_ROOT`` is set). Its handler is
decorated with ``resume_collector_after_first_invocation``: when the first invocation ends
(returned or raised), the objects made so far are frozen (``gc.freeze``: moved out of the
collector's generations for good, as they live as long as the sandbox) and collection runs as
before for everything made after. The price: the few cycles of garbage the cold start made (under
a thousand objects, against some 80,000 frozen) are frozen with the rest, never freed. Outside
Lambda (tests, the local stack, which load many handler modules in one process) nothing changes.
"""

from __future__ import annotations

import functools
import gc
import os
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

_paused = False


def pause_collector() -> None:
    """Pause the collector, in a Lambda sandbox, if nothing has paused it yet (and it is on)."""
    global _paused
    if os.environ.get("LAMBDA_TASK_ROOT") and gc.isenabled() and not _paused:
        gc.disable()
        _paused = True


def resume_collector() -> None:
    """Freeze what the cold start made and turn the collector back on (once; a no-op if not paused)."""
    global _paused
    if _paused:
        _paused = False
        gc.freeze()
        gc.enable()


def resume_collector_after_first_invocation(handler: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(handler)
    def invoke(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return handler(*args, **kwargs)
        finally:
            resume_collector()  # (after the first invocation, a check of one flag)

    return invoke


pause_collector()
