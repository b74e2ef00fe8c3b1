"""Condition expressions: grammar, precedence, strict types, safety, save-time paths."""

from __future__ import annotations

import re
from typing import Any

import pytest

from automations.domain.expressions import ExpressionSyntaxError, evaluate, parse
from automations.errors import ConfigurationError, MissingVariable


@pytest.fixture
def context() -> dict[str, Any]:
    return {
        "trigger": {
            "body": {
                "plan": "pro",
                "vip": False,
                "email": None,
                "name": "Ada",
                "tags": ["new", "beta"],
                "items": [{"id": 7}, {"id": 8}],
                "address": {"city": "London"},
                "score": 2.5,
            }
        },
        "steps": {"fetch": {"output": {"status": 200, "body": {"ok": True}}}},
        "vars": {"total": 150, "zero": 0, "empty": ""},
    }


@pytest.mark.parametrize(
    "source",
    [
        "steps.fetch.output.status == 200 and trigger.body.plan in ['pro', 'team']",
        "not exists(trigger.body.phone)",
        "vars.total >= 100 or trigger.body.vip == true",
        "exists(trigger.body.email)",  # present, although null
        "trigger.body.email == null",
        "trigger.body.items[1].id == 8",
        "trigger.body.items.0.id == 7",
        "trigger.body.address.city == 'London'",
        "steps.fetch.output.body.ok",
        "vars.total>=100",
        "(((true)))",
    ],
)
def test_given_true_conditions_when_evaluated_then_true(context: dict[str, Any], source: str) -> None:
    assert evaluate(source, context) is True


# --- operators -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 == 1", True),
        ("1 == 1.0", True),  # numbers compare numerically
        ("1 == true", False),  # different types are never equal
        ("0 == false", False),
        ("'1' == 1", False),
        ("null == false", False),
        ("null == null", True),
        ("[1, [2, 'x']] == [1.0, [2, 'x']]", True),
        ("[1, 2] == [2, 1]", False),
        ("trigger.body.tags == ['new', 'beta']", True),
        ("1 != 2", True),
        ("'a' != 'a'", False),
        ("1 != true", True),
        ("2 < 3", True),
        ("3 <= 3", True),
        ("trigger.body.score > 2", True),
        ("2 >= 2.5", False),
        ("'apple' < 'banana'", True),
        ("'b' >= 'a'", True),
        ("-1 < 0", True),
        ("1e3 == 1000", True),
    ],
)
def test_given_comparisons_when_evaluated_then_each_operator_applies(
    context: dict[str, Any], source: str, expected: bool
) -> None:
    assert evaluate(source, context) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("trigger.body.plan in ['pro', 'team']", True),
        ("trigger.body.plan in ['free']", False),
        ("trigger.body.plan not in ['free']", True),
        ("'beta' in trigger.body.tags", True),
        ("'gamma' not in trigger.body.tags", True),
        ("2 in [1.0, 2.0]", True),
        ("true in [1, 0]", False),  # membership is type-strict like ==
        ("'ro' in trigger.body.plan", True),  # substring
        ("'x' not in 'abc'", True),
        ("'' in 'abc'", True),
        ("[] in [[], 1]", True),
        ("trigger.body.plan in [vars.empty, 'pro']", True),
    ],
)
def test_given_membership_when_evaluated_then_list_membership_or_substring(
    context: dict[str, Any], source: str, expected: bool
) -> None:
    assert evaluate(source, context) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("true or false and false", True),  # and binds tighter than or
        ("(true or false) and false", False),
        ("not false and false", False),  # not binds tighter than and
        ("not (false and false)", True),
        ("not 1 == 2", True),  # comparison binds tighter than not
        ("not not true", True),
        ("false or false or true", True),
        ("true and true and false", False),
        ("1 == 1 and 2 == 2 or 3 == 4", True),
    ],
)
def test_given_mixed_operators_when_evaluated_then_precedence_is_or_and_not_comparison(
    source: str, expected: bool
) -> None:
    assert evaluate(source, {}) is expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("vars.zero", False),
        ("vars.empty", False),
        ("trigger.body.email", False),
        ("trigger.body.tags", True),
        ("not trigger.body.address", False),
        ("vars.total and trigger.body.name", True),
    ],
)
def test_given_non_boolean_operands_when_evaluated_then_json_truthiness_applies(
    context: dict[str, Any], source: str, expected: bool
) -> None:
    assert evaluate(source, context) is expected


# --- exists and missing paths ----------------------------------------------------------


def test_given_exists_when_paths_are_missing_then_it_is_false_and_never_raises(
    context: dict[str, Any],
) -> None:
    assert evaluate("exists(trigger.body.phone)", context) is False
    assert evaluate("exists(trigger.body.items[5].id)", context) is False
    assert evaluate("exists(trigger.body.name.first)", context) is False
    assert evaluate("exists(steps.later.output)", context) is False
    assert evaluate("exists(trigger.body.items[0].id)", context) is True


def test_given_exists_guards_a_path_when_it_is_missing_then_and_short_circuits(
    context: dict[str, Any],
) -> None:
    assert evaluate("exists(trigger.body.phone) and trigger.body.phone == '1'", context) is False
    assert evaluate("not exists(trigger.body.phone) or trigger.body.phone == '1'", context) is True


@pytest.mark.parametrize(
    ("source", "path"),
    [
        ("trigger.body.phone == '1'", "trigger.body.phone"),
        ("trigger.body.items[9].id == 1", "trigger.body.items[9].id"),
        ("1 in [2, vars.missing]", "vars.missing"),
        ("trigger.__class__ == 1", "trigger.__class__"),
        ("trigger.body.name.__class__.__bases__ == 1", "trigger.body.name.__class__.__bases__"),
    ],
)
def test_given_a_missing_path_when_evaluated_then_missing_variable_names_it(
    context: dict[str, Any], source: str, path: str
) -> None:
    with pytest.raises(MissingVariable) as caught:
        evaluate(source, context)
    assert caught.value.path == path
    assert path in str(caught.value)


