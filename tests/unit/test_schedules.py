"""Schedules: ISO durations, EventBridge Scheduler expressions, time zones and firing times.

Dates used: in 2027 Europe/Berlin springs forward on Sunday 28 March (02:00 CET -> 03:00 CEST,
so 02:00-02:59 does not exist) and falls back on Sunday 31 October (03:00 CEST -> 02:00 CET, so
02:00-02:59 happens twice). CET is UTC+1, CEST UTC+2.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from automations.domain.schedules import (
    ScheduleExpression,
    check_timezone,
    fires_between,
    next_fire,
    parse_duration,
    parse_expression,
)

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(
    expression: str, timezone: str, start: str, end: str, limit: int = 1000, rate_start: datetime | None = None
) -> list[str]:
    """The firings in (start, end] as compact UTC strings, for readable assertions."""
    found = fires_between(parse_expression(expression), timezone, utc(start), utc(end), limit, rate_start=rate_start)
    return [moment.strftime("%Y-%m-%dT%H:%MZ") for moment in found]


# --- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("PT24H", timedelta(hours=24)),
        ("P1D", timedelta(days=1)),
        ("PT15M", timedelta(minutes=15)),
        ("P1DT2H30M", timedelta(days=1, hours=2, minutes=30)),
        ("PT0S", timedelta(0)),
        ("P2W", timedelta(weeks=2)),
        ("PT90S", timedelta(seconds=90)),
        ("PT1.5S", timedelta(seconds=1.5)),
        (" PT1H ", timedelta(hours=1)),
    ],
)
def test_given_an_iso_duration_when_parsed_then_its_length(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("-PT5M", "negative"),
        ("P1Y", "years or months, whose length varies"),
        ("P2M", "years or months, whose length varies"),
        ("PT1.5H", "only seconds may have a fraction"),
        ("P0.5D", "only seconds may have a fraction"),
        ("garbage", "'garbage' is not an ISO 8601 duration"),
        ("P", "not an ISO 8601 duration"),
        ("PT", "not an ISO 8601 duration"),
        ("P1DT", "not an ISO 8601 duration"),
        ("PT5M3H", "not an ISO 8601 duration"),  # out of order
        ("PT1D", "not an ISO 8601 duration"),  # days belong before T
        ("15M", "not an ISO 8601 duration"),
    ],
)
def test_given_a_bad_duration_when_parsed_then_value_error_says_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as raised:
        parse_duration(text)
    assert repr(text) in str(raised.value)


# --- time zones --------------------------------------------------------------------------------


def test_given_an_iana_name_when_checked_then_its_zone() -> None:
    assert check_timezone(BERLIN).key == BERLIN
    assert check_timezone("UTC").key == "UTC"


@pytest.mark.parametrize("name", ["Mars/Olympus", "Europe", "europe/berlin", "../etc/passwd", "/etc/passwd", "CEST"])
def test_given_an_unknown_zone_when_checked_then_value_error_names_it(name: str) -> None:
    with pytest.raises(ValueError, match="unknown time zone") as raised:
        check_timezone(name)
    assert repr(name) in str(raised.value)


def test_given_an_empty_zone_when_checked_then_value_error() -> None:
    with pytest.raises(ValueError, match="time zone is empty"):
        check_timezone("")


def test_given_a_bad_zone_when_computing_a_firing_then_value_error() -> None:
    with pytest.raises(ValueError, match="unknown time zone 'Berlin'"):
        next_fire(parse_expression("cron(0 9 * * ? *)"), "Berlin", utc("2027-01-01T00:00"))


# --- parsing -----------------------------------------------------------------------------------


def test_given_each_kind_when_parsed_then_the_kind_and_what_it_needs() -> None:
    cron = parse_expression("cron(0 9 ? * MON-FRI *)")
    assert cron.kind == "cron" and cron.cron is not None
    assert cron.cron.minutes == (0,) and cron.cron.hours == (9,)
    assert cron.cron.day_rule.kind == "weekdays" and cron.cron.day_rule.values == frozenset({2, 3, 4, 5, 6})
    assert str(cron) == "cron(0 9 ? * MON-FRI *)"

    rate = parse_expression("rate(15 minutes)")
    assert (rate.kind, rate.interval) == ("rate", timedelta(minutes=15))

    at = parse_expression("at(2027-03-28T09:00:00)")
    assert (at.kind, at.at) == ("at", datetime(2027, 3, 28, 9, 0))  # naive: wall clock in the schedule's zone


@pytest.mark.parametrize(
    ("text", "interval"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(1 hour)", timedelta(hours=1)),
        ("rate(12 hours)", timedelta(hours=12)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(7 days)", timedelta(days=7)),
    ],
)
def test_given_rate_expressions_when_parsed_then_the_interval(text: str, interval: timedelta) -> None:
    assert parse_expression(text).interval == interval


@pytest.mark.parametrize(
    ("text", "minutes", "hours", "months"),
    [
        ("cron(0/15 * * * ? *)", (0, 15, 30, 45), tuple(range(24)), tuple(range(1, 13))),
        ("cron(5/20 8-10 * JAN,MAR ? *)", (5, 25, 45), (8, 9, 10), (1, 3)),
        ("cron(*/30 1,13 1 jan-mar ? *)", (0, 30), (1, 13), (1, 2, 3)),  # names in any case
        ("cron(10-20/5 0 1 1-12/6 ? *)", (10, 15, 20), (0,), (1, 7)),
    ],
)
def test_given_lists_ranges_steps_and_names_when_parsed_then_the_values(
    text: str, minutes: tuple[int, ...], hours: tuple[int, ...], months: tuple[int, ...]
) -> None:
    cron = parse_expression(text).cron
    assert cron is not None
    assert (cron.minutes, cron.hours, cron.months) == (minutes, hours, months)


def test_given_day_of_week_numbers_when_parsed_then_1_is_sunday_as_on_aws() -> None:
    by_number = parse_expression("cron(0 9 ? * 1,7 *)").cron
    by_name = parse_expression("cron(0 9 ? * SUN,SAT *)").cron
    assert by_number is not None and by_name is not None
    assert by_number.day_rule == by_name.day_rule


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("cron(0 9 * * *)", r"cron needs 6 fields \(minutes hours day-of-month month day-of-week year\), got 5"),
        ("cron(0 0 9 * * ? *)", "cron needs 6 fields .*, got 7"),  # Quartz's seconds field
        ("cron(0 9 * * MON *)", r"use \? in day-of-month or day-of-week"),
        ("cron(0 9 1 * MON *)", r"use \? in day-of-month or day-of-week"),
        ("cron(0 9 ? * ? *)", r"use \? in only one of day-of-month and day-of-week"),
        ("cron(0 9 * 13 ? *)", "cron month: 13 is out of range; use 1-12 or JAN-DEC"),
        ("cron(60 9 * * ? *)", "cron minutes: 60 is out of range; use 0-59"),
        ("cron(0 24 * * ? *)", "cron hours: 24 is out of range; use 0-23"),
        ("cron(0 9 32 * ? *)", "cron day-of-month: 32 is out of range; use 1-31"),
        ("cron(0 9 ? * 0 *)", "cron day-of-week: 0 is out of range; use 1-7 or SUN-SAT"),
        ("cron(0 9 * * ? 2200)", "cron year: 2200 is out of range; use 1970-2199"),
        ("cron(0 9 * JAN-FOO ? *)", "cron month: 'FOO' is not a value in 1-12 or JAN-DEC"),
        ("cron(x 9 * * ? *)", "cron minutes: 'x' is not a value in 0-59"),
        ("cron(0 ? * * ? *)", r"\? is only for day-of-month or day-of-week"),
        ("cron(0 22-2 * * ? *)", "the range 22-2 runs backwards; write it as two ranges, e.g. 22-23,0-2"),
        ("cron(0 9 ? * MON/2 *)", "/ is not allowed in day-of-week"),
        ("cron(0/0 9 * * ? *)", "the step after / must be a whole number of at least 1"),
        ("cron(1,,2 9 * * ? *)", "empty item in the list"),
        ("cron(0 9 1,L * ? *)", "L and W stand alone"),
        ("cron(0 9 L-3 * ? *)", "L and W stand alone"),
        ("cron(0 9 ? * 3#1,6#3 *)", "L and # stand alone"),
        ("cron(0 9 ? * 6#6 *)", "the number after # must be 1-5"),
        ("cron(0 9 32W * ? *)", "32 is out of range"),
        ("rate(0 minutes)", r"rate\(0 minutes\): the value must be at least 1"),
        ("rate(2 minute)", r"with 2 the unit is plural: rate\(2 minutes\)"),
        ("rate(1 hours)", r"with 1 the unit is singular: rate\(1 hour\)"),
        ("rate(5 weeks)", "the unit must be minutes, hours or days, got 'weeks'"),
        ("rate(-5 minutes)", "the value must be a whole number of at least 1"),
        ("rate(1.5 hours)", "the value must be a whole number of at least 1"),
        ("rate(15)", "needs a value and a unit"),
        ("at(2027-02-30T00:00:00)", "is not a real date and time"),
        ("at(2027-03-28 09:00)", "needs a local date and time as yyyy-mm-ddThh:mm:ss"),
        ("at(2027-03-28T09:00:00Z)", "the time zone is the schedule's"),
        ("garbage", "'garbage' is not a schedule expression: use e.g. cron"),
        ("every day at 9", "is not a schedule expression"),
        ("CRON(0 9 * * ? *)", "is not a schedule expression"),
        ("", "schedule expression is empty"),
    ],
)
def test_given_a_bad_expression_when_parsed_then_value_error_says_what_to_change(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_expression(text)


# --- cron firing times in a time zone ------------------------------------------------------------


def test_given_weekdays_at_nine_in_berlin_when_clocks_spring_forward_then_utc_moves_an_hour_earlier() -> None:
    # Given 09:00 Berlin on weekdays, across the last Sunday of March 2027 (the 28th)
    # When the firings are listed from Wednesday 24 to Wednesday 31 March
    found = fires("cron(0 9 ? * MON-FRI *)", BERLIN, "2027-03-24T00:00", "2027-03-31T23:59")
    # Then 08:00Z in winter (CET), no firing on the weekend, 07:00Z in summer (CEST)
    assert found == [
        "2027-03-24T08:00Z",
        "2027-03-25T08:00Z",
        "2027-03-26T08:00Z",
        "2027-03-29T07:00Z",
        "2027-03-30T07:00Z",
        "2027-03-31T07:00Z",
    ]


def test_given_weekdays_at_nine_when_asked_on_friday_evening_then_next_is_monday() -> None:
    expression = parse_expression("cron(0 9 ? * MON-FRI *)")
    assert next_fire(expression, BERLIN, utc("2027-01-08T18:00")) == utc("2027-01-11T08:00")


def test_given_a_firing_time_when_asked_at_exactly_that_moment_then_the_next_one() -> None:
    expression = parse_expression("cron(0 9 * * ? *)")
    assert next_fire(expression, BERLIN, utc("2027-01-08T08:00")) == utc("2027-01-09T08:00")
    assert next_fire(expression, BERLIN, utc("2027-01-08T07:59:59.999")) == utc("2027-01-08T08:00")


def test_given_a_daily_0230_in_berlin_when_clocks_spring_forward_then_that_day_is_skipped() -> None:
    # Given 02:30 every day; on 28 March 2027 the clock jumps from 02:00 to 03:00
    found = fires("cron(30 2 * * ? *)", BERLIN, "2027-03-26T00:00", "2027-03-30T00:00")
    # Then no firing on the 28th (02:30 does not exist), and the hour moves from 01:30Z to 00:30Z
    assert found == ["2027-03-26T01:30Z", "2027-03-27T01:30Z", "2027-03-29T00:30Z"]


def test_given_a_daily_0230_in_berlin_when_clocks_fall_back_then_it_fires_once_at_the_first_0230() -> None:
    # Given 02:30 every day; on 31 October 2027 02:30 happens at 00:30Z (CEST) and at 01:30Z (CET)
    found = fires("cron(30 2 * * ? *)", BERLIN, "2027-10-30T00:00", "2027-11-01T23:59")
    # Then one firing on the 31st, at the first occurrence
    assert found == ["2027-10-30T00:30Z", "2027-10-31T00:30Z", "2027-11-01T01:30Z"]


def test_given_a_time_in_the_repeated_hour_when_asked_during_its_second_occurrence_then_not_again() -> None:
    # Given 02:45 daily, and "now" is 02:10 CET (01:10Z), the repeated 02:xx after the fall-back
    expression = parse_expression("cron(45 2 * * ? *)")
    # Then today's 02:45 already fired at 00:45Z (CEST): the next is tomorrow's
    assert next_fire(expression, BERLIN, utc("2027-10-31T01:10")) == utc("2027-11-01T01:45")


def test_given_every_30_minutes_when_clocks_fall_back_then_the_repeated_hour_fires_once() -> None:
    found = fires("cron(0/30 * * * ? *)", BERLIN, "2027-10-30T23:45", "2027-10-31T02:30")
    # 02:00 and 02:30 CEST (00:00Z, 00:30Z) fire; 02:00 and 02:30 CET (01:00Z, 01:30Z) do not
    assert found == ["2027-10-31T00:00Z", "2027-10-31T00:30Z", "2027-10-31T02:00Z", "2027-10-31T02:30Z"]


def test_given_every_30_minutes_when_clocks_spring_forward_then_the_missing_hour_is_skipped() -> None:
    found = fires("cron(0/30 * * * ? *)", BERLIN, "2027-03-28T00:15", "2027-03-28T01:30")
    # 01:30 CET (00:30Z), then 03:00 CEST (01:00Z): 02:00 and 02:30 do not exist
    assert found == ["2027-03-28T00:30Z", "2027-03-28T01:00Z", "2027-03-28T01:30Z"]


def test_given_a_cron_in_new_york_when_evaluated_then_local_time_follows_us_dst() -> None:
    # US clocks change on 14 March 2027 (second Sunday of March), two weeks before Europe's
    found = fires("cron(0 9 ? * MON *)", "America/New_York", "2027-03-01T00:00", "2027-03-16T00:00")
    assert found == ["2027-03-01T14:00Z", "2027-03-08T14:00Z", "2027-03-15T13:00Z"]


def test_given_l_in_day_of_month_when_evaluated_then_the_last_day_of_each_month() -> None:
    found = fires("cron(0 12 L * ? *)", "UTC", "2028-01-01T00:00", "2028-04-30T23:59")
    assert found == ["2028-01-31T12:00Z", "2028-02-29T12:00Z", "2028-03-31T12:00Z", "2028-04-30T12:00Z"]


def test_given_lw_when_evaluated_then_the_last_weekday_of_each_month() -> None:
    # July 2027 ends on a Saturday, October 2027 on a Sunday: both move back to Friday
    found = fires("cron(0 12 LW * ? *)", "UTC", "2027-07-01T00:00", "2027-10-31T23:59")
    assert found == ["2027-07-30T12:00Z", "2027-08-31T12:00Z", "2027-09-30T12:00Z", "2027-10-29T12:00Z"]


def test_given_w_when_the_day_is_a_weekend_then_the_nearest_weekday_in_the_same_month() -> None:
    # 15 May 2027 is a Saturday -> Friday 14th; 15 Aug 2027 a Sunday -> Monday 16th
    assert fires("cron(0 12 15W * ? *)", "UTC", "2027-05-01T00:00", "2027-05-31T00:00") == ["2027-05-14T12:00Z"]
    assert fires("cron(0 12 15W * ? *)", "UTC", "2027-08-01T00:00", "2027-08-31T00:00") == ["2027-08-16T12:00Z"]
    # 1 May 2027 is a Saturday: Friday would be April, so Monday 3rd
    assert fires("cron(0 12 1W * ? *)", "UTC", "2027-05-01T00:00", "2027-05-31T00:00") == ["2027-05-03T12:00Z"]


def test_given_nth_weekday_when_evaluated_then_the_third_friday_of_each_month() -> None:
    found = fires("cron(0 12 ? * 6#3 *)", "UTC", "2027-01-01T00:00", "2027-04-30T23:59")
    assert found == ["2027-01-15T12:00Z", "2027-02-19T12:00Z", "2027-03-19T12:00Z", "2027-04-16T12:00Z"]
    assert fires("cron(0 12 ? * FRI#3 *)", "UTC", "2027-01-01T00:00", "2027-04-30T23:59") == found


def test_given_a_fifth_weekday_when_a_month_has_only_four_then_that_month_is_skipped() -> None:
    # Fifth Monday: in 2027 only March, May, August and November have one (through November)
    found = fires("cron(0 12 ? * 2#5 *)", "UTC", "2027-01-01T00:00", "2027-11-30T23:59")
    assert found == ["2027-03-29T12:00Z", "2027-05-31T12:00Z", "2027-08-30T12:00Z", "2027-11-29T12:00Z"]


def test_given_weekday_l_when_evaluated_then_the_last_such_weekday_of_the_month() -> None:
    found = fires("cron(0 12 ? * 6L *)", "UTC", "2027-01-01T00:00", "2027-04-30T23:59")
    assert found == ["2027-01-29T12:00Z", "2027-02-26T12:00Z", "2027-03-26T12:00Z", "2027-04-30T12:00Z"]


def test_given_l_alone_in_day_of_week_when_evaluated_then_saturdays() -> None:
    found = fires("cron(0 0 ? * L *)", "UTC", "2027-01-01T00:00", "2027-01-16T23:59")
    assert found == ["2027-01-02T00:00Z", "2027-01-09T00:00Z", "2027-01-16T00:00Z"]


def test_given_february_29_when_evaluated_then_leap_years_only() -> None:
    found = fires("cron(0 0 29 2 ? *)", "UTC", "2027-01-01T00:00", "2036-12-31T00:00")
    assert found == ["2028-02-29T00:00Z", "2032-02-29T00:00Z", "2036-02-29T00:00Z"]


def test_given_a_cron_whose_years_are_over_when_asked_then_none() -> None:
    assert next_fire(parse_expression("cron(0 9 * * ? 2020-2025)"), BERLIN, utc("2027-01-01T00:00")) is None
    # and one that can never fire: 30 February
    assert next_fire(parse_expression("cron(0 0 30 2 ? *)"), "UTC", utc("2027-01-01T00:00")) is None


def test_given_a_year_field_when_evaluated_then_only_those_years() -> None:
    found = fires("cron(0 0 1 1 ? 2027/2)", "UTC", "2026-01-01T00:00", "2032-01-01T00:00")
    assert found == ["2027-01-01T00:00Z", "2029-01-01T00:00Z", "2031-01-01T00:00Z"]


def test_given_any_valid_expression_when_next_fire_then_it_answers_well_under_50_ms() -> None:
    # Sparse or never-firing crons walk years and months, not minutes.
    expressions = [
        "cron(0 0 30 2 ? *)",  # never
        "cron(0 0 ? 2 1#5 *)",  # a fifth Sunday in February: 2032
        "cron(59 23 31 12 ? 2199)",
        "cron(* * * * ? *)",
        "cron(0/1 * L * ? *)",
        "rate(1 minute)",
        "at(2199-12-31T23:59:59)",
    ]
    for text in expressions:
        expression = parse_expression(text)
        began = time.perf_counter()
        next_fire(expression, BERLIN, utc("2026-06-01T23:59:30"))
        assert time.perf_counter() - began < 0.05, text


def test_given_a_limit_when_listing_firings_then_at_most_that_many() -> None:
    found = fires_between(
        parse_expression("cron(* * * * ? *)"), "UTC", utc("2027-01-01T00:00"), utc("2027-12-31T00:00")
    )
    assert len(found) == 1000
    assert found[0] == utc("2027-01-01T00:01") and found[-1] == utc("2027-01-01T16:40")
    assert len(fires("cron(* * * * ? *)", "UTC", "2027-01-01T00:00", "2027-12-31T00:00", limit=3)) == 3


def test_given_a_naive_datetime_when_computing_then_value_error() -> None:
    with pytest.raises(ValueError, match="after must be a timezone-aware datetime"):
        next_fire(parse_expression("cron(0 9 * * ? *)"), BERLIN, datetime(2027, 1, 1))  # naive


def test_given_an_aware_non_utc_after_when_computing_then_the_answer_is_utc() -> None:
    after = datetime.fromisoformat("2027-01-08T10:00+01:00")  # 09:00Z
    fire = next_fire(parse_expression("cron(0 9 * * ? *)"), BERLIN, after)
    assert fire == utc("2027-01-09T08:00") and fire.tzinfo is UTC


# --- rate ----------------------------------------------------------------------------------------


def test_given_rate_without_start_when_asked_then_after_plus_the_interval() -> None:
    assert next_fire(parse_expression("rate(15 minutes)"), BERLIN, utc("2027-01-01T10:07")) == utc("2027-01-01T10:22")


def test_given_rate_anchored_at_a_start_when_asked_then_the_next_point_on_its_grid() -> None:
    # Given every 15 minutes from 10:00; When asked at 10:07, at 10:15 exactly, and before the start
    expression = parse_expression("rate(15 minutes)")
    start = utc("2027-01-01T10:00")
    # Then 10:15; 10:30 (strictly after); and the start itself
    assert next_fire(expression, BERLIN, utc("2027-01-01T10:07"), start=start) == utc("2027-01-01T10:15")
    assert next_fire(expression, BERLIN, utc("2027-01-01T10:15"), start=start) == utc("2027-01-01T10:30")
    assert next_fire(expression, BERLIN, utc("2027-01-01T09:00"), start=start) == utc("2027-01-01T10:00")
    found = fires("rate(15 minutes)", BERLIN, "2027-01-01T10:07", "2027-01-01T11:00", rate_start=start)
    assert found == ["2027-01-01T10:15Z", "2027-01-01T10:30Z", "2027-01-01T10:45Z", "2027-01-01T11:00Z"]


def test_given_rate_1_day_when_clocks_change_then_it_stays_24_hours_apart() -> None:
    found = fires("rate(1 day)", BERLIN, "2027-03-27T06:00", "2027-03-29T12:00", rate_start=utc("2027-03-27T07:00"))
    assert found == ["2027-03-27T07:00Z", "2027-03-28T07:00Z", "2027-03-29T07:00Z"]


# --- at ------------------------------------------------------------------------------------------


def test_given_at_in_a_zone_when_asked_before_then_the_wall_clock_time_in_utc() -> None:
    winter = parse_expression("at(2027-01-15T09:00:00)")
    summer = parse_expression("at(2027-07-15T09:00:00)")
    assert next_fire(winter, BERLIN, utc("2027-01-01T00:00")) == utc("2027-01-15T08:00")
    assert next_fire(summer, BERLIN, utc("2027-01-01T00:00")) == utc("2027-07-15T07:00")
    assert next_fire(summer, "America/New_York", utc("2027-01-01T00:00")) == utc("2027-07-15T13:00")


def test_given_at_in_the_past_when_asked_then_none() -> None:
    expression = parse_expression("at(2027-01-15T09:00:00)")
    assert next_fire(expression, BERLIN, utc("2027-01-15T08:00")) is None  # strictly after
    assert next_fire(expression, BERLIN, utc("2027-02-01T00:00")) is None
    assert fires("at(2027-01-15T09:00:00)", BERLIN, "2027-01-01T00:00", "2027-12-31T00:00") == ["2027-01-15T08:00Z"]


def test_given_at_in_a_daylight_saving_change_when_asked_then_it_still_fires_once() -> None:
    # 02:30 on spring-forward day does not exist: it runs at 03:30 CEST (01:30Z), late, not never
    gap = parse_expression("at(2027-03-28T02:30:00)")
    assert next_fire(gap, BERLIN, utc("2027-03-01T00:00")) == utc("2027-03-28T01:30")
    # 02:30 on fall-back day happens twice: the first (CEST)
    twice = parse_expression("at(2027-10-31T02:30:00)")
    assert next_fire(twice, BERLIN, utc("2027-10-01T00:00")) == utc("2027-10-31T00:30")


def test_schedule_expression_is_a_frozen_value() -> None:
    expression = parse_expression("rate(5 minutes)")
    assert expression == parse_expression("rate(5 minutes)")
    assert isinstance(expression, ScheduleExpression)
    with pytest.raises(AttributeError):
        expression.kind = "at"  # type: ignore[misc]
