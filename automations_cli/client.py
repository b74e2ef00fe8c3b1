"""The engine's REST API over HTTP, and the one mapping of what went wrong to an exit code."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from urllib.parse import quote

import click
import requests

DEFAULT_API_URL = "http://127.0.0.1:3000"  # the local stack (make local)


class ExitCode(IntEnum):
    """What scripts can rely on; documented in ``automations --help`` and the README."""

    OK = 0
    API_ERROR = 1  # the API answered an error not covered below (400, 422, ...)
    USAGE = 2  # click's own code for bad arguments
    NOT_FOUND = 3
    CONFLICT = 4  # the run is in a state that does not allow it
    AUTHENTICATION = 5
    UNREACHABLE = 6  # no answer (connection refused, timeout) or a 5xx: try again later


def exit_code_for(status: int) -> ExitCode:
    if status == 404:
        return ExitCode.NOT_FOUND
    if status == 409:
        return ExitCode.CONFLICT
    if status in (401, 403):
        return ExitCode.AUTHENTICATION
    if status >= 500:
        return ExitCode.UNREACHABLE
    return ExitCode.API_ERROR


class ApiError(click.ClickException):
    """An error answer (or none at all). A ClickException, so click prints ``Error: <message>`` to
    stderr and exits with ``exit_code``, as it does for its own usage errors."""

    def __init__(self, message: str, exit_code: ExitCode, status: int | None = None, type_: str | None = None):
        super().__init__(message)
        # click declares exit_code a class attribute; each answer needs its own
        self.exit_code = int(exit_code)  # type: ignore[misc]
        self.status = status
        self.type = type_


def error_from(response: requests.Response) -> ApiError:
    """The API's ``{"error": {"type", "message"}}`` when it sent one; else what HTTP said."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and error.get("message"):
        type_ = str(error.get("type") or "Error")
        return ApiError(f"{error['message']} ({type_}, HTTP {status})", exit_code_for(status), status, type_)
    text = response.text.strip()[:200] or response.reason or "no body"
    return ApiError(f"HTTP {status}: {text}", exit_code_for(status), status)


@dataclass
class ApiClient:
    base_url: str
    api_key: str | None
    timeout: float
    session: requests.Session = field(default_factory=requests.Session)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        # None means "not given": leave it out rather than send an empty value the API would judge
        query = {k: v for k, v in (params or {}).items() if v is not None}
        return self._request("GET", path, params=query)

    def post(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._request("POST", path, json=dict(body))

    def delete(self, path: str) -> Any:
        return self._request("DELETE", path)

    def pages(self, path: str, params: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
        """Every page of a ``{"items", "nextCursor"}`` listing, following ``nextCursor`` to the end."""
        cursor = params.get("cursor")
        while True:
            page = self.get(path, {**params, "cursor": cursor})
            yield page
            cursor = page.get("nextCursor")
            if not cursor:
                return

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        if not self.api_key:
            # checked here, not as a required option, so that `--help` works without a key
            raise click.UsageError(
                "no API key: pass --api-key or set AUTOMATIONS_API_KEY (the local stack prints its key at start)"
            )
        url = self.base_url.rstrip("/") + path
        headers = {"Authorization": f"Bearer {self.api_key}", "Accept": "application/json"}
        try:
            response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except requests.Timeout:  # before ConnectionError: a connect timeout is both
            raise ApiError(
                f"the API at {self.base_url} did not answer within {self.timeout:g}s", ExitCode.UNREACHABLE
            ) from None
        except requests.ConnectionError as error:
            raise ApiError(f"cannot reach the API at {self.base_url}: {_reason(error)}", ExitCode.UNREACHABLE) from None
        if not response.ok:
            raise error_from(response)
        try:
            return response.json()
        except ValueError:
            raise ApiError(
                f"the API answered HTTP {response.status_code} without JSON (is {self.base_url} the engine's API?)",
                ExitCode.API_ERROR,
                response.status_code,
            ) from None


def _reason(error: requests.ConnectionError) -> str:
    """The socket's own words ("Connection refused"), not urllib3's wrappers around them."""
    cause = error.args[0] if error.args else None
    reason: BaseException | None = getattr(cause, "reason", None)  # urllib3's MaxRetryError.reason
    link = reason
    while link is not None:
        if isinstance(link, OSError) and link.strerror:
            return link.strerror
        link = link.__cause__ or link.__context__
    return str(reason or error)


def segment(value: str, safe: str = "") -> str:
    """A path segment from user input: quoted, so that a run id cannot reach another route."""
    return quote(value, safe=safe)
