"""Webhook signatures: ``X-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.

The timestamp is signed with the body, so a captured request cannot be replayed outside the
tolerance window; comparison is constant-time. Inside the window a signature is accepted once:
``verify`` returns what identifies it (its timestamp and digest), and the webhook intake
remembers it until the window has passed (``replay_until``).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from automations.errors import InvalidSignature

SIGNATURE_HEADER = "X-Signature"
# a remembered signature outlives its window by this much, so clock skew between the
# caller's timestamp and ours cannot reopen it
REPLAY_MARGIN_SECONDS = 60


@dataclass(frozen=True)
class VerifiedSignature:
    """A signature that matched: ``digest`` is HMAC(secret, "<t>.<body>"), unique per (secret, t, body)."""

    timestamp: int
    digest: str

    def replay_until(self, tolerance_seconds: int) -> int:
        """Unix seconds until which the same signature would still pass ``verify`` (plus a margin)."""
        return self.timestamp + tolerance_seconds + REPLAY_MARGIN_SECONDS


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The header value a sender puts in ``X-Signature``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    secret: str | list[str], header: str | None, body: bytes, now: int, tolerance_seconds: int
) -> VerifiedSignature:
    """``secret``: one, or several that are valid at once (a rotation's grace period)."""
    if not header:
        raise InvalidSignature(f"missing {SIGNATURE_HEADER} header")
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if sep:
            parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
        candidates = parts["v1"]
    except (KeyError, ValueError) as error:
        raise InvalidSignature(f"{SIGNATURE_HEADER} must look like 't=<unix seconds>,v1=<hex>'") from error
    if abs(now - timestamp) > tolerance_seconds:
        raise InvalidSignature(f"signature timestamp is outside the {tolerance_seconds}-second window")
    # every candidate is compared with every secret, so timing does not reveal which (if any) matched
    matched = None
    for one in [secret] if isinstance(secret, str) else secret:
        expected = sign(one, body, timestamp).split("v1=", 1)[1]
        if any([hmac.compare_digest(expected, candidate) for candidate in candidates]) and matched is None:
            matched = expected
    if matched is None:
        raise InvalidSignature("signature does not match the body")
    return VerifiedSignature(timestamp=timestamp, digest=matched)
