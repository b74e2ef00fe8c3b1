"""Placeholders: parsing, strict resolution, filters, save-time discovery."""

from __future__ import annotations

import re
from typing import Any

import pytest

from automations.domain.templating import (
    Placeholder,
    TemplateSyntaxError,
    field_placeholders,
    find_placeholders,
    render,
)
from automations.errors import ConfigurationError, MissingVariable


@pytest.fixture
def context() -> dict[str, Any]:
    return {
        "trigger": {
            "body": {
                "name": "  Ada Lovelace ",
                "email": None,
                "count": 3,
                "price": 9.5,
                "vip": True,
                "tags": ["a", "b"],
                "address": {"city": "London", "zip": "N1"},
                "digits": {"0": "zero"},
                "when": "2026-03-01T10:00:00+01:00",
                "day": "2026-02-27",
                "amount": "42",
            },
            "headers": {"X-Request-Id": "r-1"},
        },
        "steps": {"fetch": {"output": {"status": 200, "body": {"items": [{"id": 7}, {"id": 8}]}}}},
        "vars": {"region": "eu"},
    }


# --- raw values and interpolation --------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.body.count }}", 3),
        ("{{trigger.body.price}}", 9.5),
        ("{{ trigger.body.vip }}", True),
        ("{{ trigger.body.email }}", None),
        ("{{ trigger.body.address }}", {"city": "London", "zip": "N1"}),
        ("{{ trigger.body.tags }}", ["a", "b"]),
        ("{{ trigger.headers.X-Request-Id }}", "r-1"),
    ],
)
def test_given_a_string_that_is_one_placeholder_when_rendered_then_the_raw_value_keeps_its_type(
    context: dict[str, Any], template: str, expected: Any
) -> None:
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("name={{ trigger.body.name }}", "name=  Ada Lovelace "),
        ("n={{ trigger.body.count }}", "n=3"),
        ("p={{ trigger.body.price }}", "p=9.5"),
        ("vip={{ trigger.body.vip }}", "vip=true"),
        ("e={{ trigger.body.email }}.", "e=."),
        ("a={{ trigger.body.address }}", 'a={"city":"London","zip":"N1"}'),
        ("t={{ trigger.body.tags }}", 't=["a","b"]'),
        (" {{ trigger.body.count }}", " 3"),  # surrounding text, even a space, means text
        ("{{ trigger.body.count }}{{ trigger.body.count }}", "33"),
        ("a }} b { c", "a }} b { c"),  # stray braces are plain text
        ("no placeholders", "no placeholders"),
        ("", ""),
    ],
)
def test_given_text_around_placeholders_when_rendered_then_values_are_interpolated(
    context: dict[str, Any], template: str, expected: str
) -> None:
    assert render(template, context) == expected


def test_given_nested_structures_when_rendered_then_values_render_and_keys_do_not(
    context: dict[str, Any],
) -> None:
    # Given a parameter object with nested dicts, lists and non-string JSON values
    params = {
        "url": "https://api.example.com/{{ vars.region }}/users",
        "{{ vars.region }}": "{{ trigger.body.count }}",
        "body": {"items": ["{{ trigger.body.address }}", 1, None, False], "n": 2.5},
    }
    # When rendered
    result = render(params, context)
    # Then every string value is rendered, keys and other JSON values are untouched
    assert result == {
        "url": "https://api.example.com/eu/users",
        "{{ vars.region }}": 3,
        "body": {"items": [{"city": "London", "zip": "N1"}, 1, None, False], "n": 2.5},
    }


def test_given_resolved_data_that_looks_like_a_placeholder_when_rendered_then_it_stays_text() -> None:
    # Given trigger data that contains placeholder syntax (e.g. sent by an outside caller)
    context = {"trigger": {"body": {"note": "{{ vars.secret }}"}}, "vars": {"secret": "s3cr3t"}}
    # When it is rendered, alone or inside text
    # Then it is returned as data, never rendered a second time
    assert render("{{ trigger.body.note }}", context) == "{{ vars.secret }}"
    assert render("note: {{ trigger.body.note }}", context) == "note: {{ vars.secret }}"


@pytest.mark.parametrize(
    "template",
    [
        "{{ steps.fetch.output.body.items[1].id }}",
        "{{ steps.fetch.output.body.items.1.id }}",
        "{{ steps.fetch.output.body.items[ 1 ].id }}",
    ],
)
def test_given_both_index_syntaxes_when_rendered_then_list_items_resolve(
    context: dict[str, Any], template: str
) -> None:
    assert render(template, context) == 8


