"""What each API answer looks like on a terminal. Fields are read with ``.get``: the API may add
fields, and an older engine may lack newer ones; a view shows what is there."""

from __future__ import annotations

from typing import Any

from automations_cli.render import (
    NONE,
    STATUS_ORDER,
    Cell,
    Styled,
    bold,
    duration,
    duration_ms,
    fields,
    heading,
    status,
    table,
    text,
)

Json = dict[str, Any]


def failure(run: Json) -> str:
    """Where a run failed, for one cell: ``notify AuthenticationError HTTP 401``, else its error type."""
    failed = run.get("failedStep")
    if failed:
        http = failed.get("httpStatus")
        return " ".join(
            part
            for part in (failed.get("nodeId"), failed.get("errorType"), f"HTTP {http}" if http is not None else None)
            if part
        )
    error = run.get("error")
    return text(error.get("type")) if error else NONE


def run_list(items: list[Json], *, with_flow: bool) -> str:
    if not items:
        return "No runs."
    headers = ["RUN", *(["FLOW"] if with_flow else []), "STATUS", "TRIGGER", "DUE", "DURATION", "FAILURE"]
    rows: list[list[Cell]] = [
        [
            text(run.get("runId")),
            *([text(run.get("flowId"))] if with_flow else []),
            status(run.get("status"), " (overdue)" if run.get("overdue") else ""),
            text(run.get("triggerKind")),
            text(run.get("scheduledFor")),
            duration(duration_ms(run)),
            failure(run),
        ]
        for run in items
    ]
    return table(headers, rows)


def error_text(error: Json | None) -> str:
    if not error:
        return NONE
    return f"{error.get('type', 'Error')}: {error.get('message', '')}".rstrip(": ")


def last_http_status(step: Json) -> str:
    """The HTTP status the step's last attempt got (http_request and send_email record one)."""
    attempts = step.get("attempts") or []
    response = ((attempts[-1].get("http") or {}).get("response") or {}) if attempts else {}
    return text(response.get("status"))


def run_detail(run: Json) -> str:
    counts = run.get("stepCounts")
    summary = fields(
        [
            ("run", bold(text(run.get("runId")))),
            ("status", status(run.get("status"), " (overdue)" if run.get("overdue") else "")),
            ("flow", f"{text(run.get('flowId'))} v{text(run.get('flowVersion'))}"),
            ("trigger", f"{text(run.get('triggerKind'))} {text(run.get('triggerId'))}"),
            ("created", text(run.get("createdAt"))),
            ("scheduled for", text(run.get("scheduledFor"))),
            ("deadline", text(run.get("deadline"))),
            ("key", text(run.get("correlationKey"))),
            ("started", text(run.get("startedAt"))),
            ("ended", text(run.get("endedAt"))),
            ("duration", duration(duration_ms(run))),
            ("steps", f"{counts.get('completed', 0)} completed, {counts.get('failed', 0)} failed" if counts else NONE),
            ("error", Styled(error_text(run.get("error")), {"fg": "red"})),
            ("failed at", failure(run) if run.get("failedStep") else NONE),
            ("retrigger of", text(run.get("retriggerOf"))),
            ("retriggered by", ", ".join(run.get("retriggeredBy") or []) or NONE),
        ]
    )
    sections = [summary]
    history = run.get("history") or []
    if history:
        rows: list[list[Cell]] = [
            [status(h.get("status")), text(h.get("at")), text(h.get("cause")), text(h.get("by"))] for h in history
        ]
        sections.append(heading("History") + "\n" + table(["STATUS", "AT", "CAUSE", "BY"], rows))
    sections.append(heading("Steps") + "\n" + steps_table(run.get("steps") or []))
    sections.append(heading("Executions") + "\n" + executions_table(run.get("executions") or []))
    return "\n\n".join(sections)


def steps_table(steps: list[Json]) -> str:
    if not steps:
        return "No steps."
    rows: list[list[Cell]] = [
        [
            text(step.get("stepNumber")),
            text(step.get("nodeId")),
            text(step.get("nodeType")),
            status(step.get("status")),
            str(len(step.get("attempts") or [])),
            duration(duration_ms(step)),
            last_http_status(step),
            error_text(step.get("error"))
            if step.get("error") or not step.get("carriedFrom")
            # a re-trigger from a later step reuses earlier steps instead of running them again
            else f"(reused from {step['carriedFrom']})",
        ]
        for step in sorted(steps, key=lambda s: s.get("stepNumber") or 0)
    ]
    return table(["STEP", "NODE", "TYPE", "STATUS", "ATTEMPTS", "DURATION", "HTTP", "ERROR"], rows)


