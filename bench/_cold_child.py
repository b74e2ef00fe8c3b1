"""One cold start, in the fresh interpreter ``bench.cold_start`` spawns (run as a script, never imported).

    python bench/_cold_child.py RESULT_FILE function CODE_DIR MODULE.HANDLER EVENT_FILE LAYER_DIR FUNCTION_NAME
    python bench/_cold_child.py RESULT_FILE baseline

Writes to RESULT_FILE, as JSON: ``import_seconds`` (the handler module's import: the init phase),
``invoke_seconds`` (one invocation with the event), ``total_seconds`` (both), and the handler's
outcome (``ok``; ``error`` with Lambda's errorType and message when it raised). The baseline is
``import boto3; boto3.client("dynamodb")`` timed the same way. Nothing of the bench itself is
imported here, so the interpreter holds only what the function imports.
"""

import sys
import time

_started = time.perf_counter()  # after the interpreter's own start-up, the same for every run


def _baseline() -> dict:
    import boto3

    boto3.client("dynamodb")
    total = time.perf_counter() - _started
    return {"import_seconds": total, "invoke_seconds": 0.0, "total_seconds": total, "ok": True}


def _function(code_dir: str, handler: str, event_file: str, layer_dir: str, name: str) -> dict:
    import importlib
    import json

    # as on Lambda: the function's code first, then the layer (/opt/python)
    sys.path[:0] = [code_dir, layer_dir]
    with open(event_file, encoding="utf-8") as source:
        event = json.load(source)

    class Context:  # the attributes handlers and Powertools read from Lambda's context object
        function_name = name
        function_version = "$LATEST"
        invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        memory_limit_in_mb = 512
        aws_request_id = "00000000-0000-4000-8000-000000000000"
        log_group_name = f"/aws/lambda/{name}"
        log_stream_name = "bench"

        @staticmethod
        def get_remaining_time_in_millis() -> int:
            return 30_000

    module_name, _, function_name = handler.rpartition(".")
    before_import = time.perf_counter()
    module = importlib.import_module(module_name)
    handle = getattr(module, function_name)
    imported = time.perf_counter()
    outcome: dict = {"ok": True}
    try:
        handle(event, Context())
    except Exception as error:  # Lambda's error payload: the run still measures a whole invocation
        outcome = {"ok": False, "error": {"errorType": type(error).__name__, "errorMessage": str(error)[:300]}}
    done = time.perf_counter()
    return {
        "import_seconds": imported - before_import,
        "invoke_seconds": done - imported,
        "total_seconds": done - before_import,
        **outcome,
    }


def main(argv: list) -> None:
    result_file, kind, *rest = argv
    result = _baseline() if kind == "baseline" else _function(*rest)
    import json

    result["modules"] = len(sys.modules)
    with open(result_file, "w", encoding="utf-8") as sink:
        json.dump(result, sink)


if __name__ == "__main__":
    main(sys.argv[1:])
