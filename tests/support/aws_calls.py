"""Recording every AWS call a local stack's functions make, for the policy checks and the cost bench.

``RECORDER`` is a sitecustomize.py: a process started with ``AUTOMATIONS_RECORD_AWS_CALLS=<dir>``
and that file's directory first on ``PYTHONPATH`` patches botocore's ``BaseClient._make_api_call``
when ``botocore.client`` is imported, and appends each call to ``<dir>/<pid>.jsonl``, one line per
call (per item, for a transaction), with the calling thread's name: a function's invocation runs
in a thread named ``<LogicalId>-<8 hex>`` (devstack/functions.py), and the threads of a pool it
starts are named after it, ``<LogicalId>-<8 hex>_<n>`` (the sweeper's shard reads).

A line holds ``t`` (time.time() when the call returned), ``thread``, ``service``, ``operation``
(a transaction's items under their IAM action: PutItem, UpdateItem, DeleteItem,
ConditionCheckItem, GetItem), ``index``, ``key`` (the partition key, or a parameter's or
schedule's name), and for DynamoDB item calls ``sort`` (the sort key), ``transaction`` (an item of
TransactWriteItems / TransactGetItems), ``consistent`` (a read's ConsistentRead), ``items`` and
``bytes`` (what a read returned: items and their size by DynamoDB's rules; a Query's ``items`` is
its ScannedCount), and ``failed`` (the error code, when the call raised: a refused conditional
write is still billed). A line that could not be made is ``{"error": ...}``.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

RECORD_DIR = "AUTOMATIONS_RECORD_AWS_CALLS"
FUNCTION_THREAD = re.compile(r"(\w+)-[0-9a-f]{8}(?:_\d+)?")

RECORDER = r"""
import os

