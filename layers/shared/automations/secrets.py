"""Connection secrets (e.g. a SendGrid API key): read from SSM Parameter Store SecureStrings.

A flow names a connection; the key lives at ``<prefix><accountId>/<connection>`` and never
appears in the flow, the run history or the logs. Values are cached for a few minutes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Protocol

from aws_lambda_powertools.utilities import parameters

from automations.settings import get_settings

CACHE_SECONDS = 300


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...


class SsmSecretStore:
    def get(self, name: str) -> str | None:
        try:
            return str(parameters.get_parameter(name, decrypt=True, max_age=CACHE_SECONDS))
        except parameters.exceptions.GetParameterError:
            return None


def connection_parameter(account_id: str, connection: str) -> str:
    return f"{get_settings().connections_parameter_prefix}{account_id}/{connection}"


@lru_cache(maxsize=1)
def get_secret_store() -> SsmSecretStore:
    return SsmSecretStore()
