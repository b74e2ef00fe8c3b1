"""Connection secrets (e.g. a SendGrid API key): read from SSM Parameter Store SecureStrings.

A flow names a connection; the key lives at ``<prefix><accountId>/<connection>`` and never
appears in the flow, the run history or the logs. Values are cached for a few minutes.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import boto3

from automations.nodes.send_email import connection_parameter as _parameter
from automations.settings import get_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SSMProvider

CACHE_SECONDS = 300


def _provider() -> SSMProvider:
    """Powertools' default SSM provider, made (once, until ``parameters.clear_caches()``) with a
    client of boto3's default session: its own would make a new session, which reads botocore's
    data files and endpoint rules again (tens of milliseconds of the one invocation that needs it)."""
    # (imported here: only the send_email node reads connection secrets)
    from aws_lambda_powertools.utilities.parameters import SSMProvider
    from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

    if "ssm" not in DEFAULT_PROVIDERS:
        DEFAULT_PROVIDERS["ssm"] = SSMProvider(boto3_client=boto3.client("ssm"))
    return DEFAULT_PROVIDERS["ssm"]


class SsmSecretStore:
    """Implements ``nodes.base.SecretStore``."""

    def get(self, name: str) -> str | None:
        from aws_lambda_powertools.utilities import parameters

        _provider()
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
