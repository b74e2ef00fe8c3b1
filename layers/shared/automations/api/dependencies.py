"""What routes depend on; tests swap these with ``app.dependency_overrides``."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Request
from aws_lambda_powertools.event_handler.depends import Depends

from automations.adapters.dynamo.repository import DynamoRepository, get_repository
from automations.logic.accounts import Caller, authenticate
from automations.observability import logger
from automations.settings import Settings, get_settings


def repository() -> DynamoRepository:
    return get_repository()


def settings() -> Settings:
    return get_settings()


def current_caller(request: Request) -> Caller:
    """The account (and key) behind ``Authorization: Bearer <api key>``; Unauthorized otherwise."""
    headers = {k.lower(): v for k, v in (request.headers or {}).items()}
    caller = authenticate(get_repository(), headers.get("authorization"))
    logger.append_keys(account_id=caller.account_id)  # on the request's later log lines
    return caller


def current_account(caller: Annotated[Caller, Depends(current_caller)]) -> str:
    return caller.account_id


Repository = Annotated[DynamoRepository, Depends(repository)]
AccountId = Annotated[str, Depends(current_account)]
CurrentCaller = Annotated[Caller, Depends(current_caller)]
AppSettings = Annotated[Settings, Depends(settings)]
