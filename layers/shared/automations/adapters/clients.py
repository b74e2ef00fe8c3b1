"""AWS clients, from botocore's session directly; made on first use, then reused for the life of
the process (the sandbox).

Not through boto3: the engine uses low-level clients only (what boto3 hands out is botocore's), and
importing boto3 imports s3transfer, its S3 transfer manager: about 20 ms of every cold start for
nothing. ``make_client`` reads the region, credentials and endpoint from the environment, as
boto3's default session does.

An adapter holds its client from the start (``get_workflows()`` is called for every stream
record), but many invocations never call that service: the sweeper's tick with nothing overdue,
a stream record that starts and schedules nothing. Making a client loads its service's model
(tens of milliseconds of a cold start); ``LazyClient`` stands in for it until an attribute is
read (a call, or ``client.exceptions``), then makes it once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.session import Session

_session: Session | None = None
_session_lock = threading.Lock()


def make_client(service: str) -> Any:
    """A client of the process's one botocore session (botocore's sessions, like boto3's, are not
    safe to make clients from in several threads at once: hence the lock)."""
    global _session
    with _session_lock:
        if _session is None:
            from botocore.session import get_session  # (on first use: no import cost for the module)

            _session = get_session()
        return _session.create_client(service)


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
                    self._client = make_client(self.service)
        return self._client

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):  # (copy and pickle probe these before __init__ has run)
            raise AttributeError(name)
        return getattr(self.get(), name)

    def __repr__(self) -> str:
        return f"LazyClient({self.service!r}, made={self.made})"
