"""Writes that meet a transaction on an item, as on AWS (``adapters/dynamo/conflicts.py``).

moto applies requests one at a time and never answers with a conflict; these tests put DynamoDB's
answer (a 400 whose body names the error, as AWS sends it) in front of moto for the next requests
of an operation, and let botocore's retry decision, with the engine's handler, act on it.
"""

from __future__ import annotations

import json
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from automations.adapters.dynamo import conflicts
from automations.adapters.dynamo.repository import DynamoRepository
from automations.domain.interpreter import LifecycleTask
from automations.domain.status import RunStatus
from automations.logic import lifecycle
from automations.logic.recording import Recorded
from automations.logic.webhooks import receive_webhook
from tests.integration.conftest import signed_webhook, table_items
from tests.integration.test_operators import TWO_TASKS, create_flow, express_arn, manual_run, start_on_express

NOWHERE = "http://127.0.0.1:9/"  # the discard port, on loopback
HAND_OFF_STATE = {"stepNumber": 1, "node": {"id": "first", "type": "http_request", "task": "HandOff"}}


def transaction_cancelled(*reasons: str) -> dict[str, Any]:
    listed = ", ".join(reasons)
    return {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{listed}]",
        "CancellationReasons": [{"Code": reason} for reason in reasons],
    }


TRANSACTION_IN_PROGRESS = {
    "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
    "message": "Transaction is ongoing for the item",
}


class _Body:
    def __init__(self, content: bytes) -> None:
        self.content = content

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.content


