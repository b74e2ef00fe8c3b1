"""StreamFunction: the table's stream -> the reactions in ``logic.reactions`` (start or schedule
requested executions, follow runs leaving `scheduled` and flows being saved or deleted, settle
runs when their execution ends, roll step changes up into runs).

Partial batch failures are reported per record (ReportBatchItemFailures), so one bad record
is retried (and bisected) without replaying the whole batch.
"""

from __future__ import annotations

# first: importing it pauses the garbage collector for the cold start (see its docstring)
from automations import cold_start

# isort: split
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.adapters.dynamo.repository import get_repository
from automations.adapters.dynamo.stream_batch import EveryRecordFailed, handle_batch
from automations.adapters.scheduler import get_schedules
from automations.adapters.stepfunctions import get_workflows
from automations.logic.change_router import TableChange
from automations.logic.reactions import ROUTER, ReactionDeps
from automations.observability import Metric, count, logger, metrics, record_keys, tracer


def handle_change(event: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> list[str]:
    change = TableChange(event=event, new=new, old=old)
    deps = ReactionDeps(store=get_repository(), workflows=get_workflows(), schedules=get_schedules())
    # this record's run, flow, account and node on every log line it causes, and not on the next's
    with logger.append_context_keys(**record_keys(change.new or change.old or {})):
        done = ROUTER.route(change, deps)
        logger.debug("table change handled", extra={"entity": change.entity, "done": done})
    return done


@cold_start.resume_collector_after_first_invocation
@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # failed records are retried (and bisected) by the event source; the alarm watches the queue
    try:
        answer = handle_batch(event, handle_change)
    except EveryRecordFailed as failed:
        count(Metric.STREAM_RECORD_FAILURES, failed.failed)
        raise
    if answer["batchItemFailures"]:
        count(Metric.STREAM_RECORD_FAILURES, len(answer["batchItemFailures"]))
    return answer
