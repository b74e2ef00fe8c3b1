"""/events: an account's events. Records the event and the runs it causes; answers 202 at once."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Body
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.dependencies import AccountId, Repository
from automations.api.schemas import EventAcceptedResponse
from automations.logic.events import AccountEvent, receive_event

router = APIGatewayRouter()


@router.post(
    "/events",
    operation_id="postEvent",
    status_code=202,
    summary="Post an account event",
    description="One run for every flow whose trigger is {type: event, event: <type>} (scheduled at its "
    "'at', or now); runs still scheduled under the same key are cancelled by an event in the flow's "
    "cancelOn and moved by one in its rescheduleOn. The same id posted again answers the same and "
    "records nothing new. An event type no flow subscribes to is fine: no runs. At most 99 flows of an "
    "account start on one event type (saving a 100th answers 409).",
    tags=["triggers"],
)
def post_event(
    event: Annotated[AccountEvent, Body()], account_id: AccountId, repo: Repository
) -> EventAcceptedResponse:
    return EventAcceptedResponse.of(receive_event(repo, account_id, event))
