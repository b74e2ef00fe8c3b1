"""StreamFunction: the table's stream -> start due runs, roll step changes up into runs.

Partial batch failures are reported per record (ReportBatchItemFailures), so one bad record
is retried (and bisected) without replaying the whole batch.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from automations.executions import get_engine
from automations.logic.table_changes import TableChange, on_table_change
from automations.observability import logger, metrics, tracer
from automations.repository.dynamo import get_repository

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def handle_record(record: DynamoDBRecord) -> str:
    change = TableChange(
        event=str(record.event_name.name if record.event_name else ""),
        new=record.dynamodb.new_image if record.dynamodb else None,
        old=record.dynamodb.old_image if record.dynamodb else None,
    )
    outcome = on_table_change(change, get_repository(), get_engine())
    logger.debug("table change handled", extra={"entity": change.entity, "outcome": outcome})
    return outcome


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=handle_record, processor=processor, context=context)
