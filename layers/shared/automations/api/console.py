"""The web console: one page and its two assets, served by the API itself (same origin, no CDN).

The page (``console/index.html``) is a static single-page app that calls the same API with the
bearer key the user enters (kept in the browser's session storage). Its asset URLs and the API's
base are the request's stage path (``/v1`` on execute-api, none on the local stack), so it works
behind API Gateway as on 127.0.0.1. Nothing here reads data: every figure on the page comes from
the API's own routes, with the account's key.
"""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files

from aws_lambda_powertools.event_handler import Request, Response
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from automations.api.http import base_path
from automations.errors import NotFound
from automations.settings import get_settings

router = APIGatewayRouter()

ASSETS = {"console.js": "text/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"}
BASE_MARK = "__BASE__"
DASHBOARD_MARK = "__DASHBOARD__"
# no framing by other sites; scripts and styles from this origin only; calls to this origin only
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


@cache
def _asset(name: str) -> str:
    return (files("automations.api") / "console" / name).read_text(encoding="utf-8")


@router.get("/console", include_in_schema=False)
def console_page(request: Request) -> Response[str]:
    dashboard = html.escape(get_settings().dashboard_url or "", quote=True)
    page = _asset("index.html").replace(BASE_MARK, base_path(request)).replace(DASHBOARD_MARK, dashboard)
    return Response(200, "text/html; charset=utf-8", page, headers=SECURITY_HEADERS)


@router.get("/console/<asset>", include_in_schema=False)
def console_asset(asset: str) -> Response[str]:
    if asset not in ASSETS:
        raise NotFound(f"the console has no asset '{asset}'")
    return Response(200, ASSETS[asset], _asset(asset), headers=SECURITY_HEADERS)