class DynamoAnswers:
    """DynamoDB's answers to the next requests of an operation, given instead of moto's."""

    def __init__(self) -> None:
        self.queued: dict[str, deque[dict[str, Any]]] = {}
        self.sent: Counter[str] = Counter()
        self.meanwhile: list[Callable[[], Any]] = []

    def queue(self, operation: str, *bodies: dict[str, Any], meanwhile: Callable[[], Any] | None = None) -> None:
        """Answer the next requests of ``operation`` with ``bodies``; ``sent`` counts them from now.
        ``meanwhile``: the write the first of them met, done as it is answered."""
        self.queued.setdefault(operation, deque()).extend(bodies)
        self.sent[operation] = 0
        self.meanwhile = [meanwhile] if meanwhile else []

    def __call__(self, request: Any, event_name: str, **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        self.sent[operation] += 1
        waiting = self.queued.get(operation)
        if not waiting:
            return None
        # botocore calls every before-send handler and sends the first answer: moto's, called after
        # this one, must not apply the request, so it is pointed where moto serves nothing (and
        # nothing is sent there: botocore takes the answer given here)
        request.url = NOWHERE
        body = json.dumps(waiting.popleft()).encode()
        while self.meanwhile:
            self.meanwhile.pop()()
        headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": "conflict"}
        return AWSResponse(request.url, 400, headers, _Body(body))


@pytest.fixture
def answers(repo: DynamoRepository, monkeypatch: pytest.MonkeyPatch) -> Iterator[DynamoAnswers]:
    monkeypatch.setattr(conflicts, "wait_before_retry", lambda attempts: 0)  # (its ceilings: a test below)
    given = DynamoAnswers()
    events = repo.client.meta.events
    events.register_first("before-send.dynamodb", given, unique_id="test-dynamo-answers")
    yield given
    events.unregister("before-send.dynamodb", unique_id="test-dynamo-answers")


def express_run(api, repo: DynamoRepository) -> str:
    run_id = manual_run(api, create_flow(api, TWO_TASKS))
    start_on_express(repo, run_id)
    return run_id


def hand_off(repo: DynamoRepository, run_id: str) -> dict[str, Any]:
    task = LifecycleTask(
        action="hand_off",
        run_id=run_id,
        execution_name=run_id,
        execution_arn=express_arn(run_id),
        state={"runId": run_id, **HAND_OFF_STATE},
    )
    return lifecycle.hand_off_to_standard(repo, task)


def test_a_hand_off_that_meets_another_write_is_sent_again_and_hands_the_run_off(api, repo, answers) -> None:
    # Given a run on Express whose hand-off transaction meets the stream's write of the run item
    run_id = express_run(api, repo)
    answers.queue("TransactWriteItems", transaction_cancelled("TransactionConflict", "None", "None"))
    # When its execution reaches HandOff
    answer = hand_off(repo, run_id)
    # Then the transaction was sent again, and the run goes on under a Standard execution
    assert answer == {"runId": run_id, "handedOffTo": f"{run_id}-r1"}
    assert answers.sent["TransactWriteItems"] == 2
    run = repo.get_run(run_id)
    assert (run.status, run.current_execution, run.path) == (RunStatus.RUNNING, f"{run_id}-r1", ["express", "standard"])


def test_a_hand_off_cancelled_for_a_reason_that_is_no_condition_fails_loudly(api, repo, answers) -> None:
    # Given a run on Express whose hand-off DynamoDB refuses as invalid
    run_id = express_run(api, repo)
    answers.queue("TransactWriteItems", transaction_cancelled("None", "ValidationError", "None"))
    # When its execution reaches HandOff
    with pytest.raises(ClientError) as raised:
        hand_off(repo, run_id)
    # Then the error surfaces (the Task fails, an engine error), sent once; the run is not read as
    # "moved on": its Express execution is not ended as having reached its end
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert answers.sent["TransactWriteItems"] == 1
    run = repo.get_run(run_id)
    assert (run.status, run.current_execution) == (RunStatus.RUNNING, run_id)
    assert repo.get_execution(run_id, run_id).outcome is None


def test_a_hand_off_whose_condition_failed_is_an_answer_and_is_sent_once(api, repo, answers) -> None:
    # Given a run on Express whose hand-off meets a condition that failed (the run moved on)
    run_id = express_run(api, repo)
    answers.queue("TransactWriteItems", transaction_cancelled("ConditionalCheckFailed", "None", "None"))
    # When its execution reaches HandOff
    answer = hand_off(repo, run_id)
    # Then nothing is handed off and nothing sent again
    assert "handedOffTo" not in answer
    assert answers.sent["TransactWriteItems"] == 1


def test_a_write_refused_while_a_transaction_holds_the_item_is_sent_again(api, repo, answers) -> None:
    # Given a running run, and a transaction in progress on its item for two of the next requests
    run_id = express_run(api, repo)
    answers.queue("UpdateItem", TRANSACTION_IN_PROGRESS, TRANSACTION_IN_PROGRESS)
    # When the run's status is written
    assert repo.transition_run(run_id, RunStatus.CANCELLED, cause="cancelled by an operator")
    # Then the update was sent until it landed
    assert answers.sent["UpdateItem"] == 3
    assert repo.get_run(run_id).status == RunStatus.CANCELLED


def test_contention_that_lasts_surfaces_after_the_last_attempt(api, repo, answers) -> None:
    # Given a transaction in progress on a run's item for more attempts than are made
    run_id = express_run(api, repo)
    answers.queue("UpdateItem", *[TRANSACTION_IN_PROGRESS] * (conflicts.CONFLICT_ATTEMPTS + 1))
    # When the run's status is written, Then the conflict surfaces after the last attempt, nothing written
    with pytest.raises(ClientError) as raised:
        repo.transition_run(run_id, RunStatus.CANCELLED, cause="cancelled by an operator")
    assert raised.value.response["Error"]["Code"] == "TransactionConflictException"
    assert answers.sent["UpdateItem"] == conflicts.CONFLICT_ATTEMPTS
    assert repo.get_run(run_id).status == RunStatus.RUNNING


def test_a_delivery_that_meets_its_duplicate_in_flight_gets_the_first_recordings_answer(
    api, repo, webhook_flow, answers
) -> None:
    # Given a webhook call with an idempotency key, sent again by its sender while the first is recorded
    flow_id = webhook_flow["flowId"]
    call = signed_webhook(flow_id, webhook_flow["webhookSecret"], {"n": 1}, **{"Idempotency-Key": "k1"})
    first: list[Recorded] = []

    def first_lands() -> None:  # (in another sandbox: by the logic the API calls, not re-entering the API)
        raw, headers = call["body"].encode(), call["headers"]
        first.append(receive_webhook(repo, flow_id=flow_id, raw_body=raw, headers=headers, tolerance_seconds=300))

    conflict = transaction_cancelled("TransactionConflict", "None", "None")
    answers.queue("TransactWriteItems", conflict, meanwhile=first_lands)
    # When the second's transaction meets the first's on the trigger's item
    status, body = api(call)
    # Then it is sent again, finds the trigger recorded, and answers as the first did (not a 500)
    assert answers.sent["TransactWriteItems"] == 3  # (the first's own, in between)
    assert (status, body) == (202, {"triggerId": first[0].trigger_id, "runIds": first[0].run_ids})
    assert sum(1 for i in table_items() if i["sk"]["S"] == "RUN") == 1


@pytest.mark.parametrize("attempts", range(1, conflicts.CONFLICT_ATTEMPTS))
def test_the_wait_before_a_retry_is_jittered_below_a_doubling_capped_ceiling(attempts: int) -> None:
    ceiling = min(0.5, 0.025 * 2 ** (attempts - 1))
    waits = [conflicts.wait_before_retry(attempts) for _ in range(200)]
    assert all(0 <= wait <= ceiling for wait in waits)
    assert max(waits) > ceiling / 2  # (drawn from the whole range, not a fixed wait)
