"""Load on the local stack: signed webhooks from concurrent clients, timed until every run ends.

    python -m bench.local_stack_load [--runs 300] [--clients 50] [--nodes 1] [--url URL --key KEY]

Without ``--url`` it starts a local stack of this checkout on free loopback ports (and stops it
after). Flows call a loopback target in this process. It prints, as JSON: runs/s (runs completed
/ seconds from the first run's ``createdAt`` to the last one's ``endedAt``; and per second of the
whole measurement, polling included), p50/p95/max seconds from a run's
``createdAt`` to its ``endedAt`` (both the engine's clocks), runs not completed, 5xx answers,
other refusals by status, connection errors (resets), and webhooks answered per second. Traffic
goes to this machine's loopback only.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from automations.domain import clock, signing

TERMINAL = {"completed", "failed", "cancelled"}


class _Target(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def start_target() -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    server.request_queue_size = 128
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def create_flow(url: str, key: str, target: str, nodes: int) -> dict[str, Any]:
    body = {
        "name": f"load: {nodes} http_request node(s)",
        "trigger": {"type": "webhook"},
        "nodes": [
            {"id": f"call{i}", "type": "http_request", "method": "POST", "url": target, "body": {"i": i}}
            for i in range(nodes)
        ],
    }
    response = requests.post(f"{url}/flows", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=30)
    response.raise_for_status()
    return response.json()


def fire(url: str, flow: dict[str, Any], count: int, clients: int) -> tuple[list[str], int, int, dict[str, int], float]:
    """Send ``count`` signed webhooks from ``clients`` threads: (run ids, 5xx, connection errors,
    other refusals by status, start time)."""
    run_ids: list[str] = []
    errors = {"5xx": 0, "connection": 0}
    refused: dict[str, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        raw = json.dumps({"n": i}).encode()
        signature = signing.sign(flow["webhookSecret"], raw, int(time.time()))
        headers = {"Content-Type": "application/json", "X-Signature": signature}
        try:
            response = session.post(f"{url}/hooks/{flow['flowId']}", data=raw, headers=headers, timeout=120)
        except requests.ConnectionError:
            with lock:
                errors["connection"] += 1
            return
        with lock:
            if response.status_code >= 500:
                errors["5xx"] += 1
            elif response.status_code == 202:
                run_ids.extend(response.json()["runIds"])
            else:  # a refusal is a result too: never dropped from the figures
                refused[str(response.status_code)] = refused.get(str(response.status_code), 0) + 1

    started = time.monotonic()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(count)))
    return run_ids, errors["5xx"], errors["connection"], refused, started


def wait_until_ended(url: str, key: str, flow_id: str, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    """Poll the flow's run history (a page of 100 runs per request, so that polling adds little
    to the API's load) until every run in ``run_ids`` has ended; the runs as listed."""
    ended: dict[str, dict[str, Any]] = {}
    wanted = set(run_ids)
    deadline = time.monotonic() + timeout
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {key}"
    while len(ended) < len(wanted) and time.monotonic() < deadline:
        cursor = None
        while True:
            params = {"limit": "100", **({"cursor": cursor} if cursor else {})}
            page = session.get(f"{url}/flows/{flow_id}/runs", params=params, timeout=30).json()
            ended.update({r["runId"]: r for r in page["items"] if r["runId"] in wanted and r["status"] in TERMINAL})
            cursor = page.get("nextCursor")
            if not cursor:
                break
        if len(ended) < len(wanted):
            time.sleep(0.2)
    return ended


def measure(url: str, key: str, runs: int, clients: int, nodes: int, timeout: float) -> dict[str, Any]:
    target = start_target()
    flow = create_flow(url, key, f"http://127.0.0.1:{target.server_address[1]}/sink", nodes)
    run_ids, five_xx, connection_errors, refused, started = fire(url, flow, runs, clients)
    intake = time.monotonic() - started  # every webhook answered
    ended = wait_until_ended(url, key, flow["flowId"], run_ids, timeout)
    wall = time.monotonic() - started
    latencies = sorted(
        (clock.parse_iso(r["endedAt"]) - clock.parse_iso(r["createdAt"])).total_seconds()
        for r in ended.values()
        if r.get("endedAt")
    )
    completed = sum(1 for r in ended.values() if r["status"] == "completed")
    # throughput on the engine's clocks, first run recorded to last run ended; the wall clock's adds
    # the polling's last interval and request
    span = [
        (clock.parse_iso(r["createdAt"]), clock.parse_iso(r["endedAt"])) for r in ended.values() if r.get("endedAt")
    ]
    engine_seconds = (max(e for _, e in span) - min(c for c, _ in span)).total_seconds() if span else None
    target.shutdown()
    return {
        "runs": runs,
        "clients": clients,
        "nodes": nodes,
        "recorded": len(run_ids),
        "completed": completed,
        "not_completed": len(run_ids) - completed,
        "runs_per_second": round(completed / engine_seconds, 2) if engine_seconds else None,
        "runs_per_wall_second": round(completed / wall, 2),  # polling included
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "max_seconds": round(latencies[-1], 2) if latencies else None,
        "http_5xx": five_xx,
        "refused_4xx": refused,
        "connection_errors": connection_errors,
        "wall_seconds": round(wall, 1),
        "intake_per_second": round(runs / intake, 2),  # webhooks answered per second (the API alone)
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.local_stack_load", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the runs to end")
    parser.add_argument("--url", help="a running local stack (default: start one)")
    parser.add_argument("--key", help="its API key (with --url)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        url, key = args.url, args.key
        if url is None:
            from tests.support.stack_client import running_local_stack

            client = stack.enter_context(running_local_stack())
            url, key = client.url, client.api_key
        print(json.dumps(measure(url, key, args.runs, args.clients, args.nodes, args.timeout)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
