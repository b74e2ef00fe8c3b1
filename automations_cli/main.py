"""The ``automations`` command: operators' actions on runs, and what ops watch, over the REST API."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any, TypeVar

import click

from automations_cli import views
from automations_cli.client import DEFAULT_API_URL, ApiClient, segment

RUN_STATUSES = ("scheduled", "running", "completed", "failed", "retrying", "interrupted", "cancelled")

# \b keeps click from re-wrapping the table into one paragraph.
EXIT_CODES = """\b
Exit codes:
  0  success
  1  the API answered an error not listed here (e.g. 422 invalid input)
  2  usage error (bad arguments or options, no API key)
  3  not found (404)
  4  conflict: the run (or key) is in a state that does not allow it (409)
  5  authentication failed (401/403)
  6  cannot reach the API (connection error, timeout) or it answered 5xx
"""

F = TypeVar("F", bound=Callable[..., Any])


def json_option(command: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print the API's JSON answer as is (for scripts).")(
        command
    )


def print_json(answer: Any) -> None:
    click.echo(json.dumps(answer, indent=2, ensure_ascii=False))


def check_url(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    # caught here as a usage error (2), not later as an unreachable API (6)
    if not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


@click.group(epilog=EXIT_CODES, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--api-url",
    envvar="AUTOMATIONS_API_URL",
    default=DEFAULT_API_URL,
    show_default=True,
    show_envvar=True,
    callback=check_url,
    help="The engine's API; the default is the local stack (make local).",
)
@click.option(
    "--api-key",
    envvar="AUTOMATIONS_API_KEY",
    show_envvar=True,
    help="Sent as 'Authorization: Bearer <key>'; make local prints the local one.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds to wait for each answer.",
)
@click.version_option(package_name="automations", prog_name="automations")
@click.pass_context
def cli(ctx: click.Context, api_url: str, api_key: str | None, timeout: float) -> None:
    """Operate the automations engine: list, inspect, re-trigger, cancel and resume runs; watch ops.

    Default output is tables for a terminal (coloured statuses; no colour when stdout is not a
    terminal or NO_COLOR is set). Every command takes --json for the API's answer as is.
    """
    if os.environ.get("NO_COLOR"):  # https://no-color.org: set and not empty
        ctx.color = False  # subcommands' contexts inherit it, and click.echo obeys it
    ctx.obj = ApiClient(api_url, api_key, timeout)


@cli.group()
def runs() -> None:
    """Runs: list, show, re-trigger, cancel, resume."""


@runs.command("list")
@click.option("--flow", "flow_id", metavar="FLOW_ID", help="One flow's runs (else every flow of the account).")
@click.option("--status", type=click.Choice(RUN_STATUSES), help="Only runs in this status.")
@click.option("--from", "since", metavar="ISO", help="Only runs due at or after this time (ISO 8601).")
@click.option("--to", "until", metavar="ISO", help="Only runs due before this time (ISO 8601).")
@click.option("--limit", type=click.IntRange(min=1), help="Runs per page (the API's default when not given).")
@click.option("--cursor", help="Start at this page (a nextCursor from an earlier --json answer).")
@click.option("--all", "all_pages", is_flag=True, help="Follow nextCursor to the last page.")
@json_option
@click.pass_obj
def list_runs(
    client: ApiClient,
    flow_id: str | None,
    status: str | None,
    since: str | None,
    until: str | None,
    limit: int | None,
    cursor: str | None,
    all_pages: bool,
    as_json: bool,
) -> None:
    """Runs, newest first, with where each failed (node, error type, HTTP status)."""
    path = f"/flows/{segment(flow_id)}/runs" if flow_id else "/runs"
    params = {"status": status, "from": since, "to": until, "limit": limit, "cursor": cursor}
    if all_pages:
        # one answer of the same shape, as if the API had sent every page at once
        answer = {"items": [run for page in client.pages(path, params) for run in page["items"]], "nextCursor": None}
    else:
        answer = client.get(path, params)
    if as_json:
        print_json(answer)
        return
    click.echo(views.run_list(answer.get("items") or [], with_flow=not flow_id))
    if answer.get("nextCursor"):
        # stderr: stdout stays the table alone
        click.echo(f"More runs: --all, or --cursor {answer['nextCursor']} for the next page.", err=True)


@runs.command("show")
@click.argument("run_id")
@json_option
@click.pass_obj
def show_run(client: ApiClient, run_id: str, as_json: bool) -> None:
    """A run, its steps in order (attempts, errors, HTTP status) and its executions (console links)."""
    answer = client.get(f"/runs/{segment(run_id)}")
    if as_json:
        print_json(answer)
    else:
        click.echo(views.run_detail(answer))


@runs.command("retrigger")
@click.argument("run_id")
@click.option(
    "--from-step",
    metavar="NODE_ID|failed",
    help="Start the new run at this node (or at the step that failed), carrying earlier steps' outputs; "
    "by default it starts from the beginning.",
)
@json_option
@click.pass_obj
def retrigger_run(client: ApiClient, run_id: str, from_step: str | None, as_json: bool) -> None:
    """A new run of the flow's current version with this run's trigger data, linked to this one."""
    answer = client.post(f"/runs/{segment(run_id)}/retrigger", {"fromStep": from_step} if from_step else {})
    if as_json:
        print_json(answer)
    else:
        click.echo(f"Re-triggered {run_id}: new run {answer.get('runId')}")


@runs.command("cancel")
@click.argument("run_id")
@click.option("--reason", help="Why; kept in the run's history.")
@json_option
@click.pass_obj
def cancel_run(client: ApiClient, run_id: str, reason: str | None, as_json: bool) -> None:
    """Cancel a run that has not ended: a scheduled one never starts, a running one is stopped."""
    answer = client.post(f"/runs/{segment(run_id)}/cancel", {"reason": reason} if reason else {})
    if as_json:
        print_json(answer)
    else:
        click.echo(f"Cancelled {answer.get('runId', run_id)}: {answer.get('status')}")


@runs.command("resume")
@click.argument("run_id")
@json_option
@click.pass_obj
def resume_run(client: ApiClient, run_id: str, as_json: bool) -> None:
    """Continue an interrupted run from its interrupted step, in a new execution (completed steps are kept)."""
    answer = client.post(f"/runs/{segment(run_id)}/resume", {})
    if as_json:
        print_json(answer)
    else:
        click.echo(f"Resumed {answer.get('runId', run_id)}: execution {answer.get('execution')}")


@cli.group()
def ops() -> None:
    """What operators watch: run counts per flow (spikes), overdue runs."""


@ops.command("summary")
@click.option("--window", default="PT1H", show_default=True, help="ISO 8601 duration to count over.")
@json_option
@click.pass_obj
def ops_summary(client: ApiClient, window: str, as_json: bool) -> None:
    """Runs by status per flow in the window, against the window before it; spikes flagged."""
    answer = client.get("/ops/summary", {"window": window})
    if as_json:
        print_json(answer)
    else:
        click.echo(views.ops_summary(answer))


@ops.command("overdue")
@click.option("--flow", "flow_id", metavar="FLOW_ID", help="Only this flow's overdue runs.")
@json_option
@click.pass_obj
def ops_overdue(client: ApiClient, flow_id: str | None, as_json: bool) -> None:
    """Runs still scheduled after their time (the engine is behind): counts per flow, oldest first."""
    answer = client.get("/ops/overdue", {"flowId": flow_id})
    if as_json:
        print_json(answer)
    else:
        click.echo(views.overdue(answer))


@cli.group()
def keys() -> None:
    """The account's API keys: list, create, revoke (rotate: create a new one, then revoke the old)."""


