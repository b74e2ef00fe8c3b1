"""The console's page and assets as the API serves them (the page itself: tests/browser/)."""

from __future__ import annotations

import pytest

from tests.integration.conftest import api_event

pytestmark = pytest.mark.usefixtures("aws_env")  # the API function's environment, as deployed


def get(handler_of, lambda_context, path: str) -> dict:
    # events/api_get_flow.json arrives through the deployed stage (/v1); no key: the page is public
    return handler_of("ApiFunction")(api_event("api_get_flow.json", path=path, key=None), lambda_context)


def test_the_page_loads_its_assets_and_calls_the_api_under_the_stage_it_was_asked_on(
    handler_of, lambda_context
) -> None:
    # When the console is asked for through the stage
    page = get(handler_of, lambda_context, "/console")
    # Then it is HTML whose asset URLs and API base are under that stage
    assert page["statusCode"] == 200
    assert page["multiValueHeaders"]["Content-Type"] == ["text/html; charset=utf-8"]
    body = page["body"]
    assert '<meta name="api-base" content="/v1">' in body
    assert 'src="/v1/console/console.js"' in body and 'href="/v1/console/console.css"' in body
    assert "__BASE__" not in body
    # and only this origin may run scripts or be called, and no other site may frame it
    policy = page["multiValueHeaders"]["Content-Security-Policy"][0]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy


def test_each_asset_is_served_with_its_type_and_nothing_else_is(handler_of, lambda_context) -> None:
    script = get(handler_of, lambda_context, "/console/console.js")
    style = get(handler_of, lambda_context, "/console/console.css")
    assert (script["statusCode"], script["multiValueHeaders"]["Content-Type"]) == (
        200,
        ["text/javascript; charset=utf-8"],
    )
    assert (style["statusCode"], style["multiValueHeaders"]["Content-Type"]) == (200, ["text/css; charset=utf-8"])
    assert "sessionStorage" in script["body"] and "localStorage" not in script["body"]  # the key: this tab only
    for missing in ("/console/index.html", "/console/..%2Fconsole.py", "/console/app.js"):
        answer = get(handler_of, lambda_context, missing)
        assert answer["statusCode"] == 404, missing
        assert '"type": "NotFound"' in answer["body"] or '"type":"NotFound"' in answer["body"]


def test_the_console_is_not_in_the_api_document(handler_of, lambda_context) -> None:
    document = get(handler_of, lambda_context, "/openapi.json")["body"]
    assert "/console" not in document


def test_the_page_names_the_stacks_dashboard_for_the_ops_page_to_link(handler_of, lambda_context, monkeypatch) -> None:
    from automations.settings import get_settings

    url = "https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1#dashboards:name=s-automations"
    monkeypatch.setenv("DASHBOARD_URL", url)
    get_settings.cache_clear()
    try:
        body = get(handler_of, lambda_context, "/console")["body"]
    finally:
        get_settings.cache_clear()
    assert f'<meta name="dashboard-url" content="{url}">' in body
    script = get(handler_of, lambda_context, "/console/console.js")["body"]
    assert "dashboard-link" in script and "meta[name=dashboard-url]" in script
