"""DynamoDB implementation of the storage protocols (one table, see ``keys``).

Uses the low-level client (thread-safe); items go to and from DynamoDB's typed attribute values
in ``attributes`` (numbers come back as ``int``/``float``), so nothing above this module sees
storage types.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import lru_cache, partial
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from automations.adapters.clients import make_client
from automations.adapters.dynamo import attempt_on_step, keys
from automations.adapters.dynamo.attributes import from_item, to_item
from automations.adapters.dynamo.conflicts import cancelled_by_condition, retry_conflicts
from automations.adapters.dynamo.cursors import Cursors
from automations.adapters.secrets import read_secret
from automations.domain import clock
from automations.domain.runs import (
    Attempt,
    Execution,
    ExecutionOutcome,
    Machine,
    Run,
    Step,
    execution_arn,
    execution_id_of,
    first_execution_name,
    first_execution_of,
    machine_of,
)
from automations.domain.status import (
    AttemptStatus,
    RunStatus,
    StepStatus,
    run_statuses_leading_to,
    step_statuses_leading_to,
)
from automations.domain.triggers import TriggerEvent
from automations.errors import Conflict, InvalidCursor, NotFound
from automations.ports import (
    AcceptedSignature,
    ApiKeyRecord,
    AttemptResult,
    AttemptStart,
    DuplicateTrigger,
    ExecutionEnd,
    InFlightRun,
    KeyEvent,
    KeyNotLive,
    Page,
    Reschedule,
    RunDetail,
    RunQuery,
    RunRecord,
    SignatureTaken,
    StepUpdate,
    TransitionRejected,
)
from automations.settings import get_settings

if TYPE_CHECKING:
    # imported where a flow is read instead: the flow models import every node type, which a
    # function that reads no flow (the execution status, the stream) need not load at its cold start
    from automations.flows.definition import Flow, FlowVersion


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


class _Update:
    """Builds an UpdateExpression with placeholder names, so callers never hand-write one."""

    def __init__(self) -> None:
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.adds: list[str] = []
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def name(self, attribute: str) -> str:
        placeholder = f"#{attribute}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, key: str, value: Any) -> str:
        placeholder = f":{key}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attribute: str, value: Any, *, only_if_absent: bool = False) -> _Update:
        name, val = self.name(attribute), self.value(attribute, value)
        self.sets.append(f"{name} = if_not_exists({name}, {val})" if only_if_absent else f"{name} = {val}")
        return self

    def set_all(self, attributes: dict[str, Any]) -> _Update:
        for attribute, value in attributes.items():
            if value is None:
                self.remove(attribute)
            else:
                self.set(attribute, value)
        return self

    def remove(self, *attributes: str) -> _Update:
        self.removes.extend(self.name(attribute) for attribute in attributes)
        return self

    def record_status(
        self,
        status: Any,
        at: str,
        cause: str | None = None,
        by: str | None = None,
        history_so_far: list[dict[str, Any]] | None = None,
    ) -> _Update:
        """Set ``status`` and append it to ``history``: the trail operators read later (``history_so_far``
        when the item has none yet)."""
        self.set("status", str(status))
        change = {"status": str(status), "at": at, **({"cause": cause} if cause else {}), **({"by": by} if by else {})}
        return self.append("history", change, if_absent=history_so_far)

    def append(self, attribute: str, value: Any, *, if_absent: list[Any] | None = None) -> _Update:
        """Append ``value`` to the list ``attribute`` (made, from ``if_absent``, if absent)."""
        name, entry = self.name(attribute), self.value(f"{attribute}Entry", [value])
        empty = self.value(f"{attribute}SoFar", if_absent) if if_absent else self.value("emptyList", [])
        self.sets.append(f"{name} = list_append(if_not_exists({name}, {empty}), {entry})")
        return self

    def add(self, attribute: str, amount: int) -> _Update:
        self.adds.append(f"{self.name(attribute)} {self.value(attribute, amount)}")
        return self

    def status_in(self, statuses: list[Any], *, or_absent: bool = False) -> str:
        options = ", ".join(self.value(f"from_{status}", str(status)) for status in statuses)
        condition = f"{self.name('status')} IN ({options})" if statuses else "attribute_not_exists(pk)"
        if or_absent and statuses:
            condition = f"(attribute_not_exists(pk) OR {condition})"
        return condition

    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return " ".join(parts)

    def kwargs(self, condition: str | None = None) -> dict[str, Any]:
        args: dict[str, Any] = {"UpdateExpression": self.expression(), "ExpressionAttributeNames": self.names}
        if self.values:
            args["ExpressionAttributeValues"] = to_item(self.values)
        if condition:
            args["ConditionExpression"] = condition
        return args


def _while_scheduled(run: Run) -> dict[str, Any]:
    """What a `scheduled` run carries until it leaves `scheduled`: its sparse index keys, and the mark
    that the stream has nothing to follow up then (or None: an update removes it)."""
    return {
        **keys.scheduled_index_keys(run.run_id, run.flow_id, run.scheduled_for, run.correlation_key),
        keys.NOTHING_TO_FOLLOW_UP: None if run.follows_up_when_leaving_scheduled else True,
    }


def _claimable(update: _Update, arn: str | None) -> str:
    """The execution item is unclaimed, or claimed by ``arn`` (no ARN given: by anyone)."""
    if arn is None:
        return "attribute_exists(pk)"
    return f"(attribute_not_exists(arn) OR arn = {update.value('claimant', arn)})"


def _endable(write: _Update, arn: str | None) -> str:
    """Not ended yet; the item (if it has one yet) unclaimed or claimed by ``arn``."""
    return f"attribute_not_exists(outcome) AND (attribute_not_exists(pk) OR {_claimable(write, arn)})"


def _api_key_record(item: dict[str, Any], key_hash: str) -> ApiKeyRecord:
    """A stored key (lookup or listing item); keys stored before ids and prefixes existed get theirs here."""
    return ApiKeyRecord(
        key_id=item.get("keyId") or f"apikey:{key_hash[:12]}",
        account_id=item["accountId"],
        prefix=item.get("prefix", ""),
        created_at=item.get("createdAt", ""),
        name=item.get("name"),
        revoked_at=item.get("revokedAt"),
    )


class DynamoRepository:
    """Implements ``automations.ports.Store`` (accounts, flows, triggers, runs) on one table."""

    def __init__(
        self,
        table_name: str,
        client: Any,
        retention_days: int = 90,
        cursor_secret: Callable[[], str] | None = None,
        state_machines: dict[Machine, str] | None = None,
    ) -> None:
        self.table = table_name
        self.client = client
        self.retention = timedelta(days=retention_days)
        self.cursors = Cursors(cursor_secret)
        # the interpreter's state machines this function knows: a run's first execution's ARN is
        # rebuilt from them (``_implied_first_execution``)
        self.state_machines = state_machines or {}
        self._versions: dict[tuple[str, int], FlowVersion] = {}
        self._triggers: dict[str, TriggerEvent] = {}

    # --- helpers ------------------------------------------------------------------

    def _expires_at(self, *needed_until: str | None) -> int:
        """TTL for history items: DynamoDB deletes them the retention period after now, or after the
        latest moment given that the run needs them until (a run due later, a wait)."""
        latest = max([clock.now(), *(clock.parse_iso(moment) for moment in needed_until if moment)])
        return int((latest + self.retention).timestamp())

    def _put(self, item: dict[str, Any], condition: str | None = None) -> dict[str, Any]:
        request: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if condition:
            request["ConditionExpression"] = condition
        return request

    def _put_unless(self, item: dict[str, Any], statuses: list[str]) -> bool:
        """Write ``item`` unless an item with its key exists in a status other than ``statuses``
        (one of those it replaces); False if one did."""
        request = self._put(item, "attribute_not_exists(pk)")
        if statuses:
            values = {f":s{n}": status for n, status in enumerate(statuses)}
            request["ConditionExpression"] += f" OR #status IN ({', '.join(values)})"
            request["ExpressionAttributeNames"] = {"#status": "status"}
            request["ExpressionAttributeValues"] = to_item(values)
        try:
            self.client.put_item(**request)
        except ClientError as error:
            if _condition_failed(error):
                return False
            raise
        return True

    def _get(self, key: dict[str, str], consistent: bool = True) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self.table, Key=to_item(key), ConsistentRead=consistent)
        return from_item(response["Item"]) if "Item" in response else None

    def _update(self, key: dict[str, str], update: _Update, condition: str | None = None, returns: str = "NONE"):
        try:
            response = self.client.update_item(
                TableName=self.table, Key=to_item(key), ReturnValues=returns, **update.kwargs(condition)
            )
        except ClientError as error:
            if _condition_failed(error):
                raise TransitionRejected(str(key)) from error
            raise
        return from_item(response.get("Attributes", {}))

    def _query_page(
        self,
        index: str,
        partition_attr: str,
        partition: str,
        limit: int,
        cursor: str | None,
        *,
        since: str | None = None,
        until: str | None = None,
        **extra: Any,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Newest-first page of an index partition, its sort key at or after ``since`` and before
        ``until`` (sort keys start with a time); ``extra`` may add a FilterExpression."""
        condition, bounds = "#p = :p", {}
        if since and until:
            condition, bounds = "#p = :p AND #sk BETWEEN :since AND :until", {":since": since, ":until": until}
        elif since:
            condition, bounds = "#p = :p AND #sk >= :since", {":since": since}
        elif until:
            condition, bounds = "#p = :p AND #sk <= :until", {":until": until}
        sort_attr = _index_key_names(partition_attr)[3]
        names = {"#p": partition_attr, **({"#sk": sort_attr} if bounds else {}), **extra.pop("names", {})}
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": index,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item({":p": partition, **bounds, **extra.pop("values", {})}),
            "ScanIndexForward": False,
            # one more than asked tells whether another page exists; a filter applies after
            # Limit, so filtered reads take bigger bites
            "Limit": 100 if "FilterExpression" in extra else limit + 1,
            **extra,
        }
        key_names = _index_key_names(partition_attr)
        start = self.cursors.open(cursor, key_names, partition)
        # a cursor of the same listing under other bounds (`from`/`to`) may point outside these
        position = start.get(sort_attr, {}).get("S", "") if start else None
        if position is not None and ((since and position < since) or (until and position > until)):
            raise InvalidCursor("cursor is not valid for this listing (it was made under other bounds)")
        items: list[dict[str, Any]] = []
        last_key: dict[str, Any] = {}
        for _ in range(_MAX_READS_PER_PAGE):
            if start:
                request["ExclusiveStartKey"] = start
            response = self.client.query(**request)
            for raw in response.get("Items", []):
                if len(items) == limit:  # the page is full and more exist: resume after the last one
                    return items, self.cursors.seal(last_key)
                items.append(from_item(raw))
                last_key = {name: raw[name] for name in key_names}
            start = response.get("LastEvaluatedKey")
            if start is None:
                return items, None
        # read budget spent (a rare status in a long history): hand back what we have, and where to go on
        return items, self.cursors.seal(start or last_key)

    # --- accounts -----------------------------------------------------------------

    def account_for_api_key(self, key_hash: str) -> str | None:
        record = self.api_key_for_hash(key_hash)
        return record.account_id if record and not record.revoked_at else None

    def api_key_for_hash(self, key_hash: str) -> ApiKeyRecord | None:
        # consistent: a key revoked a moment ago must not pass on a stale replica
        item = self._get(keys.api_key(key_hash), consistent=True)
        return _api_key_record(item, key_hash) if item else None

    def put_api_key(self, record: ApiKeyRecord, *, key_hash: str) -> ApiKeyRecord:
        existing = self.api_key_for_hash(key_hash)
        if existing is not None:
            # read first rather than let the condition fail: a failed transaction is costly on
            # moto (it swaps the table, and with it the stream a local poller reads)
            if existing.account_id != record.account_id:
                raise Conflict("this API key belongs to another account")
            return existing
        fields = record.dump()
        lookup = {**keys.api_key(key_hash), "entity": "apiKey", **fields}
        listing = {
            **keys.account_key(record.account_id, record.key_id),
            "entity": "accountKey",
            "keyHash": key_hash,
            **fields,
        }
        self.client.transact_write_items(
            TransactItems=[
                {"Put": self._put(lookup, "attribute_not_exists(pk)")},
                {"Put": self._put(listing, "attribute_not_exists(pk)")},
            ]
        )
        return record

    def get_api_key(self, account_id: str, key_id: str) -> ApiKeyRecord | None:
        item = self._get(keys.account_key(account_id, key_id))
        return _api_key_record(item, item["keyHash"]) if item else None

    def list_api_keys(self, account_id: str) -> list[ApiKeyRecord]:
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :sk)",
            "ExpressionAttributeValues": to_item(
                {":pk": keys.account_partition(account_id), ":sk": keys.ACCOUNT_KEYS_PREFIX}
            ),
            "ConsistentRead": True,
        }
        records: list[ApiKeyRecord] = []
        while True:
            response = self.client.query(**request)
            for raw in response.get("Items", []):
                item = from_item(raw)
                records.append(_api_key_record(item, item["keyHash"]))
            if "LastEvaluatedKey" not in response:
                return records
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def revoke_api_key(self, account_id: str, key_id: str, *, at: str, while_live: str) -> None:
        listing = self._get(keys.account_key(account_id, key_id))
        if listing is None:
            raise NotFound(f"no API key {key_id!r}")
        update = {
            "UpdateExpression": "SET revokedAt = if_not_exists(revokedAt, :at)",
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeValues": to_item({":at": at}),
        }
        still_live = {
            "TableName": self.table,
            "Key": to_item(keys.account_key(account_id, while_live)),
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(revokedAt)",
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.api_key(listing["keyHash"])),
                            **update,
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.account_key(account_id, key_id)),
                            **update,
                        }
                    },
                    {"ConditionCheck": still_live},
                ]
            )
        except ClientError as error:
            reasons = [r.get("Code") for r in error.response.get("CancellationReasons") or []]
            # the key to keep live is revoked (also by a revocation at the same moment: the transaction
            # that met it was sent again, see conflicts, and found it so)
            if reasons[2:3] == ["ConditionalCheckFailed"]:
                raise KeyNotLive(while_live) from error
            raise

    # --- flows --------------------------------------------------------------------

    def create_flow(self, flow: Flow, version: FlowVersion) -> None:
        head = {
            **keys.flow(flow.flow_id),
            **keys.flows_by_account(flow.account_id, flow.created_at, flow.flow_id),
            "entity": "flow",
            **flow.dump(),
        }
        body = {**keys.flow_version(version.flow_id, version.version), "entity": "flowVersion", **version.dump()}
        self.client.transact_write_items(
            TransactItems=[
                {"Put": self._put(head, "attribute_not_exists(pk)")},
                {"Put": self._put(body, "attribute_not_exists(pk)")},
            ]
        )

    def publish_version(self, flow: Flow, version: FlowVersion, *, expected_version: int) -> None:
        """The new version and the head pointing at it, only if nobody published in between."""
        body = {**keys.flow_version(version.flow_id, version.version), "entity": "flowVersion", **version.dump()}
        head = _Update().set_all({"version": flow.version, "name": flow.name, "trigger": flow.trigger.dump()})
        head.set("updatedAt", flow.updated_at)
        condition = f"{head.name('version')} = {head.value('expected', expected_version)}"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": self._put(body, "attribute_not_exists(pk)")},
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.flow(flow.flow_id)),
                            **head.kwargs(condition),
                        }
                    },
                ]
            )
        except ClientError as error:
            if cancelled_by_condition(error):
                raise TransitionRejected(flow.flow_id) from error
            raise

    def delete_flow(self, flow_id: str, *, at: str) -> Flow:
        from automations.flows.definition import Flow  # (lazy: see the imports)

        update = _Update().set("deletedAt", at, only_if_absent=True)
        return Flow.model_validate(self._update(keys.flow(flow_id), update, "attribute_exists(pk)", returns="ALL_NEW"))

    def rotate_webhook_secret(self, flow_id: str, *, expected: str, new: str, previous_valid_until: str) -> Flow:
        from automations.flows.definition import Flow  # (lazy: see the imports)

        update = _Update().set_all(
            {"webhookSecret": new, "previousWebhookSecret": expected, "previousSecretValidUntil": previous_valid_until}
        )
        condition = f"{update.name('webhookSecret')} = {update.value('expected', expected)}"
        return Flow.model_validate(self._update(keys.flow(flow_id), update, condition, returns="ALL_NEW"))

    def get_flow(self, flow_id: str) -> Flow | None:
        from automations.flows.definition import Flow  # (lazy: see the imports)

        item = self._get(keys.flow(flow_id))
        return Flow.model_validate(item) if item else None

    def list_flows(self, account_id: str, *, limit: int, cursor: str | None) -> Page[Flow]:
        from automations.flows.definition import Flow  # (lazy: see the imports)

        partition = keys.flows_by_account(account_id, "", "")["flowsByAccountPk"]
        items, next_cursor = self._query_page(keys.FLOWS_BY_ACCOUNT, "flowsByAccountPk", partition, limit, cursor)
        return Page([Flow.model_validate(i) for i in items], next_cursor)

    def get_flow_version(self, flow_id: str, version: int) -> FlowVersion | None:
        """Versions are immutable: each is read once per process (every task of a run needs it)."""
        from automations.flows.definition import FlowVersion  # (lazy: see the imports)

        cached = self._versions.get((flow_id, version))
        if cached is not None:
            return cached
        item = self._get(keys.flow_version(flow_id, version), consistent=False)
        if item is None:
            return None
        found = FlowVersion.model_validate(item)
        if len(self._versions) >= _MAX_CACHED_VERSIONS:
            self._versions.clear()
        self._versions[(flow_id, version)] = found
        return found

    # --- triggers -----------------------------------------------------------------

    def record_trigger(
        self, trigger: TriggerEvent, runs: list[RunRecord], signature: AcceptedSignature | None = None
    ) -> None:
        """The trigger, its runs (each requesting its first execution) and their carried steps, and the
        webhook's signature, in one transaction: all or none (so a failed write uses no signature up)."""
        # kept as long as its runs need them: a run due later (or that may wait long) reads its trigger then
        kept = {record.run.run_id: self._expires_at(record.run.scheduled_for, record.keep_until) for record in runs}
        items = [
            {
                "Put": self._put(
                    {
                        **keys.trigger(trigger.trigger_id),
                        "entity": "trigger",
                        "expiresAt": max(kept.values(), default=self._expires_at()),
                        **trigger.dump(),
                    },
                    "attribute_not_exists(pk)",
                )
            }
        ]
        for record in runs:
            run, expires = record.run, kept[record.run.run_id]
            # (its INSERT requests its first execution: ``first_execution_of``)
            items.append({"Put": self._put(self.new_run_item(run, expires), "attribute_not_exists(pk)")})
            for step in record.carried_steps:
                stored = {**keys.step(run.run_id, step.node_id), "entity": "step", "expiresAt": expires, **step.dump()}
                items.append({"Put": self._put(stored)})
        if signature is not None:
            remembered = {
                **keys.trigger(signature.trigger_id),
                "entity": SIGNATURE_MARK,
                "flowId": signature.flow_id,
                "acceptedAt": trigger.received_at,
                "expiresAt": signature.until,
            }
            items.append({"Put": self._put(remembered, "attribute_not_exists(pk)")})
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as error:
            reasons = error.response.get("CancellationReasons") or [{}]
            if reasons[0].get("Code") == "ConditionalCheckFailed":
                taken = self._get(keys.trigger(trigger.trigger_id))
                if taken is not None and taken.get("entity") == SIGNATURE_MARK:  # a keyed call's signature
                    raise SignatureTaken(trigger.trigger_id) from error
                raise DuplicateTrigger(trigger.trigger_id) from error
            if signature is not None and reasons[-1].get("Code") == "ConditionalCheckFailed":
                raise SignatureTaken(signature.trigger_id) from error
            raise

    def new_run_item(self, run: Run, expires_at: int | None = None) -> dict[str, Any]:
        """A run as recorded: with the keys of the run-history indexes, and while it waits, of the
        sparse ones (Overdue, ScheduledByFlow, ScheduledByKey)."""
        item = {
            **keys.run(run.run_id),
            **keys.run_history_keys(run.run_id, run.account_id, run.flow_id, run.scheduled_for),
            "entity": "run",
            "expiresAt": expires_at if expires_at is not None else self._expires_at(run.scheduled_for),
            **run.dump(),
        }
        if run.status == RunStatus.SCHEDULED:
            item.update({k: v for k, v in _while_scheduled(run).items() if v is not None})
        return item

    def get_trigger(self, trigger_id: str) -> TriggerEvent | None:
        item = self._get(keys.trigger(trigger_id))
        return TriggerEvent.model_validate(item) if item and item.get("entity") != SIGNATURE_MARK else None

    def get_run_trigger(self, trigger_id: str) -> TriggerEvent | None:
        """What a run's nodes read of its trigger (body, headers) never changes once recorded: read once
        per process (every task of a run needs it); what an event did later is not in it."""
        cached = self._triggers.get(trigger_id)
        if cached is not None:
            return cached
        found = self.get_trigger(trigger_id)
        if found is not None:
            if len(self._triggers) >= _MAX_CACHED_TRIGGERS:
                self._triggers.clear()
            self._triggers[trigger_id] = found
        return found

    def record_trigger_effects(self, trigger_id: str, *, cancelled: list[str], rescheduled: list[str]) -> None:
        update = _Update().set("cancelled", cancelled).set("rescheduled", rescheduled)
        self._update(keys.trigger(trigger_id), update, "attribute_exists(pk)")

    # --- runs ---------------------------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        item = self._get(keys.run(run_id))
        return Run.model_validate(item) if item else None

    def _query_run_partition(
        self, run_id: str, *, from_sk: str = "", to_sk: str = "", projection: str | None = None
    ) -> list[dict[str, Any]]:
        """The run's items (see ``keys``), all of them or those whose sort keys lie between the two
        given; only the ``projection``'s attributes, if given."""
        condition, values = "pk = :pk", {":pk": keys.run(run_id)["pk"]}
        if from_sk and to_sk:
            condition, values = f"{condition} AND sk BETWEEN :from AND :to", {**values, ":from": from_sk, ":to": to_sk}
        elif from_sk:
            condition, values = f"{condition} AND sk >= :from", {**values, ":from": from_sk}
        request: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "ConsistentRead": True,
            **({"ProjectionExpression": projection} if projection else {}),
        }
        items: list[dict[str, Any]] = []
        while True:
            response = self.client.query(**request)
            items.extend(from_item(raw) for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def get_run_detail(self, run_id: str) -> RunDetail | None:
        items = self._query_run_partition(run_id)
        runs = [Run.model_validate(i) for i in items if i.get("entity") == "run"]
        if not runs:
            return None
        steps = sorted((Step.model_validate(i) for i in items if i.get("entity") == "step"), key=_step_order)
        attempts = _attempts(items)
        executions = [Execution.model_validate(i) for i in items if i.get("entity") == "execution"]
        implied = self._implied_first_execution(runs[0], first_execution_name(run_id), [e.name for e in executions])
        executions = sorted([*executions, *([implied] if implied else [])], key=lambda e: e.ordinal)
        return RunDetail(runs[0], steps, attempts, executions)

    def get_run_and_steps(self, run_id: str) -> tuple[Run, list[Step]] | None:
        items = self._query_run_partition(run_id, from_sk=keys.run(run_id)["sk"])  # the run, then its steps
        runs = [Run.model_validate(i) for i in items if i.get("entity") == "run"]
        if not runs:
            return None
        return runs[0], sorted((Step.model_validate(i) for i in items if i.get("entity") == "step"), key=_step_order)

    def list_runs(self, query: RunQuery, *, limit: int, cursor: str | None) -> Page[Run]:
        if query.flow_id is not None:
            index, partition_attr = keys.RUNS_BY_FLOW, "runsByFlowPk"
            partition = keys.runs_by_flow(query.flow_id, "", "")[partition_attr]
        else:
            index, partition_attr = keys.RUNS_BY_ACCOUNT, "runsByAccountPk"
            partition = keys.runs_by_account(query.account_id, "", "")[partition_attr]
        extra: dict[str, Any] = {}
        if query.status:
            extra = {"FilterExpression": "#s = :s", "names": {"#s": "status"}, "values": {":s": str(query.status)}}
        # sort keys are "<scheduledFor>#<runId>": every key due at `until` sorts after "<until>"
        items, next_cursor = self._query_page(
            index, partition_attr, partition, limit, cursor, since=query.since, until=query.until, **extra
        )
        return Page([Run.model_validate(i) for i in items], next_cursor)

    # --- the run and its executions -----------------------------------------------

    def get_execution(self, run_id: str, name: str) -> Execution | None:
        return self._execution_and_claim(run_id, name)[0]

    def _execution_and_claim(
        self, run_id: str, name: str, *, ending: bool = False
    ) -> tuple[Execution | None, str | None]:
        """The execution (its item; else, for a run's first, read from the run) and the id of the
        ARN that claimed it (``execution_id_of``), if one did. Item reads, not a query: what every
        function that ends one may do. For its end (``ending``), a run's first execution that the
        run's start claimed is read from the run alone: it has no item, unless its end wrote it
        already, which the end's condition then refuses to repeat."""
        first = name == first_execution_name(run_id)
        run = self.get_run(run_id) if first and ending else None
        if run is not None and run.first_execution_id is not None and run.current_execution == name:
            return self._implied_first_execution(run, name, []), run.first_execution_id
        item = self._get(keys.execution(run_id, name))
        if item:
            execution = Execution.model_validate(item)
            return execution, (execution_id_of(execution.arn) if execution.arn else None)
        run = run or (self.get_run(run_id) if first else None)
        implied = self._implied_first_execution(run, name, []) if run else None
        return implied, (run.first_execution_id if run and implied else None)

    def get_run_and_execution(self, run_id: str, name: str) -> tuple[Run | None, Execution | None]:
        """One read for both: the execution's item sorts before the run's, with only the run's later
        executions between them (see ``keys``)."""
        execution_sk, run_sk = keys.execution(run_id, name)["sk"], keys.run(run_id)["sk"]
        items = {item["sk"]: item for item in self._query_run_partition(run_id, from_sk=execution_sk, to_sk=run_sk)}
        run = Run.model_validate(items[run_sk]) if run_sk in items else None
        if execution_sk in items:
            return run, Execution.model_validate(items[execution_sk])
        return run, (self._implied_first_execution(run, name, []) if run else None)

    def _implied_first_execution(self, run: Run, name: str, recorded: list[str]) -> Execution | None:
        """The run's first execution while no item records it (still the run's current one):
        requested by the run, and claimed by its start once it started (``first_execution_of``),
        with its ARN where this function knows its state machine's."""
        if name != first_execution_name(run.run_id) or run.current_execution != name or name in recorded:
            return None
        execution = first_execution_of(run)
        machine_arn = self.state_machines.get(execution.machine)
        if execution.started_at is None or run.first_execution_id is None or machine_arn is None:
            return execution
        return execution.model_copy(update={"arn": execution_arn(machine_arn, name, run.first_execution_id)})

    def _execution_item(self, execution: Execution) -> dict[str, Any]:
        key = keys.execution(execution.run_id, execution.name)
        return {**key, "entity": "execution", "expiresAt": self._expires_at(execution.due_at), **execution.dump()}

    def request_execution(self, execution: Execution) -> None:
        try:
            self.client.put_item(**self._put(self._execution_item(execution), "attribute_not_exists(pk)"))
        except ClientError as error:
            if _condition_failed(error):
                raise TransitionRejected(f"execution '{execution.name}' exists") from error
            raise

    def start_execution(
        self, *, run_id: str, name: str, arn: str | None, at: str, check_after: str, cause: str | None = None
    ) -> Run:
        """scheduled/interrupted -> running under ``name``; leaves the Overdue index and enters InFlight
        (first checked at ``check_after``). A run's start claims its first execution
        (``firstExecutionId``, see ``first_execution_of``); a later execution's claim is on its own
        item. A retry by the same execution finds its own start and records nothing twice; a repeated
        Express start of the name (another ARN) is refused."""
        machine = machine_of(arn) if arn else Machine.STANDARD
        first = name == first_execution_name(run_id)
        update = _Update().record_status(RunStatus.RUNNING, at, cause).set("currentExecution", name)
        update.append("path", str(machine))
        update.set("startedAt", at, only_if_absent=True).remove(*keys.WHILE_SCHEDULED_ATTRIBUTES)
        update.set_all(keys.in_flight(run_id, check_after))
        update.remove("error")  # an earlier execution's error stays on that execution
        if first:
            update.set_all({"firstExecutionId": execution_id_of(arn) if arn else None})
        # a scheduled run starts only under the execution requested for it (a rescheduled run's
        # replaced execution may still fire); an interrupted one under any resume
        current = update.name("currentExecution")
        startable = (
            f"({update.status_in([RunStatus.SCHEDULED])} AND (attribute_not_exists({current}) OR "
            f"{current} = {update.value('name', name)}))"
        )
        if not first:
            startable += f" OR {update.status_in([RunStatus.INTERRUPTED])}"
        try:
            started = self._update(keys.run(run_id), update, startable, returns="ALL_NEW")
        except TransitionRejected:
            run = self.get_run(run_id)
            if (
                run is None
                or run.status not in (RunStatus.RUNNING, RunStatus.RETRYING)
                or run.current_execution != name
            ):
                raise
            # a retry by the same execution, or a Standard execution a hand-off made current
            self._claim_again(run, name, arn, at, machine)
            return run
        run = Run.model_validate(started)
        if not first:
            self._claim_execution(run.run_id, name, arn, at, machine)
        return run

    def _claim_again(self, run: Run, name: str, arn: str | None, at: str, machine: Machine) -> None:
        """The run runs under ``name`` already: accepted for the ARN that claimed it (no ARN given: any)."""
        if name != first_execution_name(run.run_id) or (run.first_execution_id is None and arn is not None):
            self._claim_execution(run.run_id, name, arn, at, machine)  # (a run started before runs held the claim)
        elif arn is not None and run.first_execution_id != execution_id_of(arn):
            raise TransitionRejected(f"execution '{name}' of run '{run.run_id}' runs under another ARN")

    def _claim_execution(self, run_id: str, name: str, arn: str | None, at: str, machine: Machine) -> None:
        """A later execution's item (written when it was requested) says which ARN runs it."""
        marked = _Update().set("startedAt", at, only_if_absent=True).set_all({"arn": arn, "machine": str(machine)})
        self._update(keys.execution(run_id, name), marked, f"attribute_exists(pk) AND {_claimable(marked, arn)}")

    def end_execution(self, *, run_id: str, name: str, end: ExecutionEnd, arn: str | None = None) -> bool:
        execution, claimed_by = self._execution_and_claim(run_id, name, ending=True)
        if execution is None or (arn is not None and claimed_by not in (None, execution_id_of(arn))):
            return False  # another ARN's: a repeated Express start of the name
        ended = execution.model_copy(
            update={"arn": arn or execution.arn, "ended_at": end.ended_at, "outcome": end.outcome, "error": end.error}
        )
        write = self._execution_write(ended)
        try:
            self._update(keys.execution(run_id, name), write, _endable(write, arn))
        except TransitionRejected:  # ended already, or claimed by another ARN meanwhile
            return False
        return True

    def _execution_write(self, execution: Execution) -> _Update:
        """The execution's whole item, as an update: a run's first execution may have none yet
        (``first_execution_of``), and an update is what the functions that record ends may do."""
        item = self._execution_item(execution)
        return _Update().set_all({k: v for k, v in item.items() if k not in ("pk", "sk")})

    def hand_off(self, *, run_id: str, handing: Execution, from_arn: str | None, to: Execution, at: str) -> bool:
        moved = _Update().set("currentExecution", to.name).append("path", str(Machine.STANDARD))
        current = f"{moved.name('currentExecution')} = {moved.value('from', handing.name)}"
        if from_arn is not None and handing.name == first_execution_name(run_id):  # claimed on the run
            claim, by = moved.name("firstExecutionId"), moved.value("claim", execution_id_of(from_arn))
            current += f" AND (attribute_not_exists({claim}) OR {claim} = {by})"
        ended = self._execution_write(
            handing.model_copy(
                update={"arn": from_arn or handing.arn, "ended_at": at, "outcome": ExecutionOutcome.HANDED_OFF}
            )
        )
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.run(run_id)),
                            **moved.kwargs(f"{moved.status_in(list(_IN_FLIGHT))} AND {current}"),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.execution(run_id, handing.name)),
                            **ended.kwargs(_endable(ended, from_arn)),
                        }
                    },
                    {"Put": self._put(self._execution_item(to), "attribute_not_exists(pk)")},
                ]
            )
        except ClientError as error:
            if cancelled_by_condition(error):
                return False
            raise
        return True

    def transition_run(
        self,
        run_id: str,
        new: RunStatus,
        *,
        fields: dict[str, Any] | None = None,
        execution: str | None = None,
        only_from: RunStatus | None = None,
        cause: str | None = None,
        by: str | None = None,
    ) -> bool:
        update = _Update().record_status(new, clock.iso(clock.now()), cause, by).set_all(fields or {})
        if new != RunStatus.SCHEDULED:
            update.remove(*keys.WHILE_SCHEDULED_ATTRIBUTES)
        if new not in _IN_FLIGHT:
            update.remove(*keys.IN_FLIGHT_ATTRIBUTES)
        leading = run_statuses_leading_to(new)
        condition = update.status_in([only_from] if only_from in leading else [] if only_from else leading)
        if execution is not None:
            condition += f" AND {update.name('currentExecution')} = {update.value('execution', execution)}"
        try:
            self._update(keys.run(run_id), update, condition)
        except TransitionRejected:
            return False
        return True

    # --- runs in flight -----------------------------------------------------------

    def in_flight_runs(self, *, check_before: str, limit: int) -> list[InFlightRun]:
        items = self._query_shards(keys.IN_FLIGHT, "inFlight", keys.in_flight_shards(), check_before, limit)
        return [InFlightRun(run_id=item["runId"], execution=item.get("currentExecution")) for item in items]

    def check_again_at(self, run_id: str, *, execution: str, at: str) -> bool:
        update = _Update().set_all(keys.in_flight(run_id, at))
        condition = (
            f"{update.status_in(list(_IN_FLIGHT))} AND "
            f"{update.name('currentExecution')} = {update.value('execution', execution)}"
        )
        try:
            self._update(keys.run(run_id), update, condition)
        except TransitionRejected:
            return False
        return True

    def link_retrigger(self, run_id: str, *, new_run_id: str) -> None:
        update = _Update()
        linked, new = update.name("retriggeredBy"), update.value("newRun", [new_run_id])
        update.sets.append(f"{linked} = list_append(if_not_exists({linked}, {update.value('none', [])}), {new})")
        condition = f"attribute_exists(pk) AND NOT contains({linked}, {update.value('newId', new_run_id)})"
        with contextlib.suppress(TransitionRejected):  # linked before (a replayed re-trigger)
            self._update(keys.run(run_id), update, condition)

    # --- runs still scheduled -----------------------------------------------------

    def scheduled_run_ids_by_key(self, flow_id: str, correlation_key: str) -> list[str]:
        partition = keys.scheduled_by_key(flow_id, correlation_key, "")["scheduledByKeyPk"]
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": keys.SCHEDULED_BY_KEY,
            "KeyConditionExpression": "scheduledByKeyPk = :p",
            "ExpressionAttributeValues": to_item({":p": partition}),
        }
        found: list[str] = []
        while True:
            response = self.client.query(**request)
            found.extend(raw["scheduledByKeySk"]["S"] for raw in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def record_key_event(self, flow_id: str, correlation_key: str, event: KeyEvent) -> None:
        item = {
            **keys.key_event(flow_id, correlation_key, event.kind),
            "entity": "keyEvent",
            "kind": event.kind,
            "at": event.at,
            "cause": event.cause,
            "triggerId": event.trigger_id,
            **{k: v for k, v in {"scheduledFor": event.scheduled_for, "deadline": event.deadline}.items() if v},
            "expiresAt": self._expires_at(clock.iso(clock.parse_iso(event.at) + KEY_EVENT_KEPT_BEYOND)),
        }
        request = self._put(item, "attribute_not_exists(pk) OR #at < :at")
        request["ExpressionAttributeNames"] = {"#at": "at"}
        request["ExpressionAttributeValues"] = to_item({":at": event.at})
        try:
            self.client.put_item(**request)
        except ClientError as error:
            if not _condition_failed(error):  # (a later event of the kind is kept already)
                raise

    def last_key_event(self, flow_id: str, correlation_key: str, kind: str) -> KeyEvent | None:
        item = self._get(keys.key_event(flow_id, correlation_key, kind))
        if item is None:
            return None
        return KeyEvent(
            kind=item["kind"],
            at=item["at"],
            cause=item["cause"],
            trigger_id=item["triggerId"],
            scheduled_for=item.get("scheduledFor"),
            deadline=item.get("deadline"),
        )

    def keep_trigger(self, trigger_id: str, *, until: str) -> None:
        self._keep_longer(keys.trigger(trigger_id), self._expires_at(until))

    def scheduled_runs_of_flow(
        self, flow_id: str, *, due_before: str | None, limit: int, cursor: str | None
    ) -> Page[Run]:
        partition = keys.scheduled_by_flow(flow_id, "", "")["scheduledByFlowPk"]
        condition = "scheduledByFlowPk = :p" + (" AND scheduledByFlowSk < :before" if due_before else "")
        values = {":p": partition, **({":before": due_before} if due_before else {})}
        request: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": keys.SCHEDULED_BY_FLOW,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit,
        }
        key_names = ("pk", "sk", "scheduledByFlowPk", "scheduledByFlowSk")
        start = self.cursors.open(cursor, key_names, partition)
        if start:
            request["ExclusiveStartKey"] = start
        response = self.client.query(**request)
        runs = [Run.model_validate(from_item(raw)) for raw in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return Page(runs, self.cursors.seal(last) if last else None)

    def overdue_runs(self, *, due_before: str, limit: int) -> list[Run]:
        items = self._query_shards(keys.OVERDUE, "overdue", keys.overdue_shards(), due_before, limit)
        return [Run.model_validate(item) for item in items]

    def _query_shards(
        self, index: str, prefix: str, shards: list[str], before: str, limit: int
    ) -> list[dict[str, Any]]:
        """A sharded sparse index: the items whose sort key (``<time>#<runId>``) is before ``before``,
        at most ``limit``, oldest first. The shards are queried at once, each for its share of what
        is left to read, round after round until the limit or the end of every shard: the sweeper's
        tick waits for one round trip, not one per shard, and reads no item it does not return."""
        condition = f"{prefix}Pk = :p AND {prefix}Sk < :before"
        starts: dict[str, dict[str, Any] | None] = dict.fromkeys(shards)  # shards not read to the end
        found: list[dict[str, Any]] = []

        def read(shard: str, share: int) -> tuple[str, dict[str, Any]]:
            request: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": index,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": to_item({":p": shard, ":before": before}),
                "Limit": share,
            }
            if starts[shard] is not None:
                request["ExclusiveStartKey"] = starts[shard]
            return shard, self.client.query(**request)

        # (its threads are named after the caller's: the local stack tells a function's calls by thread name)
        with ThreadPoolExecutor(len(shards), thread_name_prefix=threading.current_thread().name) as pool:
            while starts and len(found) < limit:
                shares = _shares(limit - len(found), list(starts))
                answers = list(pool.map(read, shares, shares.values()))
                before_round = len(found)
                for shard, response in answers:
                    found.extend(from_item(raw) for raw in response.get("Items", []))
                    if "LastEvaluatedKey" in response:
                        starts[shard] = response["LastEvaluatedKey"]
                    else:
                        del starts[shard]
                if len(found) == before_round:  # (a query answers items or the end; never neither)
                    break
        return sorted(found, key=lambda item: str(item[f"{prefix}Sk"]))

    def reschedule_run(self, move: Reschedule) -> bool:
        """The run's due time, deadline, trigger and requested execution change together, or not at all."""
        found = self.get_run(move.run_id)
        if found is None:
            return False
        at = clock.iso(clock.now())
        expires = self._expires_at(move.scheduled_for, move.keep_until)
        update = _Update().record_status(RunStatus.SCHEDULED, at, move.cause)
        update.set_all({"scheduledFor": move.scheduled_for, "triggerId": move.trigger_id, "expiresAt": expires})
        update.set_all({"currentExecution": move.execution.name, "deadline": move.deadline})
        update.set_all(_while_scheduled(found.model_copy(update={"scheduled_for": move.scheduled_for})))
        update.set_all(keys.run_history_keys(found.run_id, found.account_id, found.flow_id, move.scheduled_for))
        current = update.name("currentExecution")
        condition = (
            f"{update.status_in([RunStatus.SCHEDULED])} AND "
            f"(attribute_not_exists({current}) OR {current} = {update.value('replaced', move.replaced_execution)})"
        )
        # the first execution it replaces gets its item now, saying so: the run will no longer imply
        # it (unless an earlier version of the engine wrote one when it recorded the run)
        replaced = self._implied_first_execution(found, move.replaced_execution, [])
        if replaced is not None and self._get(keys.execution(found.run_id, replaced.name)) is None:
            replaced = replaced.model_copy(update={"replaced_by": move.execution.name})
        else:
            replaced = None
        recorded = [self._execution_item(e) for e in (move.execution, replaced) if e is not None]
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": to_item(keys.run(move.run_id)),
                            **update.kwargs(condition),
                        }
                    },
                    *({"Put": self._put(item, "attribute_not_exists(pk)")} for item in recorded),
                ]
            )
        except ClientError as error:
            if cancelled_by_condition(error):
                return False
            raise
        return True

    # --- steps and attempts -------------------------------------------------------

    def record_inline_step(self, step: Step) -> bool:
        item = {
            **keys.step(step.run_id, step.node_id),
            "entity": "step",
            "expiresAt": self._expires_at(),
            **step.dump(),
        }
        # over a step an execution left unfinished (or an earlier engine version queued); never over an end
        unfinished = [s for s in StepStatus if s not in (StepStatus.COMPLETED, StepStatus.FAILED)]
        return self._put_unless(item, [str(s) for s in unfinished])

    def begin_attempt(
        self, *, run_id: str, node_id: str, node_type: str, step_number: int, queued_at: str, at: str
    ) -> AttemptStart:
        """Step -> running and the next attempt number claimed, in one conditional update (the only write
        of an attempt's start; the first also writes the step, `scheduled` since ``queued_at`` in its history)."""
        queued = {"status": str(StepStatus.SCHEDULED), "at": queued_at}
        update = _Update().record_status(StepStatus.RUNNING, at, history_so_far=[queued]).set("nodeType", node_type)
        update.set("queuedAt", queued_at, only_if_absent=True)
        update.set_all({"runId": run_id, "nodeId": node_id, "entity": "step", "expiresAt": self._expires_at()})
        update.set("stepNumber", step_number, only_if_absent=True).set("startedAt", at, only_if_absent=True)
        update.remove("endedAt").add("attemptCount", 1)
        # `running` is allowed too: an invocation that timed out never recorded its outcome
        previous_ok = [*step_statuses_leading_to(StepStatus.RUNNING), StepStatus.RUNNING]
        old = self._update(
            keys.step(run_id, node_id), update, update.status_in(previous_ok, or_absent=True), returns="ALL_OLD"
        )
        number = int(old.get("attemptCount", 0)) + 1
        previous = StepStatus(old["status"]) if old else None
        # the attempt's own item is written once, when it ends (finish_attempt); until then the step
        # says it runs (see Step.attempt_in_flight)
        dangling = number - 1 if previous == StepStatus.RUNNING else None
        return AttemptStart(number=number, previous_status=previous, dangling_attempt=dangling)

    def finish_attempt(self, *, run_id: str, node_id: str, number: int, result: AttemptResult) -> bool:
        """The attempt's item, written when it ends (its start is on the step). Only an attempt still
        open ends: a late outcome (an invocation that timed out and was given up on, its attempt already
        closed) changes nothing."""
        attempt = _attempt_record(run_id, node_id, number, result)
        item = {**keys.attempt(run_id, node_id, number), "entity": "attempt", "expiresAt": self._expires_at()}
        # an item `running` was written at its claim by an earlier engine version: it may still end
        return self._put_unless({**item, **attempt.dump()}, [str(AttemptStatus.RUNNING)])

    def keep_run_until(self, run: Run, *, at: str) -> int:
        """Every item of the run's partition was written since the run was recorded, each kept the
        retention period after its write at least: only a wait that ends less than
        ``KEPT_AFTER_WAKING`` before the run's recording + retention needs any item kept longer."""
        wake = clock.parse_iso(at)
        if wake + KEPT_AFTER_WAKING <= clock.parse_iso(run.created_at) + self.retention:
            return 0
        expires = self._expires_at(at)
        items = self._query_run_partition(run.run_id, projection="pk, sk, expiresAt")
        kept = 0
        for item in items:
            if isinstance(item.get("expiresAt"), int | float) and item["expiresAt"] < expires:
                kept += self._keep_longer({"pk": item["pk"], "sk": item["sk"]}, expires)
        return kept

    def _keep_longer(self, key: dict[str, str], expires: int) -> int:
        """The item's TTL moved to ``expires`` if that is later (an item without one is kept for good)."""
        update = _Update().set("expiresAt", expires)
        condition = f"attribute_exists(pk) AND {update.name('expiresAt')} < {update.value('expiresAt', expires)}"
        try:
            self._update(key, update, condition)
        except TransitionRejected:
            return 0
        return 1

    def annotate_step(self, *, run_id: str, node_id: str, fields: dict[str, Any]) -> None:
        """Facts about a step that do not change its status (a delay's wake-up time)."""
        update = _Update().set_all({k: v for k, v in fields.items() if v is not None})
        self._update(keys.step(run_id, node_id), update, "attribute_exists(pk)")

    def update_step(self, *, run_id: str, node_id: str, node_type: str, update: StepUpdate) -> bool:
        """Conditional on the transition table: returns False when the step had moved on already."""
        at = update.ended_at or clock.iso(clock.now())
        change = _Update().record_status(update.status, at).set_all(update.fields)
        optional = {"endedAt": update.ended_at, "input": update.input, "output": update.output}
        change.set_all({k: v for k, v in optional.items() if v is not None})
        if update.error:
            change.set("error", update.error.dump())
        if update.ended_attempt is not None and update.attempt is not None:
            attempt = _attempt_record(run_id, node_id, update.attempt, update.ended_attempt).dump()
            step = {"runId": run_id, "nodeId": node_id, **{k: v for k, v in optional.items() if v is not None}}
            change.set(_LAST_ATTEMPT, attempt_on_step.stored(attempt, step))
        # a step can fail before it ever started (the task timed out or crashed while loading)
        change.set_all({"runId": run_id, "nodeId": node_id, "entity": "step"})
        change.set("nodeType", node_type, only_if_absent=True).set("stepNumber", 0, only_if_absent=True)
        change.set("startedAt", at, only_if_absent=True)
        condition = change.status_in(step_statuses_leading_to(update.status), or_absent=True)
        if update.attempt is not None:  # an attempt's outcome counts only while it is the step's latest
            condition += f" AND {change.name('attemptCount')} = {change.value('attempt', update.attempt)}"
        try:
            self._update(keys.step(run_id, node_id), change, condition)
        except TransitionRejected:
            return False
        return True


