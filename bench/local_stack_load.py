"""Load on the local stack: signed webhooks from concurrent clients, timed until every run ends.

    python -m bench.local_stack_load [--runs 300] [--clients 50] [--nodes 1] [--url URL --key KEY]

Without ``--url`` it starts a local stack of this checkout on free loopback ports (and stops it
after). Flows call a loopback target in this process. It prints, as JSON: runs/s (runs recorded
/ seconds from the first webhook to the last run's end), p50/p95/max seconds from a run's
``createdAt`` to its ``endedAt`` (both the engine's clocks), runs not completed, 5xx answers and
connection errors (resets). Traffic goes to this machine's loopback only.
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


def fire(
    url: str, flow: dict[str, Any], count: int, clients: int
) -> tuple[list[str], int, int, dict[str, int], float]:
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


def wait_until_ended(url: str, key: str, run_ids: list[str], timeout: float) -> dict[str, dict[str, Any]]:
    ended: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    session = requests.Session()
    while len(ended) < len(run_ids) and time.monotonic() < deadline:
        for run_id in [r for r in run_ids if r not in ended]:
            run = session.get(f"{url}/runs/{run_id}", headers={"Authorization": f"Bearer {key}"}, timeout=30).json()
            if run.get("status") in TERMINAL:
                ended[run_id] = run
        time.sleep(0.5)
    return ended


def measure(url: str, key: str, runs: int, clients: int, nodes: int, timeout: float) -> dict[str, Any]:
    target = start_target()
    flow = create_flow(url, key, f"http://127.0.0.1:{target.server_address[1]}/sink", nodes)
    run_ids, five_xx, connection_errors, refused, started = fire(url, flow, runs, clients)
    ended = wait_until_ended(url, key, run_ids, timeout)
    wall = time.monotonic() - started
    latencies = sorted(
        (clock.parse_iso(r["endedAt"]) - clock.parse_iso(r["createdAt"])).total_seconds()
        for r in ended.values()
        if r.get("endedAt")
    )
    completed = sum(1 for r in ended.values() if r["status"] == "completed")
    target.shutdown()
    return {
        "runs": runs,
        "clients": clients,
        "nodes": nodes,
        "recorded": len(run_ids),
        "completed": completed,
        "not_completed": len(run_ids) - completed,
        "runs_per_second": round(completed / wall, 2),
        "p50_seconds": round(statistics.median(latencies), 2) if latencies else None,
        "p95_seconds": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        "max_seconds": round(latencies[-1], 2) if latencies else None,
        "http_5xx": five_xx,
        "refused_4xx": refused,
        "connection_errors": connection_errors,
        "wall_seconds": round(wall, 1),
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
