"""The alarms and the dashboard in template.yaml name only metrics the code emits, as it emits
them (namespace, name, dimensions: observability.METRICS); each escalation signal has its alarm."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from automations.observability import METRICS, METRICS_NAMESPACE, SERVICE, Metric


def alarms(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: spec["Properties"]
        for name, spec in template["Resources"].items()
        if spec["Type"] == "AWS::CloudWatch::Alarm"
    }


def alarm_metrics(alarm: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(namespace, name, dimensions) of each metric an alarm reads."""
    if "MetricName" in alarm:
        yield alarm["Namespace"], alarm["MetricName"], {d["Name"]: d["Value"] for d in alarm.get("Dimensions", [])}
    for query in alarm.get("Metrics", []):
        if "MetricStat" in query:
            metric = query["MetricStat"]["Metric"]
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            yield metric["Namespace"], metric["MetricName"], dimensions


@pytest.fixture(scope="module")
def dashboard(template: dict[str, Any]) -> dict[str, Any]:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return json.loads(re.sub(r"\$\{[^}]+\}", "X", body))  # the substitutions are ARNs and names


def dashboard_metrics(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for widget in dashboard["widgets"]:
        for row in widget.get("properties", {}).get("metrics", []):
            if isinstance(row[0], dict):  # an expression: SEARCH('{Namespace,Dim,...} MetricName="X"', ...)
                found = re.search(r"\{(?P<schema>[^}]+)\} MetricName=\"(?P<name>\w+)\"", row[0]["expression"])
                assert found, row
                namespace, *dimension_names = found["schema"].split(",")
                yield namespace, found["name"], dict.fromkeys(dimension_names, "*")
                continue
            namespace, name, *rest = [part for part in row if not isinstance(part, dict)]
            yield namespace, name, dict(zip(rest[::2], rest[1::2], strict=True))


def assert_emitted(namespace: str, name: str, dimensions: dict[str, Any], where: str) -> None:
    if namespace != METRICS_NAMESPACE:
        return  # an AWS service's own metric
    assert name in {m.value for m in Metric}, f"{where}: the code emits no metric '{name}'"
    spec = METRICS[Metric(name)]
    assert set(dimensions) == {"service", *spec.dimensions}, f"{where}: {name} is emitted with other dimensions"
    assert dimensions["service"] in (SERVICE, "*"), where


def test_every_metric_an_alarm_reads_is_one_the_code_emits_with_its_dimensions(template) -> None:
    found = [(name, metric) for name, alarm in alarms(template).items() for metric in alarm_metrics(alarm)]
    assert found
    for where, metric in found:
        assert_emitted(*metric, where=where)


def test_every_metric_on_the_dashboard_is_one_the_code_emits_with_its_dimensions(dashboard) -> None:
    found = list(dashboard_metrics(dashboard))
    ours = {name for namespace, name, _ in found if namespace == METRICS_NAMESPACE}
    # and the dashboard shows every signal the engine emits
    assert ours == {m.value for m in Metric}
    for metric in found:
        assert_emitted(*metric, where="Dashboard")


def test_each_escalation_signal_has_an_alarm_that_notifies_the_topic(template) -> None:
    every = alarms(template)
    read = {name: {metric[1] for metric in alarm_metrics(alarm)} for name, alarm in every.items()}
    # the handbook's two: failed runs spiking (anomaly band), a growing overdue count (its rise per minute)
    assert "RunsFailed" in read["FailedRunsSpikeAlarm"]
    assert any("ANOMALY_DETECTION_BAND" in q.get("Expression", "") for q in every["FailedRunsSpikeAlarm"]["Metrics"])
    assert "OverdueRuns" in read["OverdueGrowingAlarm"]
    assert any(q.get("Expression") == "DIFF(overdue)" for q in every["OverdueGrowingAlarm"]["Metrics"])
    assert every["OverdueGrowingAlarm"]["DatapointsToAlarm"] == every["OverdueGrowingAlarm"]["EvaluationPeriods"] >= 3
    # the engine's own errors; every dead-letter queue; executions failing for platform reasons
    assert read["EngineErrorsAlarm"] == {"EngineErrors"}
    queues = {
        alarm["Dimensions"][0]["Value"]["Fn::GetAtt"][0]
        for alarm in every.values()
        if alarm.get("MetricName") == "ApproximateNumberOfMessagesVisible"
    }
    assert queues == {name for name, spec in template["Resources"].items() if spec["Type"] == "AWS::SQS::Queue"}
    assert read["PlatformExecutionFailuresAlarm"] == {"ExecutionsFailed", "ExecutionsTimedOut"}
    for name, alarm in every.items():
        assert {"Ref": "AlarmTopic"} in alarm["AlarmActions"], name
        assert "README" in alarm["AlarmDescription"], name  # where the first three checks are


def test_the_dashboard_links_to_the_consoles_filtered_views(dashboard) -> None:
    (text,) = [w for w in dashboard["widgets"] if w["type"] == "text"]
    assert "/console#/failed" in text["properties"]["markdown"] and "/console#/ops" in text["properties"]["markdown"]
    (alarm_widget,) = [w for w in dashboard["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == 7
