"""The API under a fuzzer: schemathesis reads the local stack's /openapi.json and sends at least
1,000 generated requests (valid and invalid, every phase: examples, coverage, fuzzing, stateful
sequences linked by Location headers) with the API key configured.

The run fails on any 5xx, any answer the document does not describe (status, content type,
headers, body), a method a route lacks not answered 405, or a request the schema forbids that is
accepted. Its own stack: the fuzzer's flows, keys and runs stay out of the other tests' way. The
stack runs offline (loopback only, no name looked up), so whatever URLs a generated flow holds,
nothing leaves the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.stack_client import StackClient, running_local_stack

pytestmark = pytest.mark.e2e

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("st")
MIN_REQUESTS = 1000
SEED = 20261125  # reproducible: `st run ... --seed 20261125` replays the same cases


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[StackClient]:
    with running_local_stack() as stack:
        yield stack


@pytest.mark.timeout(900)
def test_a_fuzzer_finds_no_server_error_and_no_answer_the_document_does_not_describe(
    fuzz_stack: StackClient, tmp_path: Path
) -> None:
    # Given the local stack's OpenAPI document and an API key of its account
    har = tmp_path / "requests.har"
    command = [
        *(str(SCHEMATHESIS), "--no-color", "--config-file", str(CONFIG), "run", f"{fuzz_stack.url}/openapi.json"),
        *("--header", f"Authorization: Bearer {fuzz_stack.api_key}"),
        *("--max-examples", "25", "--seed", str(SEED), "--workers", "1"),
        *("--report", "har", "--report-har-path", str(har)),
    ]
    # When schemathesis runs every phase against it
    # (in its own directory: schemathesis keeps a cache of what it found where it runs)
    run = subprocess.run(command, capture_output=True, text=True, timeout=840, check=False, cwd=tmp_path)
    # Then no check failed
    assert run.returncode == 0, f"schemathesis found failures:\n{run.stdout[-20000:]}\n{run.stderr[-5000:]}"
    # ... after at least 1,000 requests, none answered 5xx
    entries = json.loads(har.read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    print(f"{len(entries)} requests; statuses: {dict(sorted(statuses.items()))}")
    assert len(entries) >= MIN_REQUESTS, statuses
    assert not [status for status in statuses if status >= 500], statuses
    # ... and they reached the engine, not just its guards: flows were created and read back
    assert statuses[201] > 0 and statuses[200] > 0, statuses
