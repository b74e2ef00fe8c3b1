"""The web console in a real browser (issue #12, "What it must show"): support staff open a flow,
filter to failed runs, open one and read its failed step's error and HTTP status, re-trigger it and
watch the new run complete; an operator cancels a scheduled run; 300 runs page without errors."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from automations.domain import clock
from tests.browser.conftest import open_console
from tests.support.stack_client import StackClient, wait_for
from tests.support.target import TargetServer

pytestmark = pytest.mark.e2e


def tag() -> str:
    return uuid.uuid4().hex[:8]


def manual_run(stack: StackClient, flow_id: str, at: str | None = None) -> str:
    answer = stack.request("POST", f"/flows/{flow_id}/runs", json={"data": {}, **({"at": at} if at else {})})
    assert answer.status_code == 202, answer.text
    return str(answer.json()["runIds"][0])


def test_support_finds_the_failed_step_and_re_triggers_the_run_once_the_target_is_fixed(
    stack: StackClient, target: TargetServer, page: Any, shots: Path
) -> None:
    # Given a flow whose CRM call succeeded once, then answered 403 to the next run
    t = tag()
    crm = f"/console/crm/{t}"
    target.script(crm, 200, (403, {"error": "token expired"}))
    flow = stack.create_flow(
        [
            {"id": "lookup", "type": "set", "values": {"email": "{{ trigger.body.email }}"}},
            {
                "id": "crm",
                "type": "http_request",
                "method": "POST",
                "url": target.url(crm),
                "body": {"e": "{{ vars.email }}"},
            },
        ],
        name=f"CRM sync {t}",
    )
    assert stack.wait_for_run(stack.trigger(flow, {"email": "ok@example.com"}))["status"] == "completed"
    failed_id = stack.trigger(flow, {"email": "ada@example.com"})
    assert stack.wait_for_run(failed_id)["status"] == "failed"

    # When support staff enter the key and open the flow
    open_console(page, stack)
    row = page.locator(f'tr[data-flow-id="{flow["flowId"]}"]')
    row.wait_for()
    page.screenshot(path=shots / "flows.png", full_page=True)
    row.locator("a.flow-link").click()
    page.locator("table#runs tr[data-run-id]").first.wait_for()
    assert page.locator("table#runs tr[data-run-id]").count() == 2
    # and filter its history to failed runs
    page.select_option("#status-filter", "failed")
    wait_for(lambda: page.locator("table#runs tr[data-run-id]").count() == 1, timeout=15, what="the failed runs only")
    failed_row = page.locator(f'tr[data-run-id="{failed_id}"]')
    assert failed_row.locator("span.status").inner_text().strip() == "failed"
    assert "crm" in failed_row.locator("td.failed-step").inner_text()
    page.screenshot(path=shots / "run-history.png", full_page=True)
    # Then the failed run shows the step's error message and the HTTP response's status
    failed_row.locator("a.run-link").click()
    step = page.locator('li.step[data-node-id="crm"]')
    step.wait_for()
    assert page.locator("#run-status").inner_text().strip() == "failed"
    assert "403" in step.locator("span.error-message").first.inner_text()
    assert step.locator("span.http-status").first.inner_text().strip() == "403"
    assert "ada@example.com" in step.locator("pre.step-input").inner_text()  # the variables it received
    # times in the viewer's zone (Berlin here), UTC on hover
    started = page.locator("time").first
    assert started.get_attribute("title").endswith("Z")
    assert started.inner_text() != started.get_attribute("title")
    page.screenshot(path=shots / "run-detail.png", full_page=True)
    # and the failed-runs view across flows lists it too
    page.click('nav a[href="#/failed"]')
    page.locator(f'table#runs tr[data-run-id="{failed_id}"]').wait_for()
    page.screenshot(path=shots / "failed-runs.png", full_page=True)
    page.go_back()
    step.wait_for()

    # When the target is fixed and they re-trigger the run from the start
    target.script(crm, 200)
    page.click("#retrigger")
    new_run = page.locator("#action-outcome a.new-run")
    new_run.wait_for()
    # Then the new run appears, linked, and completes on its page
    new_run.click()
    wait_for(
        lambda: page.locator("#run-status").inner_text().strip() == "completed",
        timeout=30,
        what="the re-triggered run to complete on its page",
    )
    new_id = page.url.rsplit("/", 1)[-1]
    assert new_id != failed_id
    assert page.locator(f'a.retrigger-of[href="#/runs/{failed_id}"]').count() == 1
    assert stack.run(new_id)["retriggerOf"] == failed_id


def test_an_operator_cancels_a_scheduled_run_from_its_page(stack: StackClient, page: Any) -> None:
    # Given a run due tomorrow
    flow = stack.create_flow([{"id": "remind", "type": "set", "values": {"x": 1}}], name=f"Reminder {tag()}")
    run_id = manual_run(stack, flow["flowId"], clock.iso(stack.clock_now() + timedelta(days=1)))
    # When an operator opens it and presses cancel
    open_console(page, stack, f"#/runs/{run_id}")
    page.locator("#run-status").wait_for()
    assert page.locator("#run-status").inner_text().strip() == "scheduled"
    page.click("#cancel")
    # Then the page says so, and the run is cancelled
    wait_for(lambda: "cancelled" in page.locator("#action-outcome").inner_text(), timeout=15, what="the outcome")
    wait_for(lambda: page.locator("#run-status").inner_text().strip() == "cancelled", timeout=15, what="the status")
    assert stack.run(run_id)["status"] == "cancelled"
    assert page.locator("#cancel").count() == 0 or page.locator("#cancel").is_hidden()


def test_a_run_too_large_to_show_at_once_shows_a_step_it_left_out_whole_on_demand(
    stack: StackClient, page: Any
) -> None:
    # Given a run whose 28 steps each keep a 250 KB webhook field: more than one answer may hold
    big = "".join(f"{n:07d} " for n in range(31_250))  # 250,000 characters, told apart by position
    nodes = [{"id": f"copy{n:02d}", "type": "set", "values": {"big": "{{ trigger.body.big }}"}} for n in range(28)]
    run_id = stack.trigger(stack.create_flow(nodes, name=f"Large values {tag()}"), {"big": big})
    run = stack.wait_for_run(run_id)
    assert run["status"] == "completed" and run["omitted"], run.get("omitted")
    left_out = sorted({run["steps"][int(pointer.split("/")[2])]["nodeId"] for pointer in run["omitted"]})
    # When an operator opens it
    open_console(page, stack, f"#/runs/{run_id}")
    page.locator("li.step").first.wait_for()
    # Then each step it left values out of says so, and the others show their output
    marked = page.locator("li.step:has(p.omitted)")
    assert sorted(marked.evaluate_all("items => items.map(i => i.dataset.nodeId)")) == left_out
    # and when the operator asks for one whole, its output shows in full
    step = page.locator(f'li.step[data-node-id="{left_out[0]}"]')
    step.locator("summary").click()
    step.locator("button.load-step").click()
    wait_for(lambda: step.locator("p.omitted").count() == 0, timeout=15, what="the step read whole")
    assert big[-2_000:] in step.locator("pre.step-output").inner_text()


def test_a_flow_with_300_runs_pages_through_them_all_without_errors(stack: StackClient, page: Any) -> None:
    # Given a flow with 300 runs (due over the next days: none starts meanwhile)
    flow = stack.create_flow([{"id": "note", "type": "set", "values": {"x": 1}}], name=f"Busy {tag()}")
    base = stack.clock_now() + timedelta(days=2)
    expected = {manual_run(stack, flow["flowId"], clock.iso(base + timedelta(minutes=i))) for i in range(300)}
    try:
        page_through_all(stack, page, flow["flowId"], expected)
    finally:
        # the session's stack is shared: deleting the flow cancels its 300 waiting runs, which would
        # otherwise all fall due when a later test moves the clock two days on
        assert stack.request("DELETE", f"/flows/{flow['flowId']}").status_code in (200, 204)


def page_through_all(stack: StackClient, page: Any, flow_id: str, expected: set[str]) -> None:
    # When its history is paged through, 25 a page
    open_console(page, stack, f"#/flows/{flow_id}")
    page.evaluate("window.stillTheSamePage = true")
    seen: list[str] = []
    for number in range(1, 13):
        wait_for(
            lambda n=number: (
                f"Page {n}" in page.locator("#page-info").inner_text()
                and page.locator("table#runs tr[data-run-id]").count() == 25
            ),
            timeout=15,
            what=f"page {number}",
        )
        seen += page.locator("table#runs tr[data-run-id]").evaluate_all("rows => rows.map(r => r.dataset.runId)")
        if number < 12:
            page.click("#next-page")
    # Then every run was listed once, newest first, and the last page has no next one
    assert len(seen) == 300 and set(seen) == expected
    assert page.locator("#next-page").is_disabled()
    assert page.evaluate("window.stillTheSamePage === true")  # no page load on the way
    # and it pages back
    page.click("#prev-page")
    wait_for(lambda: "Page 11" in page.locator("#page-info").inner_text(), timeout=15, what="page 11 again")
    # (the page fixture fails the test on any error in the browser console)


def test_the_ops_page_shows_overdue_failures_per_flow_and_interrupted_runs(
    stack: StackClient, target: TargetServer, page: Any, shots: Path
) -> None:
    # Given a flow with a failed run in the last hour
    t = tag()
    flow = stack.create_flow(
        [{"id": "call", "type": "http_request", "url": target.script(f"/console/ops/{t}", 404)}], name=f"Ops {t}"
    )
    assert stack.wait_for_run(stack.trigger(flow, {}))["status"] == "failed"
    # When the ops page is opened
    open_console(page, stack, "#/ops")
    row = page.locator(f'table#failures-by-flow tr[data-flow-id="{flow["flowId"]}"]')
    row.wait_for()
    # Then the flow is there with its failure, the overdue count is a number, and interrupted runs are listed
    assert "1" in row.inner_text()
    assert page.locator("#overdue-count").inner_text().strip().isdigit()
    page.locator("table#interrupted").wait_for()
    page.screenshot(path=shots / "ops.png", full_page=True)


def test_the_console_reads_at_a_phones_width_and_is_keyboard_reachable(
    stack: StackClient, browser: Any, shots: Path
) -> None:
    # Given a flow, and a phone-sized tab
    flow = stack.create_flow([{"id": "note", "type": "set", "values": {"x": 1}}], name=f"Phone {tag()}")
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        # When the key is typed and sent with the keyboard alone
        page.goto(f"{stack.url}/console")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.id") == "api-key"
        page.keyboard.type(stack.api_key)
        page.keyboard.press("Enter")
        page.locator(f'tr[data-flow-id="{flow["flowId"]}"]').wait_for()
        # Then the page does not scroll sideways (wide tables scroll inside their own box)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=shots / "flows-phone.png", full_page=True)
        # and the keyboard reaches the navigation (back from the page's heading, where focus is)
        reached = set()
        for _ in range(8):
            page.keyboard.press("Shift+Tab")
            reached.add(page.evaluate("document.activeElement.getAttribute('href')"))
        assert {"#/flows", "#/failed", "#/ops"} <= reached
        # and the flow's link, forward; Enter opens it
        for _ in range(60):
            page.keyboard.press("Tab")
            if page.evaluate(f"document.activeElement.closest('tr')?.dataset.flowId === '{flow['flowId']}'"):
                break
        assert page.evaluate("document.activeElement.classList.contains('flow-link')")
        page.keyboard.press("Enter")
        page.locator("table#runs").wait_for()
        assert page.url.endswith(f"#/flows/{flow['flowId']}")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    finally:
        context.close()
    assert errors == []


def test_interrupted_runs_are_resumed_in_bulk_from_the_ops_page(
    stack: StackClient, target: TargetServer, page: Any
) -> None:
    # Given a run cut short by the platform: its Standard execution (it waits in a delay) stopped
    t = tag()
    flow = stack.create_flow(
        [
            {"id": "pause", "type": "delay", "seconds": 3600},
            {"id": "call", "type": "http_request", "url": target.script(f"/console/resumed/{t}", 200)},
        ],
        name=f"Interrupted {t}",
    )
    run_id = stack.trigger(flow, {})
    waiting = wait_for(
        lambda: (r := stack.run(run_id))["steps"] and any(s.get("wakeAt") for s in r["steps"]) and r,
        timeout=30,
        what="the delay to wait on Standard",
    )
    stack.aws("stepfunctions").stop_execution(executionArn=waiting["executions"][-1]["arn"], cause="platform")
    stack.wait_for_run(run_id, ("interrupted",), timeout=15)
    # When an operator selects it on the ops page and resumes the selection
    open_console(page, stack, "#/ops")
    box = page.locator(f'table#interrupted input.select-run[value="{run_id}"]')
    box.wait_for()
    box.check()
    page.click("#resume-selected")
    # Then the page says it was resumed, and the run runs again (waiting in its delay anew)
    wait_for(lambda: "resumed" in page.locator("#action-outcome").inner_text(), timeout=15, what="the outcome")
    assert run_id in page.locator("#action-outcome").inner_text()
    wait_for(lambda: stack.run(run_id)["status"] == "running", timeout=15, what="the run to run again")
    assert [e["name"] for e in stack.run(run_id)["executions"]][-1] == f"{run_id}-r2"
