"""API keys: stored only as SHA-256 hashes; a bearer key maps to exactly one account."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from automations.domain import clock
from automations.errors import Unauthorized
from automations.ports import AccountStore


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "ak_" + secrets.token_urlsafe(32)


def register_api_key(store: AccountStore, account_id: str, key: str) -> None:
    store.put_api_key(key_hash=hash_api_key(key), account_id=account_id, created_at=clock.iso(clock.now()))


@dataclass(frozen=True)
class Caller:
    """Who is calling: the account, and which of its API keys (what run history records of an
    operator's action; the id is not secret: the start of the key's SHA-256)."""

    account_id: str
    key_id: str


def key_id(key_hash: str) -> str:
    return f"apikey:{key_hash[:12]}"


def authenticate(store: AccountStore, authorization: str | None) -> Caller:
    """``Authorization: Bearer <key>`` -> the caller, or Unauthorized."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    key_hash = hash_api_key(key.strip())
    account_id = store.account_for_api_key(key_hash)
    if account_id is None:
        raise Unauthorized("unknown API key")
    return Caller(account_id=account_id, key_id=key_id(key_hash))
