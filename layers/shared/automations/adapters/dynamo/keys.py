"""The single-table key schema. Every item's keys are built here and nowhere else.

| item          | pk                 | sk                         | index keys                     |
|---------------|--------------------|----------------------------|--------------------------------|
| API key       | APIKEY#<sha256>    | APIKEY                     | (the lookup of a bearer key)   |
| account's key | ACCOUNT#<accountId>| KEY#<keyId>                | (the account's key listing;    |
|               |                    |                            | written with the lookup item)  |
| flow head     | FLOW#<flowId>      | FLOW                       | FlowsByAccount                 |
| flow version  | FLOW#<flowId>      | VERSION#<000001>           |                                |
| key event     | FLOW#<flowId>      | WITHDRAWN#<key's sha256>,  | (the latest event that         |
|               |                    | RESCHEDULED#<...>          | withdrew or moved its runs)    |
| trigger event | TRIGGER#<id>       | TRIGGER                    | (a webhook's, without an       |
|               |                    |                            | Idempotency-Key: its id is its |
|               |                    |                            | signature's; with one, that id |
|               |                    |                            | holds the signature's mark,    |
|               |                    |                            | TTL its window)                |
| run           | RUN#<runId>        | RUN                        | RunsByFlow, RunsByAccount;     |
|               |                    |                            | while `scheduled`: Overdue,    |
|               |                    |                            | ScheduledByFlow and (with a    |
|               |                    |                            | key) ScheduledByKey; while     |
|               |                    |                            | `running`/`retrying`: InFlight |
| execution     | RUN#<runId>        | EXECUTION#<name>           |                                |
| step          | RUN#<runId>        | STEP#<nodeId>              |                                |
| attempt       | RUN#<runId>        | ATTEMPT#<nodeId>#<0001>    |                                |

A run's partition holds its executions, steps and attempts, so one query reads a whole run. (A
run's first execution has no item until it ends: the run requests it and its start claims it,
``first_execution_of``.)
Attempts and executions sort before ``RUN`` and steps after it, so ``sk >= "RUN"`` reads the
run and its steps without the (larger) attempt items.
"""

from __future__ import annotations

import hashlib

Key = dict[str, str]

FLOWS_BY_ACCOUNT = "FlowsByAccount"
RUNS_BY_FLOW = "RunsByFlow"
OVERDUE = "Overdue"
SCHEDULED_BY_FLOW = "ScheduledByFlow"
SCHEDULED_BY_KEY = "ScheduledByKey"
RUNS_BY_ACCOUNT = "RunsByAccount"
IN_FLIGHT = "InFlight"

# Scheduled runs spread over this many Overdue partitions (in-flight runs over as many InFlight
# ones) so that many runs due at the same minute do not all land on one hot key. Changing it
# strands existing items.
OVERDUE_SHARDS = 8


def api_key(key_hash: str) -> Key:
    return {"pk": f"APIKEY#{key_hash}", "sk": "APIKEY"}


def account_key(account_id: str, key_id: str) -> Key:
    return {"pk": f"ACCOUNT#{account_id}", "sk": f"KEY#{key_id}"}


ACCOUNT_KEYS_PREFIX = "KEY#"


def account_partition(account_id: str) -> str:
    return f"ACCOUNT#{account_id}"


def flow(flow_id: str) -> Key:
    return {"pk": f"FLOW#{flow_id}", "sk": "FLOW"}


def flow_version(flow_id: str, version: int) -> Key:
    return {"pk": f"FLOW#{flow_id}", "sk": f"VERSION#{version:06d}"}


def flows_by_account(account_id: str, created_at: str, flow_id: str) -> Key:
    return {"flowsByAccountPk": f"ACCOUNT#{account_id}", "flowsByAccountSk": f"{created_at}#{flow_id}"}


def trigger(trigger_id: str) -> Key:
    return {"pk": f"TRIGGER#{trigger_id}", "sk": "TRIGGER"}


def run(run_id: str) -> Key:
    return {"pk": f"RUN#{run_id}", "sk": "RUN"}


def runs_by_flow(flow_id: str, scheduled_for: str, run_id: str) -> Key:
    """Run history sorts by when a run was due (its trigger time, unless it was due later)."""
    return {"runsByFlowPk": f"FLOW#{flow_id}", "runsByFlowSk": f"{scheduled_for}#{run_id}"}


