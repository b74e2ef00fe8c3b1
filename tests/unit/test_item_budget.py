"""Recorded values fit a step or attempt item under DynamoDB's 400 KB, cuts are marked, and a cut
output is never read as if it were whole (domain.item_budget)."""

from __future__ import annotations

import copy
import random
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeSerializer

from automations.domain import item_budget
from automations.domain.expressions import evaluate
from automations.domain.item_budget import RECORDED_BUDGET_BYTES, fit, item_size, marker, unreadable
from automations.domain.runs import ErrorInfo
from automations.domain.templating import render
from automations.errors import NODE_ERRORS, OutputTruncated, PermanentError
from tests.support.dynamodb_size import item_bytes

BIG = "x" * 250_000


def _stored(item: dict[str, Any]) -> dict[str, Any]:
    serializer = TypeSerializer()
    return {name: serializer.serialize(value) for name, value in item.items()}


def test_given_values_of_every_kind_when_sized_then_at_least_what_dynamodb_counts() -> None:
    item = {
        "pk": "RUN#r1",
        "text": "héllo ✓ 𝄞",  # 1-, 2-, 3- and 4-byte characters
        "nested": {"list": ["a", {"b": None, "c": True}], "empty": {}, "key ✓": "v"},
        "flag": False,
    }
    # strings, maps, lists, booleans and null are counted exactly as the documented rules say
    assert item_size(item) == item_bytes(_stored(item))
    numbers = {"n": 12345, "f": 1.5, "neg": -7, "zero": 0}
    assert item_size(numbers) >= item_bytes(_stored({k: Decimal(str(v)) for k, v in numbers.items()}))


def test_given_values_within_the_budget_when_fitted_then_nothing_changes() -> None:
    fields = {"input": {"url": "https://example.com", "body": {"a": 1}}, "output": {"status": 200}}
    fitted = fit(fields)
    assert fitted.values == fields and fitted.truncated == []


def test_given_a_copied_field_in_input_and_output_when_fitted_then_only_the_input_copy_is_cut() -> None:
    # Given a set node's record: its resolved values (input) and the same values as output
    fields = {"input": {"values": {"big": BIG, "note": "kept"}}, "output": {"big": BIG, "note": "kept"}}
    original = copy.deepcopy(fields)
    # When fitted to the budget
    fitted = fit(fields)
    # Then the input's big value is replaced by a marker, the output (what later nodes read) is whole
    assert fitted.truncated == ["/input/values/big"]
    assert fitted.values["input"]["values"] == {
        "big": {"truncated": True, "bytes": 250_000, "preview": "x" * item_budget.PREVIEW_CHARS},
        "note": "kept",
    }
    assert fitted.values["output"] == original["output"]
    assert item_size(fitted.values) <= RECORDED_BUDGET_BYTES
    assert fields == original  # what was given is not changed


def test_given_an_output_over_the_budget_alone_when_fitted_then_the_input_then_its_largest_part_is_cut() -> None:
    fields = {"input": {"values": {"a": "{{ x }}"}}, "output": {"a": "a" * 200_000, "b": "b" * 180_000, "c": "c"}}
    fitted = fit(fields)
    assert fitted.truncated == ["/output/a"]
    assert fitted.values["output"]["b"] == "b" * 180_000 and fitted.values["output"]["c"] == "c"
    assert item_size(fitted.values) <= RECORDED_BUDGET_BYTES


def test_given_many_parts_none_large_enough_alone_when_fitted_then_the_largest_few_are_cut_whole() -> None:
    output = {f"k{i}": str(i) * 60_000 for i in range(8)}  # 480 KB in eight parts
    fitted = fit({"output": output})
    assert 1 < len(fitted.truncated) <= 4 and all(p.startswith("/output/k") for p in fitted.truncated)
    assert item_size(fitted.values) <= RECORDED_BUDGET_BYTES


def test_given_a_list_of_thousands_of_small_items_when_fitted_then_the_list_is_cut_whole() -> None:
    fitted = fit({"input": {"url": "u", "body": ["y" * 500 for _ in range(1_000)]}})
    assert fitted.truncated == ["/input/body"]
    cut = fitted.values["input"]["body"]
    assert cut["truncated"] is True and cut["preview"].startswith('["yyy') and fitted.values["input"]["url"] == "u"


def test_given_more_parts_to_cut_than_marks_allow_when_fitted_then_the_value_is_cut_whole() -> None:
    output = {f"k{i}": str(i % 10) * 2_000 for i in range(400)}  # 800 KB in 400 parts of 2 KB
    fitted = fit({"output": output})
    assert fitted.truncated == ["/output"]


def test_given_keys_with_slashes_and_tildes_when_cut_then_the_pointer_escapes_them_and_reads_back() -> None:
    output = {"a/b~c": BIG * 2}
    fitted = fit({"output": output})
    assert fitted.truncated == ["/output/a~1b~0c"]
    readable = unreadable(fitted.values["output"], fitted.truncated, root="/output", node_id="copy")
    assert isinstance(readable["a/b~c"], item_budget.Truncated)