def test_given_a_numeric_segment_on_an_object_when_rendered_then_it_reads_the_string_key(
    context: dict[str, Any],
) -> None:
    assert render("{{ trigger.body.digits.0 }}", context) == "zero"


# --- strict resolution and default -------------------------------------------------


@pytest.mark.parametrize(
    ("template", "path"),
    [
        ("{{ trigger.body.missing }}", "trigger.body.missing"),
        ("x {{ trigger.body.address.country }}", "trigger.body.address.country"),
        ("{{ steps.fetch.output.body.items.5.id }}", "steps.fetch.output.body.items[5].id"),
        ("{{ trigger.body.name.first }}", "trigger.body.name.first"),  # into a string
        ("{{ trigger.body.tags.first }}", "trigger.body.tags.first"),  # name on a list
        ("{{ steps.later.output }}", "steps.later.output"),
        ("{{ trigger.__class__ }}", "trigger.__class__"),  # attributes are never read
        ("{{ trigger.body.name.__len__ }}", "trigger.body.name.__len__"),
    ],
)
def test_given_a_path_that_does_not_exist_when_rendered_then_missing_variable_names_the_path(
    context: dict[str, Any], template: str, path: str
) -> None:
    with pytest.raises(MissingVariable) as caught:
        render(template, context)
    assert caught.value.path == path
    assert path in str(caught.value)


def test_given_a_missing_path_deep_in_a_structure_when_rendered_then_it_raises(
    context: dict[str, Any],
) -> None:
    with pytest.raises(MissingVariable, match=r"vars\.nope"):
        render({"a": [{"b": "{{ vars.nope }}"}]}, context)


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.body.missing | default('n/a') }}", "n/a"),
        ("{{ trigger.body.email | default('none@example.com') }}", "none@example.com"),
        ("{{ trigger.body.missing | default(0) }}", 0),
        ("{{ trigger.body.missing | default(null) }}", None),
        ("{{ trigger.body.missing | upper | default('N/A') }}", "N/A"),
        ("{{ trigger.body.missing | default('abc') | upper }}", "ABC"),
        ("{{ trigger.body.count | default(99) }}", 3),
        ("{{ trigger.body.vip | default(false) }}", True),
        ('{{ vars.nope | default("a }} b") }}', "a }} b"),
        ("hi {{ trigger.body.email | default('you') }}!", "hi you!"),
    ],
)
def test_given_a_default_filter_when_the_value_is_missing_or_null_then_default_applies(
    context: dict[str, Any], template: str, expected: Any
) -> None:
    assert render(template, context) == expected


def test_given_a_null_value_without_default_when_rendered_then_it_is_not_missing(
    context: dict[str, Any],
) -> None:
    assert render("{{ trigger.body.email }}", context) is None
    assert render("{{ trigger.body.email | upper }}", context) is None  # null passes through


# --- filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{ trigger.body.name | lower }}", "  ada lovelace "),
        ("{{ trigger.body.name | upper }}", "  ADA LOVELACE "),
        ("{{ trigger.body.name | trim }}", "Ada Lovelace"),
        ("{{ trigger.body.name|trim|upper }}", "ADA LOVELACE"),
        ("{{ trigger.body.name | length }}", 15),
        ("{{ trigger.body.tags | length }}", 2),
        ("{{ trigger.body.address | length }}", 2),
        ("{{ trigger.body.address | json }}", '{"city":"London","zip":"N1"}'),
        ("{{ trigger.body.name | trim | json }}", '"Ada Lovelace"'),
        ("{{ trigger.body.email | json }}", "null"),
        ("{{ trigger.body.count | string }}", "3"),
        ("{{ trigger.body.vip | string }}", "true"),
        ("{{ trigger.body.email | string }}", ""),
        ("{{ trigger.body.amount | number }}", 42),
        ("{{ trigger.body.price | number }}", 9.5),
        ("{{ trigger.body.amount | default('1.25') | number }}", 42),
        ("{{ vars.nope | default(' -1.25 ') | number }}", -1.25),
    ],
)
def test_given_a_value_filter_when_rendered_then_it_transforms_the_value(
    context: dict[str, Any], template: str, expected: Any
) -> None:
    assert render(template, context) == expected


