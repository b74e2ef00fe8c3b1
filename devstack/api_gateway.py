"""API Gateway on loopback: HTTP requests become REST API proxy events for the ApiFunction.

Paths under ``/_local/`` are the local stack's own API (demos and black-box tests);
they do not exist when deployed.
"""

from __future__ import annotations

import base64
import json
import socket
import traceback
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from automations.domain import clock
from devstack.functions import FunctionError, LocalFunction
from devstack.local_api import LocalRequest, LocalResponse, LocalRoute

STAGE = "v1"


def proxy_event(
    method: str, raw_path: str, headers: dict[str, list[str]], body: bytes, client_ip: str
) -> dict[str, Any]:
    """The event API Gateway (REST, ``/{proxy+}``) sends a Lambda proxy integration."""
    parts = urlsplit(raw_path)
    query = parse_qs(parts.query, keep_blank_values=True)
    try:
        text, is_base64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, is_base64 = base64.b64encode(body).decode(), True
    return {
        "resource": "/{proxy+}",
        "path": parts.path,
        "httpMethod": method,
        "headers": {k: v[-1] for k, v in headers.items()},
        "multiValueHeaders": headers,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": parts.path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            # the URL's own path, as `sam local start-api` sends it: the local stack serves no
            # stage prefix, so links built from it (Location, Swagger's server) stay local
            "path": parts.path,
            "stage": STAGE,
            "requestId": str(uuid.uuid4()),
            "requestTimeEpoch": int(clock.now().timestamp() * 1000),  # the stack's clock
            "identity": {"sourceIp": client_ip, "userAgent": headers.get("User-Agent", [""])[-1]},
            "accountId": "123456789012",
            "apiId": "local",
            "protocol": "HTTP/1.1",
            "domainName": headers.get("Host", ["127.0.0.1"])[-1],
        },
        "body": text if body else None,
        "isBase64Encoded": is_base64,
    }


class ApiGatewayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, listener: socket.socket, api: LocalFunction, local_routes: dict[tuple[str, str], LocalRoute]
    ) -> None:
        """Serves on ``listener``, a socket already listening (``devstack.ports.listen``: taken
        before the stack set up, with a backlog that queues a burst of clients as API Gateway does)."""
        super().__init__(listener.getsockname()[:2], _Handler, bind_and_activate=False)
        self.socket.close()  # the one socketserver made, unbound: the listener replaces it
        self.socket = listener
        self.server_address = listener.getsockname()[:2]
        self.api = api
        self.local_routes = local_routes


class _Handler(BaseHTTPRequestHandler):
    server: ApiGatewayServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the functions log; the access log would only repeat them

    def _handle(self) -> None:
        try:
            self._serve()
        except Exception:
            traceback.print_exc()
            self._send(502, {"Content-Type": "application/json"}, b'{"message": "Internal server error"}')

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        if path.startswith("/_local/"):
            self._local(path, body)
            return
        headers: dict[str, list[str]] = {}
        for name, value in self.headers.items():
            headers.setdefault(name, []).append(value)
        event = proxy_event(self.command, self.path, headers, body, self.client_address[0])
        try:
            response = self.server.api.invoke(event)
        except FunctionError as error:  # API Gateway answers 502 when the integration fails
            self._send(
                502,
                {"Content-Type": "application/json"},
                json.dumps({"message": "Internal server error", "error": error.payload["errorMessage"]}).encode(),
            )
            return
        payload = response.get("body") or ""
        raw = base64.b64decode(payload) if response.get("isBase64Encoded") else payload.encode()
        out_headers = dict(response.get("headers") or {})
        for name, values in (response.get("multiValueHeaders") or {}).items():
            out_headers[name] = ", ".join(values)
        self._send(int(response.get("statusCode", 200)), out_headers, raw)

    def _local(self, path: str, body: bytes) -> None:
        route = self.server.local_routes.get((self.command, path))
        if route is None:
            not_found = {"error": {"type": "NotFound", "message": "no such local route"}}
            self._send(404, {"Content-Type": "application/json"}, json.dumps(not_found).encode())
            return
        try:
            request = LocalRequest(
                headers={k.lower(): v for k, v in self.headers.items()},
                body=json.loads(body) if body else None,
                query={k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()},
            )
            response = route(request)
        except ValueError as error:
            response = LocalResponse(400, {"error": {"type": "BadRequest", "message": str(error)}})
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self._send(response.status, {"Content-Type": "application/json", **response.headers}, payload)

    def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":  # a HEAD answer has the headers of a GET, never its body
            self.wfile.write(body)

    def __getattr__(self, name: str) -> Any:
        # API Gateway's ANY method: every method (TRACE, QUERY, ...) reaches the function, whose
        # router answers 405 with Allow for one a route lacks; no 501 from this server in front
        if name.startswith("do_"):
            return self._handle
        raise AttributeError(name)
