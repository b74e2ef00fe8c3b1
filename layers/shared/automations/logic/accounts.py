"""API keys: stored only as SHA-256 hashes; a bearer key maps to exactly one account."""

from __future__ import annotations

import hashlib
import secrets

from automations.domain import clock
from automations.errors import Unauthorized
from automations.ports import AccountStore


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "ak_" + secrets.token_urlsafe(32)


def register_api_key(store: AccountStore, account_id: str, key: str) -> None:
    store.put_api_key(key_hash=hash_api_key(key), account_id=account_id, created_at=clock.iso(clock.now()))


def authenticate(store: AccountStore, authorization: str | None) -> str:
    """``Authorization: Bearer <key>`` -> account id, or Unauthorized."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    account_id = store.account_for_api_key(hash_api_key(key.strip()))
    if account_id is None:
        raise Unauthorized("unknown API key")
    return account_id
