"""What one run costs on AWS: counted on the local stack, priced from bench/prices.json.

    python -m bench --only cost [--runs 3] [--variants reference http5.retry ...]

Flows (webhook-triggered; the nodes that call out call a loopback target in this process):
``reference`` = http_request -> condition (true: go on) -> send_email -> set -> http_request;
``http5`` = five http_request nodes. ``<flow>.retry``: the target answers 503 to each run's first
request, so the run has one transient retry (the state machine's Retry), then 200.

This starts its own local stack with every AWS call its functions make recorded
(tests/support/aws_calls.py). Runs go one after another; each is triggered by a signed webhook,
followed to its end (by reading its item in the table, not through the API, which would itself
be an invocation), then until the stack is quiet (no function call, invocation or stream record
for a second), and everything in that window is the run's:

* transitions: from each execution's history, every ``*StateEntered`` event plus each Task retry
  (a ``TaskScheduled`` beyond the first of its state): Step Functions bills retries as transitions;
* Lambda: invocations and billed duration per function (``GET /_local/functions``: the handler's
  time in the local stack, each invocation rounded up to 1 ms, imports not included) at the
  template's memory size, as GB-seconds; the sweeper's per-minute ticks are not a run's;
* DynamoDB writes: every item write the functions asked for (transaction items and refused
  conditional writes included); write request units: 1 per KB of the larger of the item's images
  at that write (its stream record), 2 per KB in a transaction; plus the indexes' writes, derived from the
  stream images (an index entry added or removed: 1, re-keyed: 2, its projected attributes
  changed: 1; per KB of the projected entry);
* DynamoDB reads: read request units by what each read returned: per 4 KB, 1 strongly
  consistent, 0.5 eventually, 2 transactional (a Query by the size of the items it returned);
* stream records: the table's stream in the window (reading them by Lambda triggers is free),
  less what only moto writes (``as_on_aws``);
* Scheduler: calls by operation; each one-time schedule created is priced as one invocation.
* Express executions: billed per execution and by duration (from the history's first to last
  event, rounded up to 100 ms, at the smallest memory step of 64 MB), not per transition.

Each execution path has its own stack: ``standard`` (``ExpressFirst=false``: every run on the
Standard machine) and ``express`` (the template's default: runs start on Express and hand off to
Standard where they must wait; a ``.retry`` variant's one 503 is retried on Express, its first
retry's wait fitting there). Figures are
``cost.<path>.<variant>.*``. Not counted: API Gateway requests, CloudWatch Logs and metrics
(Express's log at level ALL included), X-Ray, storage, data transfer, free tiers.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import tempfile
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import requests
from botocore.config import Config

from bench import report, results
from tests.support import aws_calls
from tests.support.dynamodb_size import item_bytes

PRICES = Path(__file__).resolve().parent / "prices.json"
PREFIX = "cost"
PATHS = ("standard", "express")  # the execution paths (see the docstring)
USD_TARGET = {"standard": 350, "express": 80}  # issue #11, per million 5-node runs
EXPRESS_MEMORY_GB = 64 / 1024  # Express bills memory in 64 MB steps; the interpreter's state is ids only
VARIANTS = ("reference", "reference.retry", "http5", "http5.retry")
NODES = 5  # both flows
# N in the transitions target (2N+3): the nodes that call out (http_request, send_email), not
# the ones that only compute (condition, set)
CALLING_OUT = {"reference": 3, "http5": 5}
QUIET_SECONDS = 1.0
TERMINAL = ("completed", "failed", "cancelled")
# Not a run's: the sweeper runs every minute whatever happens (1,440 invocations a day).
NOT_PER_RUN = frozenset({"SweeperFunction"})
BREAKDOWN = ("step_functions", "lambda_requests", "lambda_duration", "dynamodb_writes", "dynamodb_reads", "scheduler")
WRITES = ("PutItem", "UpdateItem", "DeleteItem", "ConditionCheckItem", "BatchWriteItem")
READS = ("GetItem", "Query", "BatchGetItem")

# --- counting (pure) ------------------------------------------------------------------------------


def transitions(events: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Billed transitions of one execution's history: states entered plus Task retries (the
    interpreter has no Parallel or Map state, so its events come one state at a time)."""
    entered: list[str] = []
    retries = scheduled = 0
    for event in events:
        if event["type"].endswith("StateEntered"):
            entered.append(event["stateEnteredEventDetails"]["name"])
            scheduled = 0
        elif event["type"] in ("TaskScheduled", "LambdaFunctionScheduled"):
            retries += scheduled > 0
            scheduled += 1
    return {"transitions": len(entered) + retries, "entered": entered, "retries": retries}