def executions_table(executions: list[Json]) -> str:
    if not executions:
        return "No executions."
    rows: list[list[Cell]] = []
    for execution in executions:
        outcome = text(execution.get("outcome"))
        why = error_text(execution.get("error")) if execution.get("error") else execution.get("reason")
        rows.append(
            [
                text(execution.get("name")),
                text(execution.get("startAt")),
                text(execution.get("startedAt")),
                text(execution.get("endedAt")),
                f"{outcome} ({why})" if why else outcome,
                # the console URL when the API gives one, else the ARN to paste into the console
                text(execution.get("consoleUrl") or execution.get("arn")),
            ]
        )
    return table(["NAME", "START AT", "STARTED", "ENDED", "OUTCOME", "CONSOLE"], rows)


def _statuses_in(rows: list[Json]) -> list[str]:
    seen = {s for row in rows for counts in (row.get("current"), row.get("previous")) for s in (counts or {})}
    return [s for s in STATUS_ORDER if s in seen] + sorted(seen - set(STATUS_ORDER))


def _counts(row: Json, statuses: list[str]) -> list[Cell]:
    current, previous = row.get("current") or {}, row.get("previous") or {}
    cells: list[Cell] = [f"{current.get(s, 0)} ({previous.get(s, 0)})" for s in statuses]
    cells.append(Styled("SPIKE", {"fg": "red", "bold": True}) if row.get("spike") else "")
    return cells


def ops_summary(summary: Json) -> str:
    account = summary.get("account") or {}
    flows = summary.get("flows") or []
    statuses = _statuses_in([account, *flows])
    header = fields(
        [
            ("window", f"{text(summary.get('window'))}: {text(summary.get('from'))} to {text(summary.get('to'))}"),
            ("previous", f"{text(summary.get('previousFrom'))} to {text(summary.get('from'))}"),
            ("spike rule", text(summary.get("rule"))),
            ("spiking flows", text(summary.get("spikingFlows"))),
            (
                "partial",
                "yes: too many runs to read them all, these are the newest" if summary.get("partial") else NONE,
            ),
            ("counts", "this window (previous window)"),
        ]
    )
    headers: list[Cell] = ["FLOW", "NAME", *(status(s) for s in statuses), "SPIKE"]
    rows: list[list[Cell]] = [[bold("all flows"), "", *_counts(account, statuses)]]
    rows += [[text(f.get("flowId")), text(f.get("name")), *_counts(f, statuses)] for f in flows]
    return header + "\n\n" + table(headers, rows)


def overdue(answer: Json) -> str:
    count = answer.get("count") or 0
    if not count:
        return "No overdue runs."
    by_flow = [[text(f.get("flowId")), text(f.get("count")), text(f.get("oldest"))] for f in answer.get("byFlow") or []]
    items = answer.get("items") or []
    rows = [
        [text(r.get("runId")), text(r.get("flowId")), text(r.get("scheduledFor")), text(r.get("deadline"))]
        for r in items
    ]
    parts = [
        Styled(f"{count} overdue run{'s' if count != 1 else ''}", {"fg": "yellow", "bold": True}).render(),
        table(["FLOW", "OVERDUE", "OLDEST"], by_flow),
        heading("Runs, oldest first") + "\n" + table(["RUN", "FLOW", "DUE", "DEADLINE"], rows),
    ]
    if len(items) < count:
        parts.append(f"({len(items)} of {count} shown; --json for the API's answer with its cursor)")
    return "\n\n".join(parts)


def key_list(items: list[Json]) -> str:
    if not items:
        return "No API keys."
    rows: list[list[Cell]] = [
        [
            text(k.get("keyId")),
            text(k.get("prefix")) + "…",
            text(k.get("createdAt")),
            Styled(f"revoked {k['revokedAt']}", {"fg": "red"})
            if k.get("revokedAt")
            else Styled("live", {"fg": "green"}),
            text(k.get("name")),
        ]
        for k in items
    ]
    return table(["KEY", "PREFIX", "CREATED", "STATE", "NAME"], rows)


def new_key(answer: Json, account_id: str | None = None) -> str:
    pairs: list[tuple[str, Cell]] = [
        *([("Account", text(account_id))] if account_id else []),
        ("Key id", text(answer.get("keyId"))),
        ("API key", bold(text(answer.get("apiKey")))),
        ("Created", text(answer.get("createdAt"))),
    ]
    return fields(pairs) + "\n\nThe API key is shown this once: store it now (only its hash is kept)."
