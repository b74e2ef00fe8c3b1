"""API keys through the API handler on moto: create, list (never the secret or its hash), use,
revoke (401 from the next request on), no self-lockout (409), other accounts' keys (404), and
`automations admin create-account` against the moto table."""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from automations.adapters.dynamo.repository import DynamoRepository
from automations.errors import Conflict
from automations.logic import accounts
from automations.logic.accounts import MAX_LIVE_KEYS, hash_api_key, key_id
from automations_cli.main import cli
from tests.conftest import TABLE
from tests.integration.conftest import API_KEY, OTHER_KEY, api_event


def keys_event(method: str, path: str = "/keys", *, key: str | None = API_KEY, body: Any = ...) -> dict[str, Any]:
    event = api_event("api_get_flow.json", path=path, key=key, body=body)
    event["httpMethod"] = method
    return event


def create(api, key: str = API_KEY, name: str | None = None) -> dict[str, Any]:
    status, created = api(keys_event("POST", key=key, body={"name": name} if name else {}))
    assert status == 201, created
    return created


def test_a_created_key_works_and_the_listing_shows_it_without_secret_or_hash(api) -> None:
    # Given the local account's key (registered by the fixture)
    # When it creates a named key
    created = create(api, name="ci deploys")

    # Then the answer carries the key once, its id and its prefix
    assert created["apiKey"].startswith("ak_") and created["prefix"] == created["apiKey"][:8]
    assert created["keyId"] == key_id(hash_api_key(created["apiKey"]))
    # And the new key authenticates
    status, listing = api(keys_event("GET", key=created["apiKey"]))
    assert status == 200, listing
    # And the listing shows both keys, newest first, with neither secret nor hash anywhere
    assert [k["keyId"] for k in listing["items"]] == [created["keyId"], key_id(hash_api_key(API_KEY))]
    assert listing["items"][0] == {
        "keyId": created["keyId"],
        "prefix": created["prefix"],
        "createdAt": created["createdAt"],
        "name": "ci deploys",
        "revokedAt": None,
    }
    text = json.dumps(listing)
    for secret in (created["apiKey"], API_KEY):
        assert secret not in text and hash_api_key(secret) not in text
    assert "keyHash" not in text


def test_a_revoked_key_answers_401_on_its_next_request(api) -> None:
    # Given a second key
    created = create(api)

    # When the first key revokes it
    status, revoked = api(keys_event("DELETE", f"/keys/{created['keyId']}"))

    # Then the answer shows when, and the revoked key is refused at once
    assert status == 200, revoked
    assert revoked["keyId"] == created["keyId"] and revoked["revokedAt"]
    status, answer = api(keys_event("GET", key=created["apiKey"]))
    assert status == 401 and answer["error"]["type"] == "Unauthorized"
    # And the listing keeps it, marked revoked; revoking again changes nothing
    _, listing = api(keys_event("GET"))
    assert next(k for k in listing["items"] if k["keyId"] == created["keyId"])["revokedAt"] == revoked["revokedAt"]
    assert api(keys_event("DELETE", f"/keys/{created['keyId']}")) == (200, revoked)


def test_rotation_the_calling_key_may_go_only_while_another_live_key_remains(api) -> None:
    # Given an account with one live key
    own = key_id(hash_api_key(API_KEY))

    # When it tries to revoke the key it calls with
    status, answer = api(keys_event("DELETE", f"/keys/{own}"))

    # Then 409: it would lock itself out; the key still works
    assert status == 409 and answer["error"]["type"] == "Conflict", answer
    assert api(keys_event("GET"))[0] == 200

    # When it rotates: a new key, then the old one revoked with itself
    created = create(api)
    status, revoked = api(keys_event("DELETE", f"/keys/{own}"))

    # Then the old key is refused and the new one works
    assert status == 200 and revoked["revokedAt"], revoked
    assert api(keys_event("GET"))[0] == 401
    assert api(keys_event("GET", key=created["apiKey"]))[0] == 200


def test_two_revocations_at_once_cannot_revoke_the_last_two_keys(api, repo: DynamoRepository, monkeypatch) -> None:
    # Given two live keys, A (this test's) and B
    a = key_id(hash_api_key(API_KEY))
    b = create(api)
    # and A's revocation of B listing the keys just before B's revocation of A commits
    stale = repo.list_api_keys("acct_local")
    assert accounts.revoke_key(repo, accounts.Caller("acct_local", b["keyId"]), a).revoked_at
    monkeypatch.setattr(repo, "list_api_keys", lambda account_id: stale)
    # When A's revocation of B goes ahead on what it listed
    with pytest.raises(Conflict, match="last live key"):
        accounts.revoke_key(repo, accounts.Caller("acct_local", a), b["keyId"])
    # Then it is refused in its own transaction: B, now the only live key, still works
    assert api(keys_event("GET", key=b["apiKey"]))[0] == 200


def test_an_account_has_at_most_twenty_live_keys(api) -> None:
    # Given an account with its first key and 19 more: 20 live keys
    made = [create(api, name=f"k{n}") for n in range(MAX_LIVE_KEYS - 1)]
    # When it asks for one more Then it is refused, naming the limit, and nothing is made
    status, body = api(keys_event("POST", body={"name": "one too many"}))
    assert status == 409 and "revoke one first" in body["error"]["message"]
    assert len(api(keys_event("GET"))[1]["items"]) == MAX_LIVE_KEYS
    # When one is revoked Then a new one can be made
    assert api(keys_event("DELETE", f"/keys/{made[0]['keyId']}"))[0] == 200
    assert api(keys_event("POST", body={"name": "replacement"}))[0] == 201


def test_another_accounts_keys_are_invisible(api) -> None:
    # Given a key of the other account
    other = create(api, key=OTHER_KEY)

    # When the local account lists keys, or revokes the other's key
    _, listing = api(keys_event("GET"))
    status, answer = api(keys_event("DELETE", f"/keys/{other['keyId']}"))

    # Then it sees only its own, and the other's id is 404 and still works
    assert [k["keyId"] for k in listing["items"]] == [key_id(hash_api_key(API_KEY))]
    assert status == 404 and answer["error"]["type"] == "NotFound"
    assert api(keys_event("GET", key=other["apiKey"]))[0] == 200
    # And an unknown id is 404 too; no key at all is 401
    assert api(keys_event("DELETE", "/keys/apikey:000000000000"))[0] == 404
    assert api(keys_event("GET", key=None))[0] == 401


def test_a_bad_name_is_422_and_creates_nothing(api) -> None:
    status, answer = api(keys_event("POST", body={"name": "x" * 101}))
    assert status == 422, answer
    assert len(api(keys_event("GET"))[1]["items"]) == 1


def test_admin_create_account_makes_an_account_and_its_first_key_in_the_table(
    repo: DynamoRepository, api, monkeypatch
) -> None:
    # Given the moto table (the `repo` fixture's)
    # When an operator creates an account with the CLI, straight in the table
    result = CliRunner().invoke(cli, ["admin", "create-account", "--table", TABLE, "--json"])

    # Then it prints the account and the key, once
    assert result.exit_code == 0, result.output
    made = json.loads(result.output)
    assert made["accountId"].startswith("acct_") and made["apiKey"].startswith("ak_")
    # And the key works through the API, for that account alone
    status, listing = api(keys_event("GET", key=made["apiKey"]))
    assert status == 200, listing
    assert [k["keyId"] for k in listing["items"]] == [made["keyId"]]
    assert repo.account_for_api_key(hash_api_key(made["apiKey"])) == made["accountId"]
