"""Connection secrets (e.g. a SendGrid API key): read from SSM Parameter Store SecureStrings.

A flow names a connection; the key lives at ``<prefix><accountId>/<connection>`` and never
appears in the flow, the run history or the logs. Values are kept for a few minutes per process
(a rotated key is read within ``CACHE_SECONDS``), with a client of ``adapters.clients``: no
boto3 (Powertools' parameters utility would import it, and make a session of its own).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from automations.adapters.clients import LazyClient
from automations.errors import TransientError
from automations.nodes.send_email import connection_parameter as _parameter
from automations.settings import get_settings

CACHE_SECONDS = 300


class SsmSecretStore:
    """Implements ``nodes.base.SecretStore``: a parameter's decrypted value, None when there is no
    such parameter; an SSM failure (throttled, unreachable, denied) is a ``TransientError``, so the
    step retries instead of reporting the connection as not set up."""

    def __init__(self, client: Any = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client if client is not None else LazyClient("ssm")
        self.clock = clock
        # name -> (value, read again after); (a dict's get and set are atomic: threads may share it)
        self._kept: dict[str, tuple[str, float]] = {}

    def get(self, name: str) -> str | None:
        kept = self._kept.get(name)
        if kept is not None and self.clock() < kept[1]:
            return kept[0]
        try:
            value = str(self.client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"])
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code == "ParameterNotFound":
                return None  # not kept: a connection set up a moment later is found at once
            raise TransientError(f"reading the connection's parameter {name} failed: {code or error}") from error
        except BotoCoreError as error:
            raise TransientError(f"reading the connection's parameter {name} failed: {error}") from error
        self._kept[name] = (value, self.clock() + CACHE_SECONDS)
        return value


def connection_parameter(account_id: str, connection: str) -> str:
    """The parameter holding an account's connection key, under this deployment's prefix."""
    return _parameter(get_settings().connections_parameter_prefix, account_id, connection)


@lru_cache(maxsize=1)
def get_secret_store() -> SsmSecretStore:
    return SsmSecretStore()
