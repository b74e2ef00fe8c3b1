"""The benchmark's arithmetic and its results file (no timing is asserted: the figures are printed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import cold_start, report, results
from devstack.template import ROOT, resources_of_type


def test_a_ratio_is_the_median_over_the_baselines_median() -> None:
    ratio = results.ratio([0.6, 0.3, 0.45], baseline=[0.3, 0.2, 0.5])
    # baseline median 0.3: samples 1.0x, 1.5x, 2.0x
    assert ratio == {"min": 1.0, "median": 1.5, "max": 2.0, "floor": 1.5, "baseline_median_seconds": 0.3}


def test_a_ratio_of_an_even_count_takes_the_middle_pair() -> None:
    assert results.ratio([1.0, 2.0, 3.0, 4.0], baseline=[1.0, 1.0, 2.0, 2.0])["median"] == round(2.5 / 1.5, 2)


def test_a_ratio_needs_a_positive_baseline() -> None:
    with pytest.raises(ValueError):
        results.ratio([1.0], baseline=[0.0])


def test_a_summary_keeps_the_samples() -> None:
    assert results.summary([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0, "samples": [3.0, 1.0, 2.0]}
    with pytest.raises(ValueError):
        results.summary([])


def test_merging_keeps_the_other_benchmarks_figures_and_replaces_its_own() -> None:
    existing = {
        "cost.usd_per_million_runs": {"median": 80},
        "cold_start.ApiFunction.ratio": {"median": 2.5},
        "measured_at": "2026-01-01T00:00:00Z",
    }
    merged = results.merge(
        existing, {"cold_start.ApiFunction.ratio": {"median": 1.4}}, measured_at="2026-11-25T18:00:00Z"
    )
    assert merged["cost.usd_per_million_runs"] == {"median": 80}
    assert merged["cold_start.ApiFunction.ratio"] == {"median": 1.4}
    assert merged["measured_at"] == "2026-11-25T18:00:00Z"
    assert {"cores", "python"} <= set(merged["machine"])
    assert existing["cold_start.ApiFunction.ratio"] == {"median": 2.5}  # the input is not changed


def test_writing_merges_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    results.write({"local.runs_per_second": {"median": 12}}, path)
    results.write({"cold_start.baseline_seconds": {"median": 0.3}}, path)
    written = json.loads(path.read_text())
    assert written["local.runs_per_second"] == {"median": 12}
    assert written["cold_start.baseline_seconds"] == {"median": 0.3}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind


def _sample(total: float, imported: float, error: str | None = None) -> cold_start.Sample:
    return cold_start.Sample(
        import_seconds=imported,
        invoke_seconds=total - imported,
        total_seconds=total,
        ok=error is None,
        modules=700,
        error={"errorType": error, "errorMessage": "x"} if error else None,
        cpu_seconds=total / 2,
    )


def test_the_cold_start_figures_of_a_run() -> None:
    baseline = cold_start.Measured([_sample(0.2, 0.2), _sample(0.4, 0.4), _sample(0.3, 0.3)])
    measured = {
        "ApiFunction": cold_start.Measured([_sample(0.6, 0.3), _sample(0.45, 0.3), _sample(0.3, 0.15)]),
        "SweeperFunction": cold_start.Measured([_sample(0.3, 0.3, "NotFound")]),
    }
    events = {"ApiFunction": "api_webhook.json", "SweeperFunction": "sweeper_tick.json"}
    figures = cold_start.figures(measured, baseline, events, "off")
    api = figures["cold_start.ApiFunction.ratio"]
    assert (api["min"], api["median"], api["max"]) == (1.0, 1.5, 2.0)
    assert api["seconds"]["samples"] == [0.6, 0.45, 0.3] and api["outcome"] == "ok"
    assert api["cpu_ratio"] == 1.5  # the CPU seconds' medians, 0.225 / 0.15
    assert figures["cold_start.ApiFunction.import_seconds"]["median"] == 0.3
    assert figures["cold_start.ApiFunction.import_seconds"]["ratio"] == 1.0
    assert figures["cold_start.SweeperFunction.ratio"]["outcome"] == "raised NotFound"
    assert figures["cold_start.baseline_seconds"]["median"] == 0.3
    assert figures["cold_start.method"]["tracing"] == "off"
    text = cold_start.table(figures)
    assert "ApiFunction" in text and "1.50 (1.00-2.00)" in text


def test_the_report_renders_a_row_per_function() -> None:
    baseline = cold_start.Measured([_sample(0.3, 0.3)])
    measured = {
        "ApiFunction": cold_start.Measured([_sample(0.42, 0.3)]),
        "StreamFunction": cold_start.Measured([_sample(0.6, 0.3)]),
    }
    figures = results.merge(
        {}, cold_start.figures(measured, baseline, dict.fromkeys(measured, "e.json"), "as-deployed")
    )
    figures["cost.transitions"] = {"min": 11, "median": 11, "max": 11}
    markdown = report.render(figures)
    assert "| ApiFunction (`e.json`) | 1.40x (1.40-1.40) | 1.40x |" in markdown and "<= 1.5x: met" in markdown
    assert "| StreamFunction (`e.json`) | 2.00x (2.00-2.00) |" in markdown and "<= 1.5x: not met" in markdown
    assert "| `cost.transitions` | 11 (11-11) |" in markdown


def test_the_table_goes_between_the_readme_markers_only() -> None:
    readme = "# Title\n\n<!-- bench:start -->\nold table\n<!-- bench:end -->\n\nafter\n"
    written = report.into_readme(readme, "| new | table |\n")
    assert written == "# Title\n\n<!-- bench:start -->\n\n| new | table |\n\n<!-- bench:end -->\n\nafter\n"
    assert report.into_readme(written, "| new | table |\n") == written  # idempotent
    with pytest.raises(ValueError):
        report.into_readme("# no markers\n", "| t |")


def test_every_function_of_the_template_has_a_sample_event_to_serve(template) -> None:
    for name in resources_of_type(template, "AWS::Serverless::Function"):
        event_file, steps = cold_start.event_plan(name)
        assert (ROOT / "events" / event_file).exists(), name
        assert all((ROOT / "events" / step).exists() for _, step in steps), name


def test_a_function_the_bench_has_no_plan_for_serves_its_first_sample_event() -> None:
    assert cold_start.snake("ExecutionStatusFunction") == "execution_status"
    assert cold_start.event_plan("SweeperFunction") == ("sweeper_tick.json", [])
    with pytest.raises(LookupError):
        cold_start.event_plan("NoSuchFunction")


def test_the_readme_performance_table_is_the_one_generated_from_the_committed_results() -> None:
    # the README's table is never typed: `make bench` (bench.report --readme) writes it from bench/results.json
    readme = (ROOT / "README.md").read_text()
    assert report.into_readme(readme, report.render(results.load())) == readme
