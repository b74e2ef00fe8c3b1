"""Connection secrets from SSM: decrypted, kept for minutes, missing is None, a failure is transient."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from automations.adapters.ssm import CACHE_SECONDS, SsmSecretStore
from automations.errors import TransientError

NAME = "/automations/connections/acct_1/sendgrid"


class FakeSsm:
    """Answers get_parameter from ``values``; raises what ``failure`` holds instead, when set."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values, self.requests = values, []
        self.failure: Exception | None = None

    def get_parameter(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        if self.failure is not None:
            raise self.failure
        if request["Name"] not in self.values:
            raise ClientError({"Error": {"Code": "ParameterNotFound", "Message": "no"}}, "GetParameter")
        return {"Parameter": {"Name": request["Name"], "Value": self.values[request["Name"]]}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_read_decrypted_once_and_kept_for_the_cache_period() -> None:
    # Given a parameter
    ssm, clock = FakeSsm({NAME: "SG.key"}), Clock()
    store = SsmSecretStore(ssm, clock)
    # When it is read twice within the period
    assert store.get(NAME) == "SG.key"
    clock.now += CACHE_SECONDS - 1
    assert store.get(NAME) == "SG.key"
    # Then SSM was asked once, for the decrypted value
    assert ssm.requests == [{"Name": NAME, "WithDecryption": True}]
    # and after the period (a rotated key) it is read again
    ssm.values[NAME] = "SG.rotated"
    clock.now += 2
    assert store.get(NAME) == "SG.rotated" and len(ssm.requests) == 2


def test_a_missing_parameter_is_none_and_not_kept() -> None:
    ssm = FakeSsm({})
    store = SsmSecretStore(ssm, Clock())
    assert store.get(NAME) is None
    ssm.values[NAME] = "SG.key"  # set up a moment later
    assert store.get(NAME) == "SG.key"


@pytest.mark.parametrize(
    "failure",
    [
        ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetParameter"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": "denied"}}, "GetParameter"),
        EndpointConnectionError(endpoint_url="https://ssm.us-east-1.amazonaws.com"),
    ],
    ids=["throttled", "denied", "unreachable"],
)
def test_an_ssm_failure_is_a_transient_error_not_a_missing_connection(failure: Exception) -> None:
    ssm = FakeSsm({NAME: "SG.key"})
    ssm.failure = failure
    with pytest.raises(TransientError) as raised:
        SsmSecretStore(ssm, Clock()).get(NAME)
    assert NAME in raised.value.message and raised.value.retryable
