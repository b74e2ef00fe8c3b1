"""A real HTTP server on loopback that flows call: scripted answers, recorded requests."""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that stops reading (a capped or timed-out answer) is what those tests ask for
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class TargetServer:
    """A real HTTP server on loopback that flows call: scripted answers, recorded requests."""

    def __init__(self) -> None:
        self.scripts: dict[str, list[tuple[int, dict[str, str], bytes]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.drips: dict[str, tuple[float, float]] = {}  # path -> (seconds between bytes, for how long)
        self._lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.split("?")[0]
                with target._lock:
                    target.requests.append(
                        {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    drip = target.drips.get(path)
                    script = target.scripts.get(path) or [(200, {"Content-Type": "application/json"}, b"{}")]
                    status, headers, payload = script.pop(0) if len(script) > 1 else script[0]
                if drip is not None:
                    self._drip(*drip)
                    return
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _drip(self, every: float, for_seconds: float) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                # more than will ever come: the body never completes, the connection just ends
                self.send_header("Content-Length", str(int(for_seconds / every) + 2))
                self.end_headers()
                self.close_connection = True
                deadline = time.monotonic() + for_seconds
                try:
                    while time.monotonic() < deadline:
                        self.wfile.write(b".")
                        time.sleep(every)
                except OSError:  # the client went away
                    pass

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def script(self, path: str, *answers: int | tuple[int, Any] | tuple[int, Any, dict[str, str]]) -> str:
        """Answer ``path`` with these statuses (and JSON bodies) in order; the last one repeats."""
        script = []
        for answer in answers:
            status, body, headers = (answer, {"ok": answer < 400}, {}) if isinstance(answer, int) else (*answer, {})[:3]
            script.append((status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()))
        with self._lock:
            self.scripts[path] = script
        return self.url(path)

    def drip(self, path: str, *, every: float = 2.0, for_seconds: float = 60.0) -> str:
        """Answer ``path`` with 200 and its headers at once, then one body byte every ``every`` seconds.

        Each read gets a byte in time, so a client's read timeout never fires; the body never
        completes, and the connection ends after ``for_seconds`` (or when the client goes away).
        """
        with self._lock:
            self.drips[path] = (every, for_seconds)
        return self.url(path)

    def calls(self, path: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.requests if r["path"].split("?")[0] == path]