# --- type-strict errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("'a' < 3", "compare only numbers with numbers or strings with strings"),
        ("trigger.body.email > 1", "null > 1"),
        ("true >= false", "true >= false"),
        ("[1] < [2]", "[1] < [2]"),
        ("trigger.body.name <= 3", '"Ada" <= 3'),
        ("1 in 2", "'in' needs a list, or strings on both sides"),
        ("1 in 'abc'", '1 in "abc"'),
        ("'a' not in trigger.body.address", "not in"),
    ],
)
def test_given_incompatible_types_when_ordered_or_tested_then_configuration_error(
    context: dict[str, Any], source: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        evaluate(source, context)
    assert fragment in str(caught.value)
    assert "at position" in str(caught.value)


# --- syntax errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message", "position"),
    [
        ("", "empty expression at position 0", 0),
        ("   ", "empty expression at position 0", 0),
        ("plan == 'pro'", "unknown name 'plan' at position 0", 0),
        ("True", "unknown name 'True' at position 0", 0),
        ("1 == 1 && 2 == 2", "unexpected character '&' at position 7", 7),
        ("vars.a = 1", "unexpected character '=' at position 7", 7),
        ("1 < 2 < 3", "expected end of expression but found '<' at position 6", 6),
        ("(1 == 1", "expected ')' but found end of expression at position 7", 7),
        ("1 == 1)", "expected end of expression but found ')' at position 6", 6),
        ("1 ==", "expected a value but found end of expression at position 4", 4),
        ("and true", "expected a value but found 'and' at position 0", 0),
        ("not", "expected a value but found end of expression at position 3", 3),
        ("[1, 2", "expected ',' or ']' but found end of expression at position 5", 5),
        ("[1 2]", "expected ',' or ']' but found literal 2 at position 3", 3),
        ("exists(1)", "expected a path but found literal 1 at position 7", 7),
        ("exists trigger.a", "expected '(' but found a path at position 7", 7),
        ("'abc == 1", "unterminated string starting at position 0", 0),
        ("trigger. == 1", "expected a name or index after '.' at position 7", 7),
        ("trigger.a[x] == 1", "expected '[<number>]' at position 9", 9),
        ("true false", "expected end of expression but found literal false at position 5", 5),
    ],
)
def test_given_malformed_source_when_parsed_then_syntax_error_says_what_and_where(
    source: str, message: str, position: int
) -> None:
    with pytest.raises(ExpressionSyntaxError, match=re.escape(message)) as caught:
        parse(source)
    assert caught.value.position == position
    assert isinstance(caught.value, ValueError)


def test_given_deep_nesting_when_parsed_then_a_syntax_error_instead_of_a_crash() -> None:
    assert evaluate("(" * 32 + "true" + ")" * 32, {}) is True
    with pytest.raises(ExpressionSyntaxError, match="nesting deeper than 32 levels at position 32"):
        parse("(" * 33 + "true" + ")" * 33)
    with pytest.raises(ExpressionSyntaxError, match="nesting deeper than 32"):
        parse("not " * 40 + "true")
    with pytest.raises(ExpressionSyntaxError, match="nesting deeper than 32"):
        parse("[" * 40 + "]" * 40)


def test_given_a_very_long_or_chain_when_evaluated_then_it_does_not_recurse() -> None:
    source = " or ".join(["vars.a == 1"] * 3000 + ["vars.a == 2"])
    assert evaluate(source, {"vars": {"a": 2}}) is True


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('true')",
        "exec('1')",
        "os.system('ls')",
        "trigger.body.name.upper()",
        "lambda: 1",
        "[x for x in trigger.body.tags]",
        "trigger.body.tags[0:1] == []",
        "1 + 1 == 2",
    ],
)
def test_given_python_code_when_parsed_then_it_is_rejected_and_never_executed(source: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        parse(source)


# --- save-time paths -------------------------------------------------------------------


def test_given_an_expression_when_parsed_then_paths_and_optional_paths_are_listed() -> None:
    # Given paths used plainly, only inside exists(), and both
    expression = parse(
        "exists(trigger.body.phone) and trigger.body.phone != '' "
        "or exists(vars.flag) or steps.fetch.output.items[0] in [vars.allowed, 1]"
    )
    # Then every path is listed once in order, and optional ones are only in exists()
    assert expression.paths == [
        ("trigger", "body", "phone"),
        ("vars", "flag"),
        ("steps", "fetch", "output", "items", 0),
        ("vars", "allowed"),
    ]
    assert expression.optional_paths == [("vars", "flag")]
    assert expression.source.startswith("exists(")


def test_given_the_same_source_when_parsed_twice_then_the_parse_is_reused() -> None:
    assert parse("vars.a == 1") is parse("vars.a == 1")
    assert parse("vars.a == 1").evaluate({"vars": {"a": 1.0}}) is True
    assert parse("vars.a == 1").evaluate({"vars": {"a": 2}}) is False


@pytest.mark.parametrize(
    "source",
    ["trigger.body.n == " + "9" * 5000, "trigger.body.items[" + "9" * 5000 + "] == 1", "trigger.body.n < 1e999"],
)
def test_given_a_huge_number_or_index_when_parsed_then_it_is_a_syntax_error(source: str) -> None:
    # Given an expression with a literal or index beyond the limits, Then parsing refuses it cleanly
    with pytest.raises(ExpressionSyntaxError, match=r"too (long|large)|out of range"):
        parse(source)