@pytest.mark.parametrize(
    ("value", "chain", "expected"),
    [
        ("2026-03-01T09:00:00Z", "add_days(1)", "2026-03-02T09:00:00Z"),
        ("2026-03-01T09:00:00Z", "add_days(-3)", "2026-02-26T09:00:00Z"),
        ("2026-03-01T09:00:00Z", "add_days(0.5)", "2026-03-01T21:00:00Z"),
        ("2026-03-01T10:00:00+01:00", "add_hours(0)", "2026-03-01T09:00:00Z"),
        ("2026-03-01T00:30:00-05:00", "add_hours(-1.5)", "2026-03-01T04:00:00Z"),
        ("2026-03-01T09:00:00Z", "add_minutes(-90)", "2026-03-01T07:30:00Z"),
        ("2026-03-01T09:00:00Z", "add_seconds(0.25)", "2026-03-01T09:00:00.250Z"),
        ("2026-03-01T09:00:00.5Z", "add_seconds(0.5)", "2026-03-01T09:00:01Z"),
        ("2026-02-28", "add_days(1)", "2026-03-01T00:00:00Z"),
        ("2024-02-28", "add_hours(24)", "2024-02-29T00:00:00Z"),
        ("2026-03-01T23:30:00-02:00", "date", "2026-03-02"),
        ("2026-03-01T09:05:00Z", "date('%d/%m/%Y %H:%M')", "01/03/2026 09:05"),
        ("2026-03-01", "add_days(-1) | date('%Y%m%d')", "20260228"),
        ("2026-03-01T09:00:00Z", "date('%a %d %b, 100%%')", "Sun 01 Mar, 100%"),
    ],
)
def test_given_an_iso_timestamp_when_date_filters_apply_then_output_is_utc_with_z(
    value: str, chain: str, expected: str
) -> None:
    assert render("{{ vars.t | " + chain + " }}", {"vars": {"t": value}}) == expected


@pytest.mark.parametrize(
    ("value", "chain"),
    [
        ("banana", "add_days(1)"),
        ("2026-03-01T09:00:00", "add_days(1)"),  # no Z or offset: ambiguous
        (5, "add_hours(1)"),
        ("9999-12-31T00:00:00Z", "add_days(2)"),  # out of range
        ("banana", "date"),
        (3, "lower"),
        (True, "upper"),
        (["x"], "trim"),
        (7, "length"),
        ("abc", "number"),
        (True, "number"),
        ("nan", "number"),
    ],
)
def test_given_a_value_of_the_wrong_type_when_a_filter_applies_then_configuration_error(value: Any, chain: str) -> None:
    name = chain.split("(")[0]
    with pytest.raises(ConfigurationError) as caught:
        render("{{ vars.v | " + chain + " }}", {"vars": {"v": value}})
    assert f"filter '{name}'" in str(caught.value)
    assert "vars.v" in str(caught.value)


# --- syntax errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message", "position"),
    [
        ("Hello {{ trigger.body.name", "unclosed '{{' at position 6", 6),
        ("{{ }}", "empty placeholder at position 0", 0),
        ("{{}}", "empty placeholder at position 0", 0),
        ("{{ user.name }}", "unknown root 'user' at position 3", 3),
        ("{{ __import__('os') }}", "unknown root '__import__' at position 3", 3),
        ("{{ 1 + 1 }}", "expected a path at position 3", 3),
        ("{{ trigger. }}", "expected a name or index after '.' at position 10", 10),
        ("{{ trigger.body[x] }}", "expected '[<number>]' at position 15", 15),
        ("{{ trigger.body[-1] }}", "expected '[<number>]' at position 15", 15),
        ("{{ trigger.body.name() }}", "expected '|' or '}}' at position 20", 20),
        ("{{ trigger.body name }}", "expected '|' or '}}' at position 16", 16),
        ("{{ trigger.body | }}", "expected a filter name at position 18", 18),
        ("{{ trigger.body | shout }}", "unknown filter 'shout' at position 18", 18),
        ("{{ trigger.body | default }}", "filter 'default' takes 1 argument(s), got 0", 18),
        ("{{ trigger.body | default(1, 2) }}", "takes 1 argument(s), got 2", 18),
        ("{{ trigger.body | lower('x') }}", "filter 'lower' takes 0 argument(s), got 1", 18),
        ("{{ trigger.body | date(1, 2) }}", "filter 'date' takes 0 to 1 argument(s)", 18),
        ("{{ trigger.body | add_days('1') }}", "filter 'add_days' needs a number", 18),
        ("{{ trigger.body | add_hours(true) }}", "filter 'add_hours' needs a number", 18),
        ("{{ trigger.body | date('%c') }}", "date format may only use", 18),
        ("{{ trigger.body | default('x) }}", "unterminated string starting at position 26", 26),
        ("{{ trigger.body | default(1 2) }}", "expected ',' or ')' at position 28", 28),
        ("{{ trigger.body | default(os) }}", "expected a literal value at position 26", 26),
    ],
)
def test_given_a_malformed_placeholder_when_found_then_syntax_error_says_what_and_where(
    template: str, message: str, position: int
) -> None:
    with pytest.raises(TemplateSyntaxError, match=re.escape(message)) as caught:
        find_placeholders(template)
    assert caught.value.position == position
    assert isinstance(caught.value, ValueError)