if os.environ.get("AUTOMATIONS_RECORD_AWS_CALLS"):
    import importlib.abc
    import json
    import re
    import sys
    import threading
    import time

    _lock = threading.Lock()
    _key = re.compile(r"^\s*\(?\s*(\S+)\s*=\s*(:\w+)")
    _kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}

    def _key_of(request, field, name):
        return ((request.get(field) or {}).get(name) or {}).get("S")

    def _item(operation, request, field, **extra):
        return dict(operation=operation, index=None, key=_key_of(request, field, "pk"),
                    sort=_key_of(request, field, "sk"), **extra)

    def _entries(service, operation, params):
        if service != "dynamodb":
            return [dict(operation=operation, index=None, key=params.get("Name"))]
        if operation == "PutItem":
            return [_item(operation, params, "Item")]
        if operation == "GetItem":
            return [_item(operation, params, "Key", consistent=bool(params.get("ConsistentRead")))]
        if operation in ("UpdateItem", "DeleteItem"):
            return [_item(operation, params, "Key")]
        if operation == "Query":
            match = _key.match(params.get("KeyConditionExpression", ""))
            values = params.get("ExpressionAttributeValues") or {}
            key = values.get(match.group(2), {}).get("S") if match else None
            return [dict(operation=operation, index=params.get("IndexName"), key=key,
                         consistent=bool(params.get("ConsistentRead")))]
        if operation == "TransactWriteItems":
            found = []
            for item in params.get("TransactItems", []):
                ((kind, request),) = item.items()
                found.append(_item(_kinds[kind], request, "Item" if kind == "Put" else "Key", transaction=True))
            return found
        if operation == "TransactGetItems":
            return [_item("GetItem", item["Get"], "Key", transaction=True, consistent=True)
                    for item in params.get("TransactItems", [])]
        if operation == "BatchWriteItem":
            count = sum(len(requests) for requests in (params.get("RequestItems") or {}).values())
            return [dict(operation=operation, index=None, key=None, items=count)]
        return [dict(operation=operation, index=params.get("IndexName"), key=None)]

    def _value_bytes(typed):
        ((kind, value),) = typed.items()
        if kind in ("S", "B"):
            return len(value.encode() if isinstance(value, str) else value)
        if kind == "N":
            return (len(value.lstrip("-").replace(".", "").strip("0") or "0") + 1) // 2 + 1
        if kind == "L":
            return 3 + sum(1 + _value_bytes(v) for v in value)
        if kind == "M":
            return 3 + sum(1 + len(k.encode()) + _value_bytes(v) for k, v in value.items())
        if kind in ("SS", "NS"):
            return sum(len(v.encode()) for v in value)
        return 1

    def _item_bytes(item):
        return sum(len(name.encode()) + _value_bytes(value) for name, value in (item or {}).items())

    def _read(operation, response):
        # what a read returned: DynamoDB bills reads by the size of what it read
        if operation == "GetItem":
            return {"items": 1 if response.get("Item") else 0, "bytes": _item_bytes(response.get("Item"))}
        if operation == "Query":
            items = response.get("Items") or []
            return {"items": response.get("ScannedCount", len(items)), "bytes": sum(map(_item_bytes, items))}
        if operation == "BatchGetItem":
            items = [i for found in (response.get("Responses") or {}).values() for i in found]
            return {"items": len(items), "bytes": sum(map(_item_bytes, items))}
        return {}

    def _patch(module):
        original = module.BaseClient._make_api_call
        path = os.path.join(os.environ["AUTOMATIONS_RECORD_AWS_CALLS"], f"{os.getpid()}.jsonl")

        def recorded(self, operation_name, api_params):
            try:
                service = self.meta.service_model.signing_name
                entries = _entries(service, operation_name, api_params)
            except Exception as error:  # never in the way of the call itself
                service, entries = None, [{"error": repr(error)}]
            response, failed = {}, None
            try:
                response = original(self, operation_name, api_params)
                return response
            except Exception as error:
                failed = ((getattr(error, "response", None) or {}).get("Error") or {}).get("Code")
                failed = failed or type(error).__name__
                raise
            finally:
                try:
                    extra = _read(operation_name, response) if service == "dynamodb" else {}
                    if operation_name == "TransactGetItems":
                        sizes = [_item_bytes(r.get("Item")) for r in response.get("Responses") or []]
                        for entry, size in zip(entries, sizes):
                            entry.update(items=1, bytes=size)
                    lines = [
                        json.dumps({"t": time.time(), "thread": threading.current_thread().name,
                                    "service": service, **extra, **entry,
                                    **({"failed": failed} if failed else {})})
                        if "error" not in entry else json.dumps(entry)
                        for entry in entries
                    ]
                except Exception as error:
                    lines = [json.dumps({"error": repr(error)})]
                with _lock, open(path, "a") as out:
                    out.write("".join(line + "\n" for line in lines))

        module.BaseClient._make_api_call = recorded

    class _PatchOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path, target=None):
            if name != "botocore.client":
                return None
            for finder in sys.meta_path:
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(name, path, target)
                    if spec is not None:
                        self.loader, spec.loader = spec.loader, self
                        return spec
            return None

        def create_module(self, spec):
            return self.loader.create_module(spec)

        def exec_module(self, module):
            self.loader.exec_module(module)
            _patch(module)

    sys.meta_path.insert(0, _PatchOnImport())
"""


def install(directory: Path) -> dict[str, str]:
    """Write the recorder into ``directory``; the variables that make a process started with them
    record its calls there (``PYTHONPATH`` with the directory first, then the current one)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(RECORDER)
    return {
        RECORD_DIR: str(directory),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(directory), os.environ.get("PYTHONPATH")])),
    }


def read(directory: Path, offsets: Mapping[str, int] | None = None) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The lines recorded in ``directory`` after ``offsets`` (per file, bytes read so far; all when
    None), parsed; and the offsets after them. A line still being written is left for next time."""
    found: list[dict[str, Any]] = []
    after = dict(offsets or {})
    for path in sorted(directory.glob("*.jsonl")):
        with path.open("rb") as recorded:
            recorded.seek(after.get(path.name, 0))
            chunk = recorded.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        found += [json.loads(line) for line in complete.splitlines()]
        after[path.name] = after.get(path.name, 0) + len(complete)
    return found, after


def function_of(entry: Mapping[str, Any], names: set[str] | frozenset[str]) -> str | None:
    """The function (logical id) whose invocation made the call; None for the stack's own machinery
    (setup, the stream poller, the scheduler, ...)."""
    match = FUNCTION_THREAD.fullmatch(str(entry.get("thread", "")))
    return match.group(1) if match and match.group(1) in names else None


def entries(directory: Path) -> Iterator[dict[str, Any]]:
    """Every line recorded in ``directory``."""
    yield from read(directory)[0]
