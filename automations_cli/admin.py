"""Operator actions straight on a deployed stack's DynamoDB table, with the caller's AWS
credentials, through the engine's own logic and repository (the items are the API's)."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from automations.adapters.dynamo.repository import DynamoRepository
from automations.logic import accounts
from automations_cli.client import ApiError, ExitCode


def table_of_stack(stack: str, endpoint_url: str | None = None) -> str:
    described = boto3.client("cloudformation", endpoint_url=endpoint_url).describe_stacks(StackName=stack)
    for output in described["Stacks"][0].get("Outputs", []):
        if output.get("OutputKey") == "TableName":
            return str(output["OutputValue"])
    raise ApiError(f"stack {stack!r} has no TableName output", ExitCode.NOT_FOUND)


def create_account(
    *, table: str | None, stack: str | None, endpoint_url: str | None, name: str
) -> tuple[str, dict[str, Any]]:
    """A new account and its first key: (account id, the key's fields with the key itself)."""
    try:
        table_name = table or table_of_stack(str(stack))
        repo = DynamoRepository(table_name, boto3.client("dynamodb", endpoint_url=endpoint_url))
        account_id, created = accounts.create_account(repo, name=name)
    except NoCredentialsError:
        raise ApiError("no AWS credentials (configure a profile or AWS_* variables)", ExitCode.AUTHENTICATION) from None
    except EndpointConnectionError as error:
        raise ApiError(f"cannot reach DynamoDB: {error}", ExitCode.UNREACHABLE) from None
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "ResourceNotFoundException":
            raise ApiError(f"{message} ({code})", ExitCode.NOT_FOUND) from None
        if code in ("AccessDeniedException", "UnrecognizedClientException", "ExpiredTokenException"):
            raise ApiError(f"{message} ({code})", ExitCode.AUTHENTICATION) from None
        raise ApiError(f"{message} ({code})", ExitCode.API_ERROR) from None
    except BotoCoreError as error:
        raise ApiError(str(error), ExitCode.UNREACHABLE) from None
    key = created.key
    return account_id, {
        "keyId": key.key_id,
        "apiKey": created.secret,
        "prefix": key.prefix,
        "createdAt": key.created_at,
    }
