"""Save-time flow validation: every problem reported at once, naming the node and field."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from automations.errors import FlowValidationError
from automations.flows.definition import FlowDefinition
from automations.flows.validation import MAX_DEFINITION_BYTES, MAX_NODE_BYTES, validate_flow

# --- builders (wire names, as a client sends them) -----------------------------------


def http(node_id: str, url: str = "https://api.example.com/x", **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http_request", "url": url, **extra}


def email(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "send_email", "to": "ops@example.com", "subject": "Hi", "text": "Hello", **extra}


def set_vars(node_id: str, **values: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "set", "values": values}


def condition(node_id: str, if_: str, then: str, else_: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "condition", "if": if_, "then": then, "else": else_, **extra}


def delay(node_id: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "delay", **(extra or {"seconds": 60})}


def flow(*nodes: dict[str, Any]) -> FlowDefinition:
    return FlowDefinition.model_validate({"name": "f", "trigger": {"type": "webhook"}, "nodes": list(nodes)})


def rejected(definition: FlowDefinition) -> FlowValidationError:
    with pytest.raises(FlowValidationError) as caught:
        validate_flow(definition)
    error = caught.value
    assert error.http_status == 422
    assert error.type == "FlowValidationError"
    return error


def the_problem(definition: FlowDefinition) -> dict[str, Any]:
    """The single problem in ``definition``; the error message is built from it."""
    error = rejected(definition)
    assert len(error.details) == 1, error.details
    assert error.message == f"flow is invalid: {error.details[0]['message']}"
    return error.details[0]


def order_flow(reason: str = "{{ vars.reason | default('none') }}") -> list[dict[str, Any]]:
    """webhook -> fetch -> check -> (notify | mark) -> wait -> report."""
    return [
        http(
            "fetch",
            url="https://shop.example.com/orders/{{ trigger.body.orderId }}",
            headers={"X-Request-Id": "{{ trigger.headers.X-Request-Id | default('') }}"},
        ),
        condition("check", "steps.fetch.output.status == 200 and exists(trigger.body.email)", "notify", "mark"),
        email("notify", to="{{ trigger.body.email }}", subject="Order {{ steps.fetch.output.body.id }}", next="wait"),
        set_vars("mark", reason="fetch answered {{ steps.fetch.output.status }}"),
        delay("wait", until="{{ trigger.receivedAt | add_hours(1) }}"),
        http(
            "report",
            method="POST",
            body={
                "order": "{{ steps.fetch.output.body.id }}",
                "reason": reason,
                "emailed": "{{ steps.notify.status | default('skipped') }}",
            },
        ),
    ]


# --- valid flows ---------------------------------------------------------------------


def test_given_a_branching_flow_that_reads_only_what_has_run_when_validated_then_it_passes() -> None:
    # Given: report reads steps.fetch (on every path) and vars.reason / steps.notify (one branch, defaulted)
    definition = flow(*order_flow())

    # When / Then
    assert validate_flow(definition) is None


def test_given_a_variable_set_on_both_branches_when_read_after_they_merge_then_no_default_is_needed() -> None:
    # Given
    definition = flow(
        condition("check", "trigger.body.vip == true", "gold", "plain"),
        set_vars("gold", tier="gold", next="send"),
        set_vars("plain", tier="plain"),
        email("send", subject="Your tier: {{ vars.tier }}"),
    )

    # When / Then
    assert validate_flow(definition) is None


# --- one test per kind of problem ------------------------------------------------------


def test_given_two_nodes_with_one_id_when_validated_then_the_duplicate_is_named() -> None:
    # Given
    definition = flow(http("fetch"), http("fetch"))

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {"node": "fetch", "field": "id", "message": "duplicate node id 'fetch' (2 nodes have it)"}


@pytest.mark.parametrize(
    ("nodes", "field"),
    [
        ([http("a", next="nowhere")], "next"),
        ([condition("a", "true", "nowhere", "b"), http("b")], "then"),
        ([condition("a", "true", "b", "nowhere"), http("b")], "else"),
    ],
)
def test_given_a_reference_to_a_missing_node_when_validated_then_the_field_is_named(
    nodes: list[dict[str, Any]], field: str
) -> None:
    # Given
    definition = flow(*nodes)

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {
        "node": "a",
        "field": field,
        "message": f"node 'a': {field} 'nowhere' is not a node of this flow",
    }


def test_given_a_condition_with_next_when_validated_then_next_is_rejected() -> None:
    # Given
    definition = flow(condition("c", "true", "a", "b", next="b"), http("a"), http("b"))

    # When
    problem = the_problem(definition)

    # Then
    assert problem["node"] == "c"
    assert problem["field"] == "next"
    assert problem["message"] == "condition 'c' must not have 'next': its 'then' and 'else' decide what runs next"


@pytest.mark.parametrize(
    ("nodes", "closing", "field", "cycle"),
    [
        ([http("a"), http("b", next="a")], "b", "next", "a -> b -> a"),
        ([http("a", next="a")], "a", "next", "a -> a"),
        ([http("a", next="c"), http("b"), condition("c", "true", "b", "d"), http("d")], "b", None, "c -> b -> c"),
        ([http("a"), condition("b", "true", "a", "c"), http("c")], "b", "then", "a -> b -> a"),
    ],
)
def test_given_a_loop_when_validated_then_the_cycle_is_reported_once_in_order(
    nodes: list[dict[str, Any]], closing: str, field: str | None, cycle: str
) -> None:
    # Given
    definition = flow(*nodes)

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {"node": closing, "field": field, "message": f"nodes {cycle} form a cycle"}


def test_given_a_node_no_path_leads_to_when_validated_then_it_can_never_run() -> None:
    # Given: a skips b
    definition = flow(http("a", next="c"), http("b"), http("c"))

    # When
    problem = the_problem(definition)

    # Then
    message = "node 'b' can never run: no path leads to it from the first node 'a'"
    assert problem == {"node": "b", "field": None, "message": message}


def test_given_a_node_over_16_kib_when_validated_then_its_size_is_reported() -> None:
    # Given
    definition = flow(http("big", body={"blob": "x" * MAX_NODE_BYTES}))

    # When
    problem = the_problem(definition)

    # Then
    assert problem["node"] == "big"
    assert problem["field"] is None
    assert problem["message"].startswith("node 'big' is 16")
    assert problem["message"].endswith("bytes as JSON; a node may be at most 16384 bytes (16 KiB)")


def test_given_a_definition_over_128_kib_when_validated_then_its_size_is_reported() -> None:
    # Given: nine nodes of 15 KiB each
    definition = flow(*(http(f"n{i}", body="x" * 15_000) for i in range(9)))

    # When
    problem = the_problem(definition)

    # Then
    assert problem["node"] is None
    assert problem["field"] is None
    assert f"a flow may be at most {MAX_DEFINITION_BYTES} bytes (128 KiB)" in problem["message"]
    assert problem["message"].startswith("the flow definition is 13")


@pytest.mark.parametrize(
    ("node", "field", "reason"),
    [
        (http("a", url="https://x/{{ trigger.body.id"), "url", "unclosed '{{' at position 10"),
        (http("a", headers={"Authorization": "{{ }}"}), "headers.Authorization", "empty placeholder at position 0"),
        (http("a", body={"items": ["{{ trigger.body | nope }}"]}), "body.items[0]", "unknown filter 'nope'"),
        (email("a", to=["ops@x.io", "{{ env.TO }}"]), "to[1]", "unknown root 'env'"),
        (email("a", **{"from": "{{ trigger..x }}"}), "from", "expected a name or index after '.'"),
        (
            set_vars("a", total="{{ trigger.body.n | add_days('x') }}"),
            "values.total",
            "filter 'add_days' needs a number",
        ),
        (delay("a", until="{{ trigger.receivedAt | date('%Q') }}"), "until", "date format may only use"),
    ],
)
def test_given_a_malformed_placeholder_when_validated_then_the_syntax_error_names_the_field(
    node: dict[str, Any], field: str, reason: str
) -> None:
    # Given
    definition = flow(node)

    # When
    problem = the_problem(definition)

    # Then
    assert problem["node"] == "a"
    assert problem["field"] == field
    assert problem["message"].startswith(f"node 'a', {field}: {reason}")


@pytest.mark.parametrize(
    ("placeholder", "message"),
    [
        ("{{ trigger.data.id }}", "trigger.data is only available to event triggers; a webhook's JSON is trigger.body"),
        (
            "{{ trigger.query }}",
            "trigger.query: a webhook trigger has only trigger.body, trigger.headers, trigger.receivedAt",
        ),
        ("{{ trigger }}", "trigger: name what to read: trigger.body, trigger.headers, trigger.receivedAt"),
        (
            "{{ trigger.receivedAt.year }}",
            "trigger.receivedAt.year: trigger.receivedAt is a string; nothing is under it",
        ),
        ("{{ steps }}", "steps: name what to read: steps.<node id>.output"),
        ("{{ steps.fetsh.output }}", "steps.fetsh: there is no node 'fetsh' in this flow"),
        ("{{ steps.later.output }}", "steps.later: node 'later' does not run before 'use'"),
        ("{{ steps.use.output }}", "steps.use: node 'use' does not run before 'use'"),
        ("{{ steps.fetch.body }}", "steps.fetch.body: a step has only output, status and error"),
        ("{{ vars }}", "vars: name what to read: vars.<name>"),
        ("{{ vars.region }}", "vars.region is not set by any set node before 'use'"),
        ("{{ vars.late | default('eu') }}", "vars.late is not set by any set node before 'use'"),
    ],
)
def test_given_a_placeholder_reading_what_is_not_there_when_validated_then_it_is_rejected(
    placeholder: str, message: str
) -> None:
    # Given
    definition = flow(http("fetch"), email("use", text=f"Hello {placeholder}"), set_vars("later", late=1))

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {"node": "use", "field": "text", "message": message}


@pytest.mark.parametrize(
    "placeholder",
    [
        "{{ trigger.body }}",
        "{{ trigger.body.items[0].id }}",
        "{{ trigger.headers.X-Signature }}",
        "{{ trigger.receivedAt | date }}",
        "{{ steps.fetch }}",
        "{{ steps.fetch.output.body.items[0] }}",
        "{{ steps.fetch.status }}",
        "{{ steps.fetch.error.message | default('') }}",
        "{{ vars.region }}",
    ],
)
def test_given_a_placeholder_reading_what_has_run_when_validated_then_it_passes(placeholder: str) -> None:
    # Given
    definition = flow(http("fetch"), set_vars("setup", region="eu"), email("use", text=f"Hello {placeholder}"))

    # When / Then
    assert validate_flow(definition) is None


def test_given_the_order_flow_without_a_default_when_reading_a_one_branch_variable_then_it_is_rejected() -> None:
    # Given: vars.reason is set only on the 'mark' branch, read after the branches merge
    definition = flow(*order_flow(reason="{{ vars.reason }}"))

    # When
    problem = the_problem(definition)

    # Then
    message = "vars.reason may not be set when 'report' runs (it is set on only some paths); add | default(...)"
    assert problem == {"node": "report", "field": "body.reason", "message": message}


def test_given_a_one_branch_step_read_after_the_merge_without_a_default_then_it_is_rejected() -> None:
    # Given
    nodes = order_flow()
    nodes[-1]["body"]["emailed"] = "{{ steps.notify.status }}"
    definition = flow(*nodes)

    # When
    problem = the_problem(definition)

    # Then
    message = "steps.notify may not have run when 'report' runs (it is on only some paths); add | default(...)"
    assert problem == {"node": "report", "field": "body.emailed", "message": message}


# --- conditions ----------------------------------------------------------------------------


def test_given_a_condition_that_does_not_parse_when_validated_then_the_position_is_named() -> None:
    # Given
    definition = flow(condition("c", "trigger.body.n >", "a", "b"), http("a", next="b"), http("b"))

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {
        "node": "c",
        "field": "if",
        "message": "node 'c', if: expected a value but found end of expression at position 16",
    }


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("trigger.data.ok", "trigger.data is only available to event triggers; a webhook's JSON is trigger.body"),
        ("steps.gone.output == 1", "steps.gone: there is no node 'gone' in this flow"),
        ("exists(steps.yes2.output)", "steps.yes2: node 'yes2' does not run before 'c2'"),
        (
            "vars.tier == 'gold'",
            "vars.tier may not be set when 'c2' runs (it is set on only some paths); add | default(...)",
        ),
        ("exists(vars.nope)", "vars.nope is not set by any set node before 'c2'"),
        (
            "exists(vars.tier) or vars.tier == 'gold'",
            "vars.tier may not be set when 'c2' runs (it is set on only some paths); add | default(...)",
        ),
    ],
)
def test_given_a_condition_reading_what_may_not_be_there_when_validated_then_it_is_rejected(
    expression: str, message: str
) -> None:
    # Given: c2 runs after c1's branches merge; only 'yes' sets vars.tier
    definition = flow(
        condition("c1", "trigger.body.vip", "yes", "no"),
        set_vars("yes", tier="gold", next="c2"),
        http("no"),
        condition("c2", expression, "yes2", "end"),
        http("yes2"),
        http("end"),
    )

    # When
    problem = the_problem(definition)

    # Then
    assert problem == {"node": "c2", "field": "if", "message": message}


def test_given_a_condition_reading_a_one_branch_variable_inside_exists_when_validated_then_it_passes() -> None:
    # Given
    definition = flow(
        condition("c1", "trigger.body.vip", "yes", "no"),
        set_vars("yes", tier="gold", next="c2"),
        http("no"),
        condition("c2", "exists(vars.tier) and exists(steps.yes.output)", "end", "end"),
        http("end"),
    )

    # When / Then
    assert validate_flow(definition) is None


# --- several problems at once --------------------------------------------------------


def test_given_several_problems_when_validated_then_all_are_reported_together() -> None:
    # Given
    definition = flow(
        http("a", url="https://x/{{ steps.b.output }}"),
        http("b", next="ghost"),
        email("c", subject="{{ vars.who }}", text="{{ trigger.body"),
    )

    # When
    error = rejected(definition)

    # Then
    assert error.details == [
        {"node": "b", "field": "next", "message": "node 'b': next 'ghost' is not a node of this flow"},
        {"node": "c", "field": None, "message": "node 'c' can never run: no path leads to it from the first node 'a'"},
        {"node": "a", "field": "url", "message": "steps.b: node 'b' does not run before 'a'"},
        {"node": "c", "field": "subject", "message": "vars.who is not set by any set node before 'c'"},
        {"node": "c", "field": "text", "message": "node 'c', text: unclosed '{{' at position 0"},
    ]
    assert error.message == "flow is invalid: node 'b': next 'ghost' is not a node of this flow (and 4 more)"
    assert error.to_dict()["details"] == error.details


def test_given_a_duplicate_id_when_validated_then_only_checks_that_need_no_graph_run() -> None:
    # Given: with two nodes 'a', what runs after what is unclear
    definition = flow(http("a"), http("a"), email("c", subject="{{ trigger.nope }}", text="{{ steps.zz.output }}"))

    # When
    error = rejected(definition)

    # Then
    assert [(d["node"], d["field"]) for d in error.details] == [("a", "id"), ("c", "subject")]


def test_given_a_cycle_and_placeholders_when_validated_then_it_terminates_and_reports_the_cycle() -> None:
    # Given: a -> b -> c -> b, c reads a variable set inside the loop
    definition = flow(
        http("a"),
        set_vars("b", n="{{ vars.n | default(0) }}"),
        condition("c", "vars.n > 3", "b", "d"),
        http("d", url="https://x/{{ vars.n }}"),
    )

    # When
    error = rejected(definition)

    # Then
    assert error.details[0] == {"node": "c", "field": "then", "message": "nodes b -> c -> b form a cycle"}


def test_given_the_same_problem_twice_in_a_field_when_validated_then_it_is_reported_once() -> None:
    # Given
    definition = flow(email("a", text="{{ vars.x }} and {{ vars.x }}"))

    # When
    problem = the_problem(definition)

    # Then
    assert problem["message"] == "vars.x is not set by any set node before 'a'"


def test_given_a_valid_flow_when_validated_then_the_definition_is_not_changed() -> None:
    # Given
    definition = flow(*order_flow())
    before = copy.deepcopy(definition.model_dump())

    # When
    validate_flow(definition)

    # Then
    assert definition.model_dump() == before


def test_a_condition_cannot_continue_on_error() -> None:
    definition = FlowDefinition.model_validate(
        {
            "name": "f",
            "trigger": {"type": "webhook"},
            "nodes": [
                {"id": "c", "type": "condition", "if": "true", "then": "a", "else": "a", "onError": "continue"},
                {"id": "a", "type": "set", "values": {"x": 1}},
            ],
        }
    )
    with pytest.raises(FlowValidationError) as raised:
        validate_flow(definition)
    assert raised.value.details == [
        {
            "node": "c",
            "field": "onError",
            "message": "condition 'c' cannot use onError: continue: "
            "a failed condition chose no branch, so there is nothing to continue with",
        }
    ]
