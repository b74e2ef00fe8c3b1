"""Paging cursors: the position DynamoDB returned (``LastEvaluatedKey``), sealed so that a client
sees no table key and can neither forge nor alter one.

A cursor is a Fernet token (AES-128-CBC, then HMAC-SHA256 over it) of the key, made with a key
derived from a secret: the Secrets Manager secret ``CURSOR_SECRET_ARN`` names (the template
generates it), read on the first page that has a next one, never at a cold start. A token that
does not verify, or that comes from another listing, is ``InvalidCursor`` (400). Rotating the
secret makes the cursors in clients' hands invalid: they list again from the start.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from typing import Any

from automations.errors import InvalidCursor

PURPOSE = b"automations paging cursor v1:"


class Cursors:
    def __init__(self, secret: Callable[[], str] | None) -> None:
        self._secret = secret  # read when first needed
        self._fernet: Any = None

    def _sealer(self) -> Any:
        if self._fernet is None:
            if self._secret is None:
                raise RuntimeError("CURSOR_SECRET_ARN is not set: this function cannot make or read paging cursors")
            from cryptography.fernet import Fernet  # imported on the first page that has a next one

            key = hashlib.sha256(PURPOSE + self._secret().encode()).digest()
            self._fernet = Fernet(base64.urlsafe_b64encode(key))
        return self._fernet

    def seal(self, key: dict[str, Any]) -> str:
        token = self._sealer().encrypt(json.dumps(key, separators=(",", ":")).encode())
        return token.decode().rstrip("=")

    def open(self, cursor: str | None, key_names: tuple[str, ...], partition: str) -> dict[str, Any] | None:
        """The key a cursor of this listing (same index partition) sealed; None for no cursor."""
        if not cursor:
            return None
        from cryptography.fernet import InvalidToken

        try:
            key = json.loads(self._sealer().decrypt(cursor + "=" * (-len(cursor) % 4)))
            if key[key_names[2]] != {"S": partition} or set(key) - set(key_names):
                raise ValueError("cursor from another listing")
        except (InvalidToken, ValueError, KeyError, TypeError) as error:
            raise InvalidCursor("cursor is not valid for this listing") from error
        return key
