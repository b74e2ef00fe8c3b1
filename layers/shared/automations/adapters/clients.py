"""boto3 clients made on first use, then reused for the life of the process (the sandbox).

An adapter holds its client from the start (``get_workflows()`` is called for every stream
record), but many invocations never call that service: the sweeper's tick with nothing overdue,
a stream record that starts and schedules nothing. Making a client loads its service's model
(tens of milliseconds of a cold start); ``LazyClient`` stands in for it until an attribute is
read (a call, or ``client.exceptions``), then makes it once, under a lock (boto3's default
session is not safe to make clients from in several threads at once).
"""

from __future__ import annotations

import threading
from typing import Any

import boto3


class LazyClient:
    def __init__(self, service: str) -> None:
        self.service = service
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        return self._client is not None

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = boto3.client(self.service)
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # (copy and pickle probe these before __init__ has run)
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, made={self.made})"
