"""Derives what must not drift by hand from the Standard interpreter's ASL, the one kept by hand.

- In ``flow_interpreter.asl.json`` (Standard): each node Task state's twin ``<Task>AfterHandOff``,
  the same Task with the retriers that continue the schedule after Express's one attempt
  (``errors.CONTINUED_RETRIERS``), and ``NextNode``'s routes to them.
- ``flow_interpreter_express.asl.json`` (Express): the same interpreter without Wait states. Node
  tasks retry only what fits in Express's 5 minutes (``errors.EXPRESS_RETRIERS``): a retryable
  failure beyond that, a short Retry-After, a node that waits (a delay) and a spent time budget
  all go to ``HandOff``, which passes the run to a Standard execution.

``python -m statemachine.generate`` rewrites both; ``tests/statemachine/test_asl.py`` fails when
the files are not what this makes of the Standard one.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from automations import errors
from automations.domain.interpreter import HAND_OFF_TASK, continued_task

HERE = Path(__file__).resolve().parent

STANDARD = HERE / "flow_interpreter.asl.json"
EXPRESS = HERE / "flow_interpreter_express.asl.json"

# Standard's states that only wait, or only follow a wait: Express hands off instead.
WAITING_STATES = ("RateLimitWait", "RetryBackoff", "RunSameNodeAgain", "WaitUntil", "WakeUp")


def node_tasks(asl: dict[str, Any]) -> list[str]:
    """Task states that run a node (their Payload carries the node id and no lifecycle action)."""
    return [
        name
        for name, state in asl["States"].items()
        if state["Type"] == "Task"
        and "nodeId.$" in state["Parameters"]["Payload"]
        and "action" not in state["Parameters"]["Payload"]
    ]


def _route(task: str) -> dict[str, Any]:
    return {"Variable": "$.node.task", "StringEquals": task, "Next": task}


def standard(source: dict[str, Any]) -> dict[str, Any]:
    """The Standard ASL with its ``AfterHandOff`` twins made from their node tasks."""
    asl = copy.deepcopy(source)
    states: dict[str, Any] = asl["States"]
    tasks = [name for name in node_tasks(asl) if not name.endswith(continued_task(""))]
    for name in [n for n in states if n.endswith(continued_task(""))]:
        del states[name]
    choices = states["NextNode"]["Choices"]
    choices[:] = [c for c in choices if not c.get("StringEquals", "").endswith(continued_task(""))]
    rebuilt: dict[str, Any] = {}
    for name, state in states.items():
        rebuilt[name] = state
        if name in tasks:
            twin = copy.deepcopy(state)
            twin["Comment"] = (
                f"{name} for a node an Express execution handed off after a retryable failure: its "
                "retriers go on with the schedule where Express's attempts left it"
            )
            twin["Retry"] = [profile.to_asl() for profile in errors.CONTINUED_RETRIERS]
            rebuilt[continued_task(name)] = twin
    asl["States"] = rebuilt
    end = next(i for i, c in enumerate(choices) if c.get("StringEquals") == "EndRun")
    choices[end:end] = [_route(continued_task(name)) for name in tasks]
    return asl


def express(source: dict[str, Any]) -> dict[str, Any]:
    """The Express ASL: Standard's interpreter, handing off wherever Standard would wait."""
    asl = copy.deepcopy(source)
    asl["Comment"] = (
        "Generic flow interpreter, Express (made by statemachine/generate.py from the Standard one): "
        "runs a run's nodes while they need no waiting; hands off to the Standard machine before a "
        "node that waits, at a retryable failure or a short Retry-After, or when its time runs short."
    )
    states: dict[str, Any] = asl["States"]
    tasks = [name for name in node_tasks(asl) if not name.endswith(continued_task(""))]
    for name in [*WAITING_STATES, *(continued_task(t) for t in tasks)]:
        states.pop(name, None)
    choices = []
    for choice in states["NextNode"]["Choices"]:
        if choice.get("StringEquals", "").endswith(continued_task("")):
            continue
        if choice["Next"] in WAITING_STATES:
            choice = {**choice, "Next": HAND_OFF_TASK}
        choices.append(choice)
    choices.append(_route(HAND_OFF_TASK))
    states["NextNode"]["Choices"] = choices
    for name in tasks:
        states[name]["Retry"] = [profile.to_asl() for profile in errors.EXPRESS_RETRIERS]
        states[name]["Catch"] = errors.express_node_catchers(HAND_OFF_TASK, "StepFailed", "RecordEngineError")
    states[HAND_OFF_TASK] = {
        "Comment": "the run goes on as an execution of the Standard machine, at this node; this one ends",
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {
            "FunctionName": "${RunLifecycleFunctionArn}",
            "Payload": {
                "action": "hand_off",
                "runId.$": "$.runId",
                "executionName.$": "$$.Execution.Name",
                "executionArn.$": "$$.Execution.Id",
                "state.$": "$",
            },
        },
        "OutputPath": "$.Payload",
        "Retry": [errors.BOOKKEEPING.to_asl()],
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordEngineError"}],
        "End": True,
    }
    return asl


def render(asl: dict[str, Any]) -> str:
    return json.dumps(asl, indent=2) + "\n"


def generated() -> dict[Path, str]:
    made = standard(json.loads(STANDARD.read_text()))
    return {STANDARD: render(made), EXPRESS: render(express(made))}


if __name__ == "__main__":
    for path, text in generated().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(HERE.parent)}")