def _kb(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _item_key(keys: Mapping[str, Any]) -> tuple[str | None, str | None]:
    return (keys.get("pk") or {}).get("S"), (keys.get("sk") or {}).get("S")


def _images(record: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    change = record["dynamodb"]
    return change.get("OldImage") or {}, change.get("NewImage") or {}


def as_on_aws(records: Sequence[Mapping[str, Any]]) -> tuple[list[Mapping[str, Any]], int]:
    """The stream records DynamoDB would have written, and how many of moto's were left out.

    moto's UpdateItem that creates an item first stores the bare key (an INSERT record of the keys
    alone) and then records the update as a second INSERT; DynamoDB writes one record. And a write
    that changed nothing writes no record on AWS.
    """
    kept: list[Mapping[str, Any]] = []
    for i, record in enumerate(records):
        change = record["dynamodb"]
        keys, new = change.get("Keys") or {}, change.get("NewImage")
        following = records[i + 1]["dynamodb"] if i + 1 < len(records) else {}
        bare_insert = record["eventName"] == "INSERT" and new == keys and following.get("Keys") == keys
        unchanged = record["eventName"] == "MODIFY" and change.get("OldImage") == new
        if not (bare_insert or unchanged):
            kept.append(record)
    return kept, len(records) - len(kept)


def index_writes(record: Mapping[str, Any], indexes: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
    """(index writes, their write units) one table change causes, from its stream images.

    An index ``{"keys": [...], "projection": "ALL" | "KEYS_ONLY" | "INCLUDE", "include": [...]}``
    holds the item while all its key attributes are present: entering or leaving it is one
    write, a changed index key two (delete and put), a change of a projected attribute one.
    """
    old, new = _images(record)
    table_keys = list(record["dynamodb"].get("Keys") or {})
    writes = units = 0
    for index in indexes:
        keys = index["keys"]
        was, now = all(k in old for k in keys), all(k in new for k in keys)
        if was and now:
            projected: set[str] = set(index.get("include", ()))  # KEYS_ONLY: none besides the keys
            if index["projection"] == "ALL":
                projected = set(old) | set(new)
            rekeyed = any(old[k] != new[k] for k in keys)
            count = 2 if rekeyed else int(any(old.get(a) != new.get(a) for a in projected))
        else:
            count = int(was or now)
        if count:
            image = new or old
            if index["projection"] != "ALL":  # the entry holds the keys (and the included attributes)
                kept = {*table_keys, *keys, *index.get("include", ())}
                image = {name: value for name, value in image.items() if name in kept}
            writes += count
            units += count * _kb(item_bytes(image), 1024)
    return writes, units


def _largest_image(record: Mapping[str, Any]) -> int:
    return max((item_bytes(image) for image in _images(record) if image), default=0)


def _write_sizes(calls: Sequence[Mapping[str, Any]], records: Sequence[Mapping[str, Any]]) -> dict[int, int]:
    """Each write call's billed size (by ``id``): the larger of the item's images at that write.

    A DynamoDB write is billed on the larger of the item before and after it. An item's stream
    records are in the order of its writes, so its applied writes, in the order they returned,
    pair with its records one to one; where they do not (a write that changed nothing), and for a
    refused condition, a write is counted at the item's largest image in the run.
    """
    changes: dict[tuple[str | None, str | None], list[int]] = defaultdict(list)
    for record in records:
        changes[_item_key(record["dynamodb"].get("Keys") or {})].append(_largest_image(record))
    writes: dict[tuple[str | None, str | None], list[Mapping[str, Any]]] = defaultdict(list)
    for call in calls:
        if call.get("service") == "dynamodb" and call["operation"] in WRITES:
            writes[(call.get("key"), call.get("sort"))].append(call)
    sizes: dict[int, int] = {}
    for key, item_writes in writes.items():
        item_changes = changes.get(key, [])
        applied = sorted(
            (call for call in item_writes if not call.get("failed") and call["operation"] != "ConditionCheckItem"),
            key=lambda call: call.get("t", 0),
        )
        for call in item_writes:
            sizes[id(call)] = max(item_changes, default=0)
        if len(applied) == len(item_changes):
            sizes.update({id(call): size for call, size in zip(applied, item_changes, strict=True)})
    return sizes


def dynamodb_usage(
    calls: Iterable[Mapping[str, Any]], records: Sequence[Mapping[str, Any]], indexes: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Writes, write and read units of the recorded DynamoDB calls and the stream records of one run."""
    calls = list(calls)
    sizes = _write_sizes(calls, records)
    by_operation: Counter[str] = Counter()
    writes = transactional = failed = write_units = reads = 0
    read_units = 0.0
    for call in calls:
        operation = call["operation"]
        if call.get("service") != "dynamodb":
            continue
        if operation in WRITES:
            items = int(call.get("items", 1))
            by_operation[operation] += items
            writes += items if operation != "ConditionCheckItem" else 0
            transactional += items if call.get("transaction") else 0
            failed += items if call.get("failed") else 0
            size = sizes.get(id(call), 0)
            write_units += items * _kb(size, 1024) * (2 if call.get("transaction") else 1)
        elif operation in READS:
            reads += 1
            units = _kb(int(call.get("bytes", 0)), 4096)  # a read of nothing still costs one
            if operation == "BatchGetItem":  # each item is a read of its own
                units = max(units, int(call.get("items", 0)))
            factor = 2.0 if call.get("transaction") else 1.0 if call.get("consistent") else 0.5
            read_units += units * factor
    gsi = [index_writes(record, indexes) for record in records]
    return {
        "writes": writes,
        "by_operation": dict(sorted(by_operation.items())),
        "transactional": transactional,
        "failed": failed,
        "table_write_units": write_units,
        "gsi_writes": sum(w for w, _ in gsi),
        "gsi_write_units": sum(u for _, u in gsi),
        "write_units": write_units + sum(u for _, u in gsi),
        "reads": reads,
        "read_units": read_units,
        "large_items": len({_item_key(r["dynamodb"].get("Keys") or {}) for r in records if _largest_image(r) > 1024}),
    }


def lambda_usage(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """Invocations and GB-seconds per function between two readings of ``/_local/functions`` stats."""
    invocations, gb_seconds = {}, {}
    for name, now in after.items():
        if name in NOT_PER_RUN:
            continue
        then = before.get(name) or {"invocations": 0, "durationMs": 0}
        count = now["invocations"] - then["invocations"]
        if count:
            invocations[name] = count
            gb_seconds[name] = (now["durationMs"] - then["durationMs"]) / 1000 * now["memoryMb"] / 1024
    return {
        "invocations": sum(invocations.values()),
        "gb_seconds": sum(gb_seconds.values()),
        "by_function": invocations,
        "gb_seconds_by_function": gb_seconds,
    }


def scheduler_usage(calls: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    operations = Counter(call["operation"] for call in calls if call.get("service") == "scheduler")
    # a one-time schedule fires once (an upper bound: one deleted before it is due never fires)
    return {
        "calls": sum(operations.values()),
        "by_operation": dict(operations),
        "invocations": operations["CreateSchedule"],
    }


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def express_usage(histories: Iterable[Sequence[Mapping[str, Any]]]) -> dict[str, Any]:
    """Express executions as billed: one request each, and GB-s of their durations (each rounded up
    to 100 ms) at 64 MB."""
    seconds = 0.0
    count = 0
    for events in histories:
        count += 1
        if events:
            took = (events[-1]["timestamp"] - events[0]["timestamp"]).total_seconds()
            seconds += math.ceil(round(took, 6) * 10) / 10
    return {"executions": count, "seconds": round(seconds, 1), "gb_seconds": seconds * EXPRESS_MEMORY_GB}


def price(usage: Mapping[str, Any], prices: Mapping[str, Any]) -> dict[str, float]:
    """USD per million runs of one run's usage, by component (Step Functions: Standard's
    transitions plus Express's requests and duration)."""
    million = 1_000_000
    sfn, lam, ddb = prices["step_functions"], prices["lambda"], prices["dynamodb"]
    express = usage.get("express") or {"executions": 0, "gb_seconds": 0.0}
    return {
        "step_functions": usage["transitions"] * sfn["standard_usd_per_1000_state_transitions"] / 1000 * million
        + express["executions"] * sfn["express_usd_per_million_requests"]
        + express["gb_seconds"] * sfn["express_usd_per_gb_second"] * million,
        "lambda_requests": usage["lambda"]["invocations"] * lam["arm64_usd_per_million_requests"],
        "lambda_duration": usage["lambda"]["gb_seconds"] * lam["arm64_usd_per_gb_second"] * million,
        "dynamodb_writes": usage["dynamodb"]["write_units"] * ddb["on_demand_usd_per_million_write_request_units"],
        "dynamodb_reads": usage["dynamodb"]["read_units"] * ddb["on_demand_usd_per_million_read_request_units"],
        "scheduler": usage["scheduler"]["invocations"] * prices["scheduler"]["usd_per_million_invocations"],
    }


def _medians(dicts: list[Mapping[str, float]]) -> dict[str, float]:
    names = sorted({name for d in dicts for name in d})
    return {name: round(statistics.median(d.get(name, 0) for d in dicts), 4) for name in names}


def variant_figures(path: str, variant: str, runs: list[dict[str, Any]], prices: Mapping[str, Any]) -> dict[str, Any]:
    """The ``cost.<path>.<variant>.*`` keys from the usage of each run."""
    key = f"{PREFIX}.{path}.{variant}"

    def of(pick: Callable[[dict[str, Any]], float], digits: int = 4) -> dict[str, Any]:
        return results.summary([pick(run) for run in runs], digits=digits)

    priced = [price(run, prices) for run in runs]
    breakdown = {name: round(statistics.median(p[name] for p in priced), 4) for name in BREAKDOWN}
    flow, _, retry = variant.partition(".")
    calling_out = CALLING_OUT[flow]
    return {
        f"{key}.transitions": {
            **of(lambda r: r["transitions"]),
            "nodes": NODES,
            "calling_out": calling_out,
            # Standard: 2N+3, a retry one more (Express executions bill no transitions)
            **({"target": 2 * calling_out + 3 + (1 if retry else 0)} if path == "standard" else {}),
            "retries": of(lambda r: r["retries"]),
        },
        f"{key}.states_entered": runs[0]["entered"],
        f"{key}.express_executions": {
            **of(lambda r: r["express"]["executions"]),
            "seconds": of(lambda r: r["express"]["seconds"]),
            "states_entered": runs[0]["express_entered"],  # not billed: Express bills requests and duration
        },
        f"{key}.lambda_invocations": {
            **of(lambda r: r["lambda"]["invocations"]),
            "by_function": _medians([r["lambda"]["by_function"] for r in runs]),
        },
        f"{key}.lambda_gb_seconds": {
            **of(lambda r: r["lambda"]["gb_seconds"]),
            "by_function": _medians([r["lambda"]["gb_seconds_by_function"] for r in runs]),
        },
        f"{key}.dynamodb_writes": {
            **of(lambda r: r["dynamodb"]["writes"]),
            "target": 15,
            "by_operation": _medians([r["dynamodb"]["by_operation"] for r in runs]),
            "transactional": of(lambda r: r["dynamodb"]["transactional"]),
            "failed": of(lambda r: r["dynamodb"]["failed"]),
            "by_function": _medians([r["writes_by_function"] for r in runs]),
        },
        f"{key}.dynamodb_write_units": {
            **of(lambda r: r["dynamodb"]["write_units"]),
            "table": of(lambda r: r["dynamodb"]["table_write_units"]),
            "gsi": of(lambda r: r["dynamodb"]["gsi_write_units"]),
            "gsi_writes": of(lambda r: r["dynamodb"]["gsi_writes"]),
            "items_over_1kb": of(lambda r: r["dynamodb"]["large_items"]),
        },
        f"{key}.dynamodb_read_units": {
            **of(lambda r: r["dynamodb"]["read_units"]),
            "reads": of(lambda r: r["dynamodb"]["reads"]),
        },
        f"{key}.stream_records": {
            **of(lambda r: r["stream_records"]),
            "target": 12,
            "left_out": of(lambda r: r.get("moto_stream_artefacts", 0)),  # see as_on_aws
        },
        f"{key}.scheduler_calls": {
            **of(lambda r: r["scheduler"]["calls"]),
            "by_operation": _medians([r["scheduler"]["by_operation"] for r in runs]),
            "invocations": of(lambda r: r["scheduler"]["invocations"]),
        },
        f"{key}.usd_per_million_runs": {
            # the sum of the breakdown, each the median over the runs; min/median/max: of each run's total
            "total": round(sum(breakdown.values()), 4),
            "breakdown": breakdown,
            **of(lambda r: sum(price(r, prices).values())),
            "target": USD_TARGET[path],
        },
        f"{key}.detail": runs[0]["detail"],
    }


def figures(
    measured: Mapping[tuple[str, str], list[dict[str, Any]]], prices: Mapping[str, Any], runs: int
) -> dict[str, Any]:
    """Every ``cost.*`` key: per path and variant, and on top the reference flow's price on the
    path runs take by default (Express first; Standard when only it was measured)."""
    out: dict[str, Any] = {}
    for (path, variant), usages in measured.items():
        out.update(variant_figures(path, variant, usages, prices))
    for path in reversed(PATHS):
        reference = out.get(f"{PREFIX}.{path}.reference.usd_per_million_runs")
        if reference is not None:
            out[f"{PREFIX}.usd_per_million_runs"] = {**reference, "of": f"{path}.reference"}
            break
    out[f"{PREFIX}.measured_at"] = results.now_iso()
    out[f"{PREFIX}.method"] = {
        "runs": runs,
        "paths": sorted({path for path, _ in measured}, key=PATHS.index),
        "flows": {
            "reference": "webhook -> http_request -> condition (true) -> send_email -> set -> http_request",
            "http5": "webhook -> 5 x http_request",
            ".retry": "the target answers 503 to each run's first request (one transient retry), then 200",
        },
        "transitions": "*StateEntered events of the run's executions + Task retries (TaskScheduled beyond the first)",
        "lambda": "invocations and handler time in the local stack (rounded up to 1 ms each, no init) x memory",
        "dynamodb_writes": "item writes the functions asked for (transaction items, refused conditions included)",
        "write_units": "1 per KB of the larger of the item's images at that write (its stream record; the item's "
        "largest image in the run where writes and records do not pair), 2 per KB in a transaction; "
        "+ index writes from the stream images (enter/leave 1, re-key 2, projected change 1)",
        "read_units": "per 4 KB returned: 1 consistent, 0.5 eventual, 2 transactional (a Query: its items' size)",
        "stream_records": "the table's stream in the window, less moto's extra records (see bench/cost.py as_on_aws)",
        "scheduler": "each CreateSchedule is one invocation (API calls are free)",
        "not_counted": "SweeperFunction's ticks, API Gateway, CloudWatch, X-Ray, storage, data transfer, free tiers",
        "prices": {"as_of": prices["as_of"], "region": prices["region"], "file": "bench/prices.json"},
    }
    return out


def describe(calls: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """Which function wrote and read which kind of item (``RUN``, ``STEP#``...), with refused writes
    apart (``(ConditionalCheckFailedException)``): for spotting waste."""

    def kind(call: Mapping[str, Any]) -> str:
        sort = str(call.get("sort") or call.get("index") or "")
        return sort.split("#")[0] + ("#" if "#" in sort else "")

    writes: Counter[str] = Counter()
    reads: Counter[str] = Counter()
    for function, call in calls:
        if call.get("service") != "dynamodb":
            continue
        label = f"{function} {call['operation']} {kind(call)}".rstrip()
        label += (" (txn)" if call.get("transaction") else "") + (f" ({call['failed']})" if call.get("failed") else "")
        if call["operation"] in WRITES:
            writes[label] += 1
        elif call["operation"] in READS:
            reads[label] += 1
    return {"writes": dict(sorted(writes.items())), "reads": dict(sorted(reads.items()))}


# --- measuring on a local stack --------------------------------------------------------------------


def flow_nodes(flow: str, url: str) -> list[dict[str, Any]]:
    """The flow's nodes; every http_request posts the run's number, which the target keys on."""

    def call(node_id: str) -> dict[str, Any]:
        body = {"run": "{{ trigger.body.n }}", "node": node_id}
        return {"id": node_id, "type": "http_request", "method": "POST", "url": url, "body": body}

    if flow == "http5":
        return [call(f"call{i}") for i in range(1, 6)]
    check = {"id": "check", "type": "condition", "if": "steps.fetch.output.body.ok == true"}
    email = {"id": "email", "type": "send_email", "to": "bench@example.com", "subject": "Run {{ trigger.body.n }}"}
    return [
        call("fetch"),
        {**check, "then": "email", "else": "note"},
        {**email, "text": "ok"},  # through the stack's SendGrid sink (its "sendgrid" connection)
        {"id": "note", "type": "set", "values": {"run": "{{ trigger.body.n }}"}},
        call("report"),
    ]


class Target:
    """A loopback server answering 200 ``{"ok": true}``; under ``/retry`` the first request of each
    run (by the ``run`` its body carries) answers 503 first."""

    def __init__(self) -> None:
        seen: set[str] = set()
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                with lock:
                    first = str(body.get("run")) not in seen
                    seen.add(str(body.get("run")))
                status = 503 if self.path.startswith("/retry") and first else 200
                payload = b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, name="cost-target", daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Observer:
    """Reads what the stack does: its functions' recorded calls, invocation counts and stream."""

    def __init__(self, stack: Any, record_dir: Path) -> None:
        self.stack, self.record_dir = stack, record_dir
        self.offsets: dict[str, int] = {}
        health = requests.get(f"{stack.url}/_local/health", timeout=10).json()
        self.table = health["table"]
        self.dynamodb = stack.aws("dynamodb")
        described = self.dynamodb.describe_table(TableName=self.table)["Table"]
        self.indexes = [
            {
                "name": index["IndexName"],
                "keys": [k["AttributeName"] for k in index["KeySchema"]],
                "projection": index["Projection"]["ProjectionType"],
                "include": index["Projection"].get("NonKeyAttributes", []),
            }
            for index in described.get("GlobalSecondaryIndexes", [])
        ]
        self.stream_arn = described["LatestStreamArn"]
        # the Streams client answers 404 unless the account id is kept out of the endpoint
        self.streams = boto3.client(
            "dynamodbstreams",
            endpoint_url=stack.moto_endpoint,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 (moto's placeholder, on loopback)
            config=Config(account_id_endpoint_mode="disabled"),
        )
        self.after: dict[str, str] = {}  # per shard: the last stream record read
        self.names = set(self.stats())

    def stats(self) -> dict[str, dict[str, int]]:
        functions = requests.get(f"{self.stack.url}/_local/functions", timeout=10).json()["functions"]
        return {name: function["stats"] for name, function in functions.items()}

    def calls(self) -> list[tuple[str, dict[str, Any]]]:
        """(function, call) recorded since the last look, of the functions' invocations (not the sweeper's)."""
        entries, self.offsets = aws_calls.read(self.record_dir, self.offsets)
        found = []
        for entry in entries:
            if "error" in entry:
                raise RuntimeError(f"the recorder failed: {entry['error']}")
            function = aws_calls.function_of(entry, self.names)
            if function is not None and function not in NOT_PER_RUN:
                found.append((function, entry))
        return found

    def records(self) -> list[dict[str, Any]]:
        """Stream records since the last look."""
        found = []
        for shard in self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            position: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
            if shard_id in self.after:
                position = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.after[shard_id]}
            iterator = self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **position)
            iterator = iterator["ShardIterator"]
            while iterator:
                response = self.streams.get_records(ShardIterator=iterator, Limit=1000)
                if not response["Records"]:
                    break
                found += response["Records"]
                self.after[shard_id] = response["Records"][-1]["dynamodb"]["SequenceNumber"]
                iterator = response.get("NextShardIterator")
        return found

    def run_status(self, run_id: str) -> str | None:
        key = {"pk": {"S": f"RUN#{run_id}"}, "sk": {"S": "RUN"}}
        item = self.dynamodb.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item") or {}
        return (item.get("status") or {}).get("S")

    def settle(self, timeout: float = 60) -> dict[str, Any]:
        """Everything until nothing moved for QUIET_SECONDS: calls, stream records, the invocation counts."""
        window: dict[str, Any] = {"calls": [], "records": []}
        stats = self.stats()
        quiet_since = time.monotonic()
        deadline = quiet_since + timeout
        while time.monotonic() - quiet_since < QUIET_SECONDS:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the local stack was still busy after {timeout} s")
            time.sleep(0.1)
            calls, records, now = self.calls(), self.records(), self.stats()
            if calls or records or now != stats:
                window["calls"] += calls
                window["records"] += records
                stats, quiet_since = now, time.monotonic()
        window["stats"] = stats
        return window


def measure_run(observer: Observer, flow: dict[str, Any], n: str, timeout: float = 60) -> dict[str, Any]:
    """One run, from its webhook until the stack is quiet again: what it used."""
    stack = observer.stack
    before = observer.stats()
    run_id = stack.trigger(flow, {"n": n})
    calls: list[tuple[str, dict[str, Any]]] = []
    records: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while observer.run_status(run_id) not in TERMINAL:  # read from the table: not an invocation
        if time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} did not end within {timeout} s")
        calls += observer.calls()
        records += observer.records()
        time.sleep(0.1)
    window = observer.settle(timeout)
    calls += window["calls"]
    kept, artefacts = as_on_aws(records + window["records"])
    # now the API may be asked (its invocation and reads come after the window, and are dropped)
    run = stack.run(run_id)
    observer.calls()
    if run["status"] != "completed":
        raise RuntimeError(f"run {run_id} ended {run['status']}: {json.dumps(run)[:2000]}")
    sfn = stack.aws("stepfunctions")
    counted: dict[str, Any] = {"transitions": 0, "retries": 0, "entered": [], "express_entered": []}
    express_histories = []
    for execution in run["executions"]:
        history = sfn.get_execution_history(executionArn=execution["arn"], maxResults=1000)["events"]
        found = transitions(history)
        if execution.get("machine") == "express":  # billed per execution and duration instead
            express_histories.append(history)
            counted["express_entered"] += found["entered"]
            continue
        counted["transitions"] += found["transitions"]
        counted["retries"] += found["retries"]
        counted["entered"] += found["entered"]
    writes_by_function = Counter(
        function for function, call in calls if call.get("service") == "dynamodb" and call["operation"] in WRITES
    )
    return {
        **counted,
        "express": express_usage(express_histories),
        "lambda": lambda_usage(before, window["stats"]),
        "dynamodb": dynamodb_usage([call for _, call in calls], kept, observer.indexes),
        "writes_by_function": dict(writes_by_function),
        "stream_records": len(kept),
        "moto_stream_artefacts": artefacts,
        "scheduler": scheduler_usage(call for _, call in calls),
        "detail": describe(calls),
        "run_id": run_id,
    }


@contextlib.contextmanager
def recorded_stack(record_dir: Path, path: str = "express") -> Iterator[Any]:
    """A local stack of this checkout, runs starting on ``path``'s machine, whose functions' AWS
    calls are recorded into ``record_dir``."""
    from tests.support.stack_client import running_local_stack

    express_first = "true" if path == "express" else "false"
    with (
        mock.patch.dict("os.environ", aws_calls.install(record_dir)),
        running_local_stack(None, "--parameter", f"ExpressFirst={express_first}") as stack,
    ):
        yield stack


def measure(
    runs: int = 3,
    variants: Iterable[str] | None = None,
    log: Callable[[str], None] = print,
    paths: Iterable[str] = PATHS,
) -> dict[str, Any]:
    """For each path a recorded local stack; each variant run ``runs`` times; the ``cost.*`` figures."""
    chosen = list(variants or VARIANTS)
    unknown = set(chosen) - set(VARIANTS) or set(paths) - set(PATHS)
    if unknown:
        raise ValueError(f"unknown {sorted(unknown)}; choose variants from {VARIANTS}, paths from {PATHS}")
    prices = load_prices()
    measured: dict[tuple[str, str], list[dict[str, Any]]] = {}
    target = Target()
    try:
        for path in paths:
            with (
                tempfile.TemporaryDirectory(prefix="cost-calls-") as directory,
                recorded_stack(Path(directory), path) as stack,
            ):
                observer = Observer(stack, Path(directory))
                for variant in chosen:
                    measured[(path, variant)] = _measure_variant(observer, target, path, variant, runs, prices, log)
    finally:
        target.close()
    return figures(measured, prices, runs)


def _measure_variant(
    observer: Observer,
    target: Target,
    path: str,
    variant: str,
    runs: int,
    prices: Mapping[str, Any],
    log: Callable[[str], None],
) -> list[dict[str, Any]]:
    flow_name, _, retry = variant.partition(".")
    url = f"{target.url}/{'retry' if retry else 'ok'}/{path}.{variant}"
    flow = observer.stack.create_flow(flow_nodes(flow_name, url), name=f"cost: {path} {variant}")
    observer.settle()  # the flow's own writes and reactions are not a run's
    usages = []
    for i in range(runs):
        usage = measure_run(observer, flow, f"{path}-{variant}-{i}")
        usages.append(usage)
        log(
            f"cost {path} {variant} run {i + 1}/{runs}: {usage['transitions']} transitions, "
            f"{usage['express']['executions']} Express executions, "
            f"{usage['lambda']['invocations']} invocations, {usage['dynamodb']['writes']} writes, "
            f"{usage['stream_records']} stream records, "
            f"${sum(price(usage, prices).values()):.2f} per million"
        )
    return usages


def table(figs: Mapping[str, Any]) -> str:
    """The cost figures as the README renders them (bench/report.py)."""
    return "\n".join(report.cost_rows(figs))
