"""The engine's own secrets, read from Secrets Manager when first needed and kept for the process
(connection keys of accounts are SSM parameters: ``adapters/ssm.py``)."""

from __future__ import annotations

from functools import lru_cache

import boto3


@lru_cache(maxsize=4)
def read_secret(secret_id: str) -> str:
    return str(boto3.client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"])