def test_given_a_malformed_placeholder_when_rendered_then_the_same_syntax_error_is_raised() -> None:
    with pytest.raises(TemplateSyntaxError, match="unknown filter 'shout'"):
        render("{{ vars.a | shout }}", {"vars": {"a": 1}})


# --- save-time discovery ------------------------------------------------------------


def test_given_a_template_when_found_then_path_text_and_filters_are_exact() -> None:
    # Given both index syntaxes, filters with arguments and whitespace variations
    template = "{{steps.fetch.output.items[0].id}} and {{ trigger.body.x.2 | default('-') | upper }}"
    # When
    found = find_placeholders(template)
    # Then
    assert found == [
        Placeholder(("steps", "fetch", "output", "items", 0, "id"), "{{steps.fetch.output.items[0].id}}"),
        Placeholder(
            ("trigger", "body", "x", 2),
            "{{ trigger.body.x.2 | default('-') | upper }}",
            ("default", "upper"),
            (("-",), ()),
        ),
    ]
    assert not found[0].has_default
    assert found[1].has_default


def test_given_parameters_when_field_placeholders_then_each_is_located_by_field() -> None:
    params = {
        "url": "https://x/{{ steps.fetch.output.id }}",
        "headers": {"Authorization": "Bearer {{ vars.token }}"},
        "body": {"items": [1, "{{ trigger.body.a }}-{{ trigger.body.b }}"], "flag": True},
        "values": {"total": "{{ steps.sum.output }}"},
        "plain": "no placeholders",
    }
    located = [(where, p.path) for where, p in field_placeholders(params)]
    assert located == [
        ("url", ("steps", "fetch", "output", "id")),
        ("headers.Authorization", ("vars", "token")),
        ("body.items[1]", ("trigger", "body", "a")),
        ("body.items[1]", ("trigger", "body", "b")),
        ("values.total", ("steps", "sum", "output")),
    ]
    assert [p.path for p in find_placeholders(params)] == [path for _, path in located]


def test_given_a_top_level_list_or_string_when_field_placeholders_then_locations_fit() -> None:
    assert [w for w, _ in field_placeholders(["{{ vars.a }}", ["{{ vars.b }}"]])] == [
        "[0]",
        "[1][0]",
    ]
    assert [w for w, _ in field_placeholders("{{ vars.a }}")] == [""]
    assert field_placeholders({"n": 3, "b": None}) == []


def test_given_a_bad_placeholder_in_a_field_when_scanned_then_the_error_names_it() -> None:
    with pytest.raises(TemplateSyntaxError) as caught:
        field_placeholders({"headers": {"Authorization": "Bearer {{ secrets.token }}"}})
    assert caught.value.field == "headers.Authorization"
    assert str(caught.value).startswith("headers.Authorization: unknown root 'secrets'")
    assert caught.value.position == 10


# --- limits on numbers (issue #10: a 5,000-digit index was a 500) -------------------------------


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ trigger.body.items[" + "9" * 5000 + "] }}", "index at position 21 is too large (at most 9 digits)"),
        ("{{ trigger.body.items." + "9" * 5000 + " }}", "index at position 21 is too large"),
        ("{{ trigger.body.at | add_days(" + "9" * 5000 + ") }}", "number at position 30 is too long"),
        ("{{ trigger.body.at | add_days(1e999) }}", "number at position 30 is out of range"),
        ("{{ trigger.body.at | add_days(" + "9" * 30 + ") }}", "filter 'add_days' shifts too far"),
        ("{{ trigger.body.at | add_seconds(1e300) }}", "filter 'add_seconds' shifts too far"),
    ],
)
def test_given_a_huge_index_or_number_when_found_then_it_is_a_syntax_error_not_a_crash(
    template: str, message: str
) -> None:
    # Given a placeholder with an index or number no real template needs, When it is parsed,
    # Then it is refused as a syntax error (a 422 when the flow is saved)
    with pytest.raises(TemplateSyntaxError, match=re.escape(message)):
        find_placeholders(template)


def test_given_indexes_and_numbers_within_the_limits_when_rendered_then_they_work() -> None:
    context = {"trigger": {"body": {"items": ["a", "b"], "at": "2026-01-01T00:00:00Z"}}}
    assert render("{{ trigger.body.items[000000001] }}", context) == "b"
    assert render("{{ trigger.body.at | add_days(36500) }}", context) == "2125-12-08T00:00:00Z"