@keys.command("list")
@json_option
@click.pass_obj
def list_keys(client: ApiClient, as_json: bool) -> None:
    """The account's keys, newest first: id, prefix, created, revoked (never the secret)."""
    answer = client.get("/keys")
    if as_json:
        print_json(answer)
    else:
        click.echo(views.key_list(answer.get("items") or []))


@keys.command("create")
@click.option("--name", help="What the key is for (shown in the listing).")
@json_option
@click.pass_obj
def create_key(client: ApiClient, name: str | None, as_json: bool) -> None:
    """A new key for the account; the key itself is printed this once."""
    answer = client.post("/keys", {"name": name} if name else {})
    if as_json:
        print_json(answer)
    else:
        click.echo(views.new_key(answer))


@keys.command("revoke")
@click.argument("key_id")
@json_option
@click.pass_obj
def revoke_key(client: ApiClient, key_id: str, as_json: bool) -> None:
    """Revoke a key: it answers 401 from its next request on. The key you call with can go only
    while another live key exists (exit 4 otherwise)."""
    # key ids look like apikey:<hex>; the colon is a legal path character, kept as is
    answer = client.delete(f"/keys/{segment(key_id, safe=':')}")
    if as_json:
        print_json(answer)
    else:
        click.echo(f"Revoked {answer.get('keyId', key_id)} at {answer.get('revokedAt')}")


@cli.group()
def admin() -> None:
    """Straight on a deployed stack's table with your AWS credentials (no API key needed)."""


@admin.command("create-account")
@click.option(
    "--table",
    "table",
    envvar="AUTOMATIONS_TABLE",
    show_envvar=True,
    metavar="NAME",
    help="The stack's DynamoDB table (its output TableName).",
)
@click.option("--stack", metavar="NAME", help="Read the table name from this CloudFormation stack's TableName output.")
@click.option(
    "--endpoint-url",
    metavar="URL",
    callback=lambda c, p, v: v and check_url(c, p, v),
    help="DynamoDB endpoint (the local stack's moto endpoint: GET /_local/health shows it).",
)
@click.option("--name", default="first key", show_default=True, help="The first key's name.")
@json_option
def create_account(table: str | None, stack: str | None, endpoint_url: str | None, name: str, as_json: bool) -> None:
    """Create an account and its first API key; prints the account id and the key, once."""
    from automations_cli import admin as admin_ops  # boto3 and the engine's code: only for this command

    if bool(table) == bool(stack):
        raise click.UsageError("give the table: --table NAME or --stack NAME (one of them)")
    account_id, answer = admin_ops.create_account(table=table, stack=stack, endpoint_url=endpoint_url, name=name)
    if as_json:
        print_json({"accountId": account_id, **answer})
    else:
        click.echo(views.new_key(answer, account_id))


def main() -> None:
    cli(prog_name="automations")
