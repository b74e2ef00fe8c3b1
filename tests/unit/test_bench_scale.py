"""make bench's overdue read and local-load figures: what they count, and the README rows."""

from __future__ import annotations

from bench import local, overdue, report


def test_the_overdue_read_reads_only_the_overdue_runs_whatever_the_table_holds() -> None:
    # Given 600 waiting runs of which 50 are overdue, written as the engine records them
    # When the sweeper's read runs
    found = overdue.measure_size(600)
    # Then it returned the 50 and read nothing else: one query per shard of the sparse index
    assert (found["returned"], found["items_read"], found["read_per_returned"]) == (50, 50, 1.0)
    assert found["queries"] == 8 and 0 < found["read_units_per_returned"] < 1


FIGURES = {
    "overdue.read_per_returned.1000": {
        "min": 1.0,
        "median": 1.0,
        "max": 1.0,
        "returned": 50,
        "items_read": 50,
        "read_units_per_returned": 0.13,
    },
    "overdue.measured_at": "2026-12-06T05:00:00Z",
    "local.concurrency_1": {
        "median": 2.5,
        "runs": 30,
        "p50_seconds": 0.4,
        "p95_seconds": 0.5,
        "http_5xx": 0,
        "refused_4xx": {},
        "connection_errors": 0,
    },
    "local.concurrency_20": {
        "median": 12.0,
        "runs": 200,
        "p50_seconds": 0.7,
        "p95_seconds": 1.1,
        "http_5xx": 0,
        "refused_4xx": {"409": 2},
        "connection_errors": 0,
    },
    "local.scaling": {"median": 4.8},
    "local.measured_at": "2026-12-06T05:00:00Z",
}


def test_the_report_has_a_row_per_overdue_size_and_per_concurrency() -> None:
    rendered = report.render(FIGURES)
    assert "| 1,000 waiting runs | 50 | 50 | 1.0 | 0.13 |" in rendered
    assert "| 30 webhooks, 1 client | 2.5 | 0.4 | 0.5 | 0 | 0 | 0 |" in rendered
    assert "| 200 webhooks, 20 clients | 12.0 | 0.7 | 1.1 | 0 | 2 | 0 |" in rendered
    assert "Runs/s at 20 clients over runs/s at 1: 4.8x" in rendered
    # and neither is listed again among the other figures
    assert "`overdue." not in rendered and "`local." not in rendered


def test_nothing_measured_renders_no_rows() -> None:
    assert overdue.rows({}) == [] and local.rows({}) == []