_MAX_READS_PER_PAGE = 10
# An accepted webhook signature's mark (under an Idempotency-Key): at the trigger id the same call
# without a key gets, so that the signature is accepted once either way (``AcceptedSignature``).
SIGNATURE_MARK = "webhookSignature"
_IN_FLIGHT = (RunStatus.RUNNING, RunStatus.RETRYING)
_MAX_CACHED_VERSIONS = _MAX_CACHED_TRIGGERS = 256
# A run that wakes from a wait goes on for minutes (its retries' waits: hours at the most); what it
# reads then must outlive the wake-up at least this long, or ``keep_run_until`` keeps it longer.
KEPT_AFTER_WAKING = timedelta(days=7)
# A key event is remembered a year beyond the retention period: a run recorded before it that the
# key's index did not show yet is withdrawn or moved when it falls due within that time.
KEY_EVENT_KEPT_BEYOND = timedelta(days=365)


# A step's last attempt, when it ended the step, is stored on the step (one write for both).
_LAST_ATTEMPT = "lastAttempt"


def _attempt_record(run_id: str, node_id: str, number: int, result: AttemptResult) -> Attempt:
    return Attempt(
        run_id=run_id,
        node_id=node_id,
        attempt=number,
        status=result.status,
        started_at=result.started_at or result.ended_at,
        ended_at=result.ended_at,
        duration_ms=result.duration_ms,
        error=result.error,
        http=result.http,
        truncated=result.truncated or None,
    )


