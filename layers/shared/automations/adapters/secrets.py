"""The engine's own secrets, read from Secrets Manager when first needed and kept for the process
(connection keys of accounts are SSM parameters: ``adapters/ssm.py``)."""

from __future__ import annotations

from functools import lru_cache

from automations.adapters.clients import LazyClient

_secrets_manager = LazyClient("secretsmanager")


@lru_cache(maxsize=4)
def read_secret(secret_id: str) -> str:
    return str(_secrets_manager.get_secret_value(SecretId=secret_id)["SecretString"])