def runs_by_account(account_id: str, scheduled_for: str, run_id: str) -> Key:
    return {"runsByAccountPk": f"ACCOUNT#{account_id}", "runsByAccountSk": f"{scheduled_for}#{run_id}"}


def run_history_keys(run_id: str, account_id: str, flow_id: str, scheduled_for: str) -> Key:
    """The run's place in both history listings (it moves when the run is rescheduled)."""
    return {**runs_by_flow(flow_id, scheduled_for, run_id), **runs_by_account(account_id, scheduled_for, run_id)}


def _shard(run_id: str) -> int:
    return int(hashlib.sha256(run_id.encode()).hexdigest(), 16) % OVERDUE_SHARDS


def overdue(run_id: str, scheduled_for: str) -> Key:
    return {"overduePk": f"OVERDUE#{_shard(run_id)}", "overdueSk": f"{scheduled_for}#{run_id}"}


def overdue_shards() -> list[str]:
    return [f"OVERDUE#{shard}" for shard in range(OVERDUE_SHARDS)]


def in_flight(run_id: str, check_after: str) -> Key:
    """A run `running` or `retrying`, due for a check that its execution still lives at ``check_after``."""
    return {"inFlightPk": f"INFLIGHT#{_shard(run_id)}", "inFlightSk": f"{check_after}#{run_id}"}


def in_flight_shards() -> list[str]:
    return [f"INFLIGHT#{shard}" for shard in range(OVERDUE_SHARDS)]


IN_FLIGHT_ATTRIBUTES = ("inFlightPk", "inFlightSk")


def scheduled_by_flow(flow_id: str, scheduled_for: str, run_id: str) -> Key:
    return {"scheduledByFlowPk": f"FLOW#{flow_id}", "scheduledByFlowSk": f"{scheduled_for}#{run_id}"}


def _key_digest(correlation_key: str) -> str:
    """Keys are any text an account chooses: hashed, so the key stays short and opaque."""
    return hashlib.sha256(correlation_key.encode()).hexdigest()[:32]


def scheduled_by_key(flow_id: str, correlation_key: str, run_id: str) -> Key:
    return {"scheduledByKeyPk": f"FLOW#{flow_id}#KEY#{_key_digest(correlation_key)}", "scheduledByKeySk": run_id}


def key_event(flow_id: str, correlation_key: str, kind: str) -> Key:
    """The latest event of ``kind`` (``withdrawn``, ``rescheduled``) for the flow's runs under the key."""
    return {"pk": f"FLOW#{flow_id}", "sk": f"{kind.upper()}#{_key_digest(correlation_key)}"}


def scheduled_index_keys(run_id: str, flow_id: str, scheduled_for: str, correlation_key: str | None) -> Key:
    """Every sparse index key a `scheduled` run carries (and loses when it leaves `scheduled`)."""
    found = {**overdue(run_id, scheduled_for), **scheduled_by_flow(flow_id, scheduled_for, run_id)}
    if correlation_key is not None:
        found.update(scheduled_by_key(flow_id, correlation_key, run_id))
    return found


SCHEDULED_INDEX_ATTRIBUTES = (
    "overduePk",
    "overdueSk",
    "scheduledByFlowPk",
    "scheduledByFlowSk",
    "scheduledByKeyPk",
    "scheduledByKeySk",
)

# Not a key, but read by the stream's filter (template.yaml) like one: a waiting run with nothing
# to follow up when it leaves `scheduled` (``Run.follows_up_when_leaving_scheduled``: due at once,
# not recurring) carries it, so the change that starts it wakes no StreamFunction. It goes with
# the sparse index keys.
NOTHING_TO_FOLLOW_UP = "nothingToFollowUp"
WHILE_SCHEDULED_ATTRIBUTES = (*SCHEDULED_INDEX_ATTRIBUTES, NOTHING_TO_FOLLOW_UP)


def execution(run_id: str, name: str) -> Key:
    return {"pk": f"RUN#{run_id}", "sk": f"EXECUTION#{name}"}


def step(run_id: str, node_id: str) -> Key:
    return {"pk": f"RUN#{run_id}", "sk": f"STEP#{node_id}"}


def attempt(run_id: str, node_id: str, number: int) -> Key:
    return {"pk": f"RUN#{run_id}", "sk": f"ATTEMPT#{node_id}#{number:04d}"}
