"""Accounts and their API keys: stored only as SHA-256 hashes; a bearer key maps to exactly one
account. Keys are created, listed and revoked per account (rotation: create a new key, move the
clients over, revoke the old one); a revoked key is refused from its next request on."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace

from automations.domain import clock, ids
from automations.errors import Conflict, NotFound, Unauthorized
from automations.ports import AccountStore, ApiKeyRecord, KeyNotLive

PREFIX_LENGTH = 8  # "ak_AbCdE": enough to tell keys apart on screen, far too little to guess the rest


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_api_key() -> str:
    return "ak_" + secrets.token_urlsafe(32)


def key_id(key_hash: str) -> str:
    """A key's public id: not secret, the start of its SHA-256 (what run history records as ``by``)."""
    return f"apikey:{key_hash[:12]}"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the account, and which of its API keys (what run history records of an
    operator's action; the id is not secret: the start of the key's SHA-256)."""

    account_id: str
    key_id: str


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``secret`` is shown once and stored nowhere."""

    key: ApiKeyRecord
    secret: str


def register_api_key(store: AccountStore, account_id: str, key: str, *, name: str | None = None) -> ApiKeyRecord:
    """Store ``key`` (hashed) for the account, with its listing entry. Registering the same key
    for the same account again keeps it as it was (so a local stack can re-register its demo key)."""
    key_hash = hash_api_key(key)
    record = ApiKeyRecord(
        key_id=key_id(key_hash),
        account_id=account_id,
        prefix=key[:PREFIX_LENGTH],
        created_at=clock.iso(clock.now()),
        name=name,
    )
    return store.put_api_key(record, key_hash=key_hash)


def create_key(store: AccountStore, account_id: str, name: str | None = None) -> NewKey:
    """A new key for the account, while it has fewer than ``MAX_LIVE_KEYS`` live ones (409 then:
    keys are for rotation and a few clients, not one per request)."""
    live = sum(1 for key in store.list_api_keys(account_id) if key.revoked_at is None)
    if live >= MAX_LIVE_KEYS:
        raise Conflict(f"the account has {live} live API keys, the most it may have: revoke one first")
    secret = new_api_key()
    return NewKey(key=register_api_key(store, account_id, secret, name=name), secret=secret)


MAX_LIVE_KEYS = 20


def create_account(store: AccountStore, name: str | None = None) -> tuple[str, NewKey]:
    """A new account id and its first key (what ``automations admin create-account`` does)."""
    account_id = ids.new_id("acct")
    return account_id, create_key(store, account_id, name)


def list_keys(store: AccountStore, account_id: str) -> list[ApiKeyRecord]:
    """The account's keys, newest first, revoked ones included (with when)."""
    return sorted(store.list_api_keys(account_id), key=lambda k: (k.created_at, k.key_id), reverse=True)


def revoke_key(store: AccountStore, caller: Caller, key_id_: str) -> ApiKeyRecord:
    """Revoke one of the caller's account's keys (again: no change), only while another key stays
    live: an account must not lock itself out. Which one stays is checked in the revocation's own
    transaction (the caller's key first), so two revocations at once cannot revoke the last two."""
    key = store.get_api_key(caller.account_id, key_id_)
    if key is None:
        raise NotFound(f"no API key {key_id_!r}")
    if key.revoked_at:
        return key
    at = clock.iso(clock.now())
    live = [k.key_id for k in store.list_api_keys(caller.account_id) if k.revoked_at is None and k.key_id != key.key_id]
    for keeper in sorted(live, key=lambda key_id: key_id != caller.key_id):
        try:
            store.revoke_api_key(caller.account_id, key.key_id, at=at, while_live=keeper)
        except KeyNotLive:
            continue
        return replace(key, revoked_at=at)
    raise Conflict("this is the account's last live key: create another key first")


def authenticate(store: AccountStore, authorization: str | None) -> Caller:
    """``Authorization: Bearer <key>`` -> the caller, or Unauthorized (also for a revoked key: the
    key item is read consistently, so a revocation holds from the very next request)."""
    scheme, _, key = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    key_hash = hash_api_key(key.strip())
    record = store.api_key_for_hash(key_hash)
    if record is None:
        raise Unauthorized("unknown API key")
    if record.revoked_at:
        raise Unauthorized("this API key was revoked")
    return Caller(account_id=record.account_id, key_id=key_id(key_hash))
