"""Keep secrets out of run history: headers, query parameters and variables.

Two rules: a value whose name says it is secret (``Authorization``, ``apiKey``, ``?token=``) is
replaced whole; and a value that *looks* like a credential wherever it sits (a value that is a
``Bearer ...`` or ``Basic ...`` credential, well-known key formats such as ``sk_live_...``, ``SG.x.y``, ``AKIA...``,
``ghp_...``, ``xoxb-...``, JSON Web Tokens, this engine's own ``ak_...`` keys) has that part
replaced, so ``X-Custom: Bearer sk_live_123`` is no more kept than ``Authorization`` is.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "[REDACTED]"
_SECRET_NAME = re.compile(r"auth|token|secret|password|passwd|api[-_]?key|signature|cookie|session|credential", re.I)
# a whole value that is an Authorization-style credential (free text such as "your token expires"
# is not one: the scheme must start the value and the rest be a single token-like word)
_SCHEME_VALUE = re.compile(r"\s*(?:bearer|basic|token|digest)\s+[A-Za-z0-9._~+/=-]{8,}\s*", re.IGNORECASE)
_CREDENTIAL = re.compile(
    r"""
    \b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{6,}                # Stripe-style keys
    | \bSG\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}                  # SendGrid
    | \b(?:AKIA|ASIA)[0-9A-Z]{16}\b                               # AWS access key ids
    | \b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}  # GitHub
    | \bxox[abprs]-[A-Za-z0-9-]{10,}                              # Slack
    | \beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*  # a JSON Web Token
    | \bak_[A-Za-z0-9_-]{20,}                                     # this engine's API keys
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """``text`` with every part that looks like a credential replaced."""
    if _SCHEME_VALUE.fullmatch(text):
        return REDACTED
    return _CREDENTIAL.sub(REDACTED, text)


def redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if is_secret_name(k) else redact_text(v)) for k, v in headers.items()}


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:  # user:password@host
        netloc = f"{REDACTED}@{netloc.rsplit('@', 1)[1]}"
    if not parts.query and netloc == parts.netloc:
        return redact_text(url)
    query = urlencode([(k, REDACTED if is_secret_name(k) else redact_text(v)) for k, v in parse_qsl(parts.query, True)])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_values(value: Any) -> Any:
    """Recursively replace the values of secret-looking keys, and credential-looking text anywhere."""
    if isinstance(value, dict):
        return {k: (REDACTED if is_secret_name(str(k)) else redact_values(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_values(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value
