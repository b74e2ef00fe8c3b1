"""/keys: the caller's account's API keys. Rotation: create a new key, move clients to it, revoke
the old one. A revoked key answers 401 from its next request on."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import CurrentCaller, Repository
from automations.api.http import created
from automations.api.key_schemas import CreateKeyRequest, KeyCreated, KeyList, KeyView
from automations.logic import accounts

router = APIGatewayRouter()


@router.get(
    "/keys",
    operation_id="listKeys",
    summary="List the account's API keys, newest first (never the secret)",
    tags=["keys"],
)
def list_keys(caller: CurrentCaller, repo: Repository) -> KeyList:
    return KeyList(items=[KeyView.of(k) for k in accounts.list_keys(repo, caller.account_id)])


@router.post(
    "/keys",
    operation_id="createKey",
    status_code=201,
    summary="Create an API key (its secret is shown once)",
    tags=["keys"],
)
def create_key(
    caller: CurrentCaller, repo: Repository, body: Annotated[CreateKeyRequest, Body()], request: Request
) -> Response[KeyCreated]:
    key = KeyCreated.of(accounts.create_key(repo, caller.account_id, body.name))
    return created(request, key, f"/keys/{key.key_id}")


@router.delete(
    "/keys/<keyId>",
    operation_id="revokeKey",
    summary="Revoke an API key (it answers 401 from its next request on)",
    description="Revoking the key you call with needs another live key (409 otherwise).",
    tags=["keys"],
)
def revoke_key(
    key_id: Annotated[str, Path(alias="keyId", max_length=64)], caller: CurrentCaller, repo: Repository
) -> KeyView:
    return KeyView.of(accounts.revoke_key(repo, caller, key_id))