def test_given_an_http_exchange_when_fitted_with_a_prefix_then_pointers_name_the_attempt_attribute() -> None:
    fitted = fit({"request": {"url": "u", "headers": {"X-Big": BIG}, "body": BIG}, "response": None}, prefix="/http")
    assert fitted.truncated == ["/http/request/headers/X-Big"]  # the larger of the two (with its map)
    assert fitted.values["request"]["body"] == BIG and fitted.values["response"] is None
    assert item_size(fitted.values) <= RECORDED_BUDGET_BYTES


@pytest.mark.parametrize("seed", range(20))
def test_given_any_json_values_when_fitted_then_they_take_at_most_the_budget(seed: int) -> None:
    rng = random.Random(seed)

    def value(depth: int) -> Any:
        kind = rng.choice(["str", "num", "list", "map"] if depth < 4 else ["str", "num"])
        if kind == "str":
            return rng.choice(["é", "a", "✓"]) * rng.choice([1, 100, 5_000, 60_000, 200_000])
        if kind == "num":
            return rng.choice([1, -2.5, 10**30, True, None])
        if kind == "list":
            return [value(depth + 1) for _ in range(rng.randint(0, 12))]
        return {f"k{i}": value(depth + 1) for i in range(rng.randint(0, 12))}

    fields = {"input": value(0), "output": value(0)}
    fitted = fit(fields)
    assert item_size(fitted.values) <= RECORDED_BUDGET_BYTES
    assert len(fitted.truncated) <= 2 * item_budget.MAX_MARKS + 2
    assert (fitted.truncated == []) == (item_size(fields) <= RECORDED_BUDGET_BYTES)


def test_a_marker_is_never_larger_than_its_bound() -> None:
    assert item_budget.value_size(marker("✓" * 10_000)) <= item_budget.MARKER_MAX_BYTES
    assert item_budget.value_size(marker({"k": ["𝄞" * 10_000]})) <= item_budget.MARKER_MAX_BYTES


def test_given_a_long_error_message_when_recorded_then_it_is_capped_and_says_so() -> None:
    error = ErrorInfo(type="ConfigurationError", message="✓" * 5_000)
    assert len(error.message.encode()) <= item_budget.MAX_MESSAGE_BYTES
    assert error.message.endswith("... [truncated]")
    assert ErrorInfo(type="X", message="short").message == "short"


# --- reading a cut output --------------------------------------------------------------------


def _context_with_cut_output() -> dict[str, Any]:
    recorded = fit({"output": {"big": BIG * 2, "note": "kept"}})
    output = unreadable(recorded.values["output"], recorded.truncated, root="/output", node_id="copy")
    return {"trigger": {"body": {}}, "steps": {"copy": {"status": "completed", "output": output}}, "vars": output}


@pytest.mark.parametrize(
    "template",
    ["{{ steps.copy.output.big }}", "{{ vars.big }}", "{{ vars.big | default('x') }}", "{{ steps.copy.output }}"],
)
def test_given_a_cut_output_when_a_placeholder_reads_it_then_output_truncated(template: str) -> None:
    with pytest.raises(OutputTruncated) as raised:
        render({"v": template}, _context_with_cut_output())
    assert "step 'copy'" in raised.value.message and "/output/big" in raised.value.message
    assert "500,000 bytes" in raised.value.message


def test_given_a_cut_output_when_a_placeholder_reads_past_it_then_output_truncated() -> None:
    with pytest.raises(OutputTruncated):
        render("{{ steps.copy.output.big.preview }}", _context_with_cut_output())


def test_given_a_cut_output_when_a_sibling_is_read_then_it_reads_as_usual() -> None:
    assert render("{{ vars.note }} / {{ steps.copy.status }}", _context_with_cut_output()) == "kept / completed"


def test_given_a_cut_output_when_an_expression_reads_it_then_output_truncated() -> None:
    with pytest.raises(OutputTruncated):
        evaluate("vars.big == 'x'", _context_with_cut_output())
    assert evaluate("exists(vars.big)", _context_with_cut_output())  # it is there, only not readable
    assert evaluate("vars.note == 'kept'", _context_with_cut_output())


def test_given_an_output_that_only_looks_like_a_marker_when_read_then_it_is_data() -> None:
    looks_cut = {"truncated": True, "bytes": 3, "preview": "abc"}
    output = unreadable(looks_cut, [], root="/output", node_id="copy")
    assert render("{{ steps.copy.output.preview }}", {"steps": {"copy": {"output": output}}}) == "abc"


def test_output_truncated_is_a_permanent_node_error_the_state_machine_catches() -> None:
    assert issubclass(OutputTruncated, PermanentError) and not OutputTruncated.retryable
    assert OutputTruncated in NODE_ERRORS
