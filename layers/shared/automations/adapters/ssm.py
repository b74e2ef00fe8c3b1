"""Connection secrets (e.g. a SendGrid API key): read from SSM Parameter Store SecureStrings.

A flow names a connection; the key lives at ``<prefix><accountId>/<connection>`` and never
appears in the flow, the run history or the logs. Values are cached for a few minutes.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities import parameters

from automations.nodes.send_email import connection_parameter as _parameter
from automations.settings import get_settings

CACHE_SECONDS = 300


class SsmSecretStore:
    """Implements ``nodes.base.SecretStore``."""

    def get(self, name: str) -> str | None:
        try:
            return str(parameters.get_parameter(name, decrypt=True, max_age=CACHE_SECONDS))
        except parameters.exceptions.GetParameterError:
            return None


def connection_parameter(account_id: str, connection: str) -> str:
    """The parameter holding an account's connection key, under this deployment's prefix."""
    return _parameter(get_settings().connections_parameter_prefix, account_id, connection)


@lru_cache(maxsize=1)
def get_secret_store() -> SsmSecretStore:
    return SsmSecretStore()