def _attempts(items: list[dict[str, Any]]) -> list[Attempt]:
    """A run's recorded attempts: their own items, and those stored on their steps. One stored on
    its step is what the step's end was decided on, so it wins over an item of the same number
    (which only a closing of the attempt racing its late outcome can leave)."""
    by_number = {
        (item["nodeId"], int(item["attempt"])): Attempt.model_validate(item)
        for item in items
        if item.get("entity") == "attempt"
    }
    for item in items:
        if item.get("entity") == "step" and _LAST_ATTEMPT in item:
            attempt = Attempt.model_validate(attempt_on_step.read(item, item[_LAST_ATTEMPT]))
            by_number[(attempt.node_id, attempt.attempt)] = attempt
    return list(by_number.values())


def _step_order(step: Step) -> tuple[int, str]:
    return step.step_number, step.started_at or step.queued_at or ""


def _shares(budget: int, shards: list[str]) -> dict[str, int]:
    """``budget`` items split over ``shards`` as evenly as can be; a shard whose share is 0 is left out."""
    each, extra = divmod(budget, len(shards))
    shares = {shard: each + (1 if n < extra else 0) for n, shard in enumerate(shards)}
    return {shard: share for shard, share in shares.items() if share}


def _index_key_names(partition_attr: str) -> tuple[str, str, str, str]:
    """The attributes of an index item's key: the table's keys and the index's own."""
    return ("pk", "sk", partition_attr, partition_attr[:-2] + "Sk")


@lru_cache(maxsize=1)
def get_repository() -> DynamoRepository:
    """The process-wide repository, built on first use from the validated settings."""
    settings = get_settings()
    return DynamoRepository(
        settings.table_name,
        retry_conflicts(make_client("dynamodb")),
        retention_days=settings.history_retention_days,
        cursor_secret=partial(read_secret, settings.cursor_secret_arn) if settings.cursor_secret_arn else None,
        state_machines={
            machine: arn
            for machine, arn in (
                (Machine.STANDARD, settings.state_machine_arn),
                (Machine.EXPRESS, settings.express_state_machine_arn),
            )
            if arn
        },
    )
