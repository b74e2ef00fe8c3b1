"""Keep secrets out of run history: headers, query parameters and variables."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
_SECRET_NAME = re.compile(r"auth|token|secret|password|passwd|api[-_]?key|signature|cookie|session|credential", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if is_secret_name(k) else v) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    if not parts.query and netloc == parts.netloc:
        return url
    query = urlencode([(k, REDACTED if is_secret_name(k) else v) for k, v in parse_qsl(parts.query, True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_values(value: Any) -> Any:
    """Recursively replace the values of secret-looking keys."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(str(k)) else redact_values(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_values(v) for v in value]
    return value
